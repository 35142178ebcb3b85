"""``Function``: one node of the computation graph, and what it saves for backward.

Every differentiable operation is a :class:`Function`.  Calling one runs its ``forward``
on plain arrays and, if any input needs a gradient, returns a tensor whose ``grad_fn`` is
that Function object.  The Function remembers its inputs, so tensors and Functions form
a graph that records how the result was computed; ``backward`` (see ``engine.py``) walks it.

What ``forward`` keeps for ``backward`` goes through ``save_for_backward``, as in PyTorch:
the node records the *version* of each saved tensor (a counter every in-place operation
bumps), and backward refuses to use a tensor that was changed in place since.

A user's own operation is written the PyTorch way, with static methods and a ``ctx``::

    class Square(minigrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return 2 * x * grad

    y = Square.apply(x)

``apply`` runs it through :class:`CustomFunctionNode`, a Function whose ``forward`` calls
the user's on tensors: the user's class is built on the engine's own node type.
"""
import inspect
import traceback

import numpy as np

from . import grad_mode

Tensor = None   # bound by minigrad.tensor once the class exists (the modules need each other)
anomaly = None  # set by detect_anomaly(): nodes remember where they were created

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
         "have already been freed). Saved intermediate values of the graph are freed when you call "
         ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph "
         "a second time or if you need to access saved tensors after calling backward.")


class VersionCounter:
    """How many times a tensor's storage was changed in place; a tensor and its views share one."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class AutogradMeta:
    """What only some tensors need (PyTorch keeps the same in its AutogradMeta): the base
    tensor of a view and how to take the view again, gradient hooks of a leaf, and which
    output of a multi-output node a tensor is."""

    __slots__ = ("base", "view_ops", "base_version", "hooks", "output_nr")

    def __init__(self):
        self.base, self.view_ops, self.base_version, self.hooks, self.output_nr = None, (), 0, None, 0


class Function:
    """One operation of the computation graph.

    Subclasses implement ``forward(*arrays) -> array`` and ``backward(grad) -> grads``,
    both on raw NumPy/CuPy arrays, side by side in one class.  ``backward`` returns one
    gradient per input (or ``None`` where ``self.needs_grad`` says it is not wanted);
    it may return gradients of a broadcast shape: the engine sums them back to each
    input's shape, in this one place.  Inputs that are not tensors (Python numbers)
    are constants.  A ``Function`` is used once: ``Mul()(a, b)``.
    """

    inputs = ()
    edges = ()             # per input: (its grad_fn, output_nr) when this node was made, or None
    needs_grad = ()        # per input: does it want a gradient? (set before forward runs)
    saved = ()             # what forward kept for backward (save_for_backward)
    saved_versions = ()    # (version counter, version when saved, input index or the output array)
    n_outputs = 1
    freed = False
    retained = None        # a non-leaf output that asked to keep its .grad (retain_grad)
    hooks = None           # gradient hooks registered on the output tensor(s)
    created_at = None      # the forward call's stack, under detect_anomaly()

    def __call__(self, *inputs):
        arrays = [t.array if isinstance(t, Tensor) else t for t in inputs]
        if grad_mode.enabled:
            needs = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
            if True in needs:
                for t in inputs:  # a view whose base changed in the graph: its history again
                    if isinstance(t, Tensor) and t._meta is not None and t._meta.base is not None \
                            and t._meta.base_version != t._version_counter.value:
                        inplace.refresh_view(t)
                self.inputs, self.needs_grad = inputs, needs
                # where each input's gradient goes, fixed now: an in-place op may give the
                # tensor a new grad_fn later, and this node must still reach the old one
                self.edges = tuple((t.grad_fn, t.output_nr) if need else None for t, need in zip(inputs, needs))
                out = self.forward(*arrays)
                result = Tensor._make(np.asarray(out) if isinstance(out, np.generic) else out, True, self)
                if self.saved:
                    self.remember_versions(arrays, out, result)
                if anomaly is not None:
                    self.created_at = traceback.format_stack()[:-2]
                return result
        out = self.forward(*arrays)
        if isinstance(out, np.generic):
            out = np.asarray(out)
        return Tensor._make(out)

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    # --- saved tensors ---------------------------------------------------------------
    def save_for_backward(self, *arrays):
        """Keep inputs or the output (arrays; None for nothing) for backward.  Only a node
        that records the graph keeps them."""
        if self.needs_grad:
            self.saved = arrays

    def wants(self, i):
        """Will input ``i`` get a gradient?  (Ops save only what a wanted gradient reads.)"""
        return bool(self.needs_grad) and self.needs_grad[i]

    @property
    def saved_tensors(self):
        """What forward saved: arrays in a plain backward pass; in a recorded one
        (``create_graph=True``, grad mode on) the tensors themselves, the inputs and this
        node's output in the graph, so that the backward formula is differentiable too."""
        if self.freed:
            raise RuntimeError(FREED)
        if not grad_mode.enabled:
            return self.saved
        return tuple(self.inputs[role] if isinstance(role, int) else
                     Tensor._make(array, True, self) if role is OUTPUT else array
                     for array, role in zip(self.saved, self.saved_roles))

    def remember_versions(self, arrays, out, result):
        """Note what each saved array is (an input, the output) and its version, to be
        checked before backward."""
        versions, roles = [], []
        if any(array is out for array in self.saved):  # (out may be a NumPy scalar, result's array 0-d)
            self.saved = tuple(result.array if array is out else array for array in self.saved)
        for array in self.saved:
            role = None  # nothing, or a constant (a number)
            if array is result.array:
                role = OUTPUT
                versions.append((result._version_counter, 0, array))
            elif array is not None:
                for i, candidate in enumerate(arrays):
                    if array is candidate:
                        if isinstance(self.inputs[i], Tensor):
                            role = i
                            counter = self.inputs[i]._version_counter
                            versions.append((counter, counter.value, i))
                        break
                else:
                    raise TypeError(f"{type(self).__name__}.forward saved an array that is neither an input "
                                    "nor the output; keep other values as attributes")
            roles.append(role)
        self.saved_versions, self.saved_roles = versions, roles

    def check_versions(self):
        """PyTorch's error when a tensor this node saved was changed in place after it was saved."""
        for counter, expected, source in self.saved_versions:
            if counter.value != expected:
                if not isinstance(source, int):  # the output array itself
                    what = f"[{type_name(source)} {shape_text(source.shape)}], which is output 0 of {self.op_name()},"
                else:
                    t = self.inputs[source]
                    what = f"[{t.type()} {shape_text(t.shape)}]"
                    if t.grad_fn is not None:
                        what += f", which is output 0 of {t.grad_fn.op_name()},"
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: {what} is at version {counter.value}; expected version {expected} instead. "
                    "Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
                    "with minigrad.autograd.set_detect_anomaly(True).")

    def release(self):
        """Free what forward saved for backward, keeping the graph's shape (inputs)."""
        kept = {key: self.__dict__[key] for key in ("inputs", "edges", "needs_grad", "n_outputs", "hooks",
                                                    "retained", "created_at", "function") if key in self.__dict__}
        self.__dict__.clear()
        self.__dict__.update(kept)
        self.freed = True

    # --- PyTorch's custom-Function API -----------------------------------------------
    @classmethod
    def apply(cls, *args):
        """Run a user's Function (static ``forward(ctx, ...)`` and ``backward(ctx, ...)``)."""
        if not isinstance(inspect.getattr_static(cls, "forward"), staticmethod):
            raise RuntimeError(f"{cls.__name__}.apply needs forward and backward written as @staticmethod "
                               "with ctx as their first argument (PyTorch's custom Function API)")
        return CustomFunctionNode(cls)(*args)

    # --- introspection for learners -------------------------------------------------
    def name(self):
        """PyTorch-style node name, e.g. ``MulBackward``."""
        return type(self).__name__ + "Backward"

    def op_name(self):
        """The forward operation's name, as PyTorch's errors give it: ``Mul``."""
        return self.name().removesuffix("Backward")

    def register_tensor_hook(self, output_nr, hook):
        """A hook on output ``output_nr`` (``Tensor.register_hook`` of a non-leaf)."""
        return _add_hook(self, ("tensor", (output_nr, hook)))

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` after this node's backward (PyTorch's Node hook)."""
        return _add_hook(self, ("node", hook))

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` before this node's backward; may return replacements."""
        return _add_hook(self, ("pre", hook))

    @property
    def next_functions(self):
        """The nodes that receive this node's input gradients, as ``(node, output_nr)`` pairs.

        Like PyTorch: an op's node for a computed input, an :class:`AccumulateGrad` for
        a leaf that requires grad, ``None`` for a constant.
        """
        result = []
        for t, edge in zip(self.inputs, self.edges):
            if edge is None:
                result.append((None, 0))
            elif edge[0] is not None:
                result.append(edge)
            else:
                result.append((AccumulateGrad(t), 0))
        return tuple(result)

    def __repr__(self):
        return f"<{self.name()}>"


OUTPUT = "output"  # in saved_roles: the node's own output


def run(op, *values):
    """``op`` applied inside a backward formula: on arrays its forward alone (nothing
    recorded), on tensors the op itself (recorded, for ``create_graph=True``)."""
    if any(isinstance(v, Tensor) for v in values):
        return op(*values)
    return op.forward(*values)


def is_tensor(value):
    """True for a tensor: an op's backward is being recorded (``create_graph=True``)."""
    return isinstance(value, Tensor)


class AccumulateGrad:
    """The node where a leaf tensor's gradient ends up (PyTorch shows the same name)."""

    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"


class RemovableHandle:
    """What ``register_hook`` and the module hooks return: ``handle.remove()`` undoes it."""

    def __init__(self, hooks, entry):
        self.hooks, self.entry = hooks, entry

    def remove(self):
        if self.entry in self.hooks:
            self.hooks.remove(self.entry)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add_hook(owner, entry):
    if owner.hooks is None:
        owner.hooks = []
    owner.hooks.append(entry)
    return RemovableHandle(owner.hooks, entry)


class CustomFunctionNode(Function):
    """The graph node of a user's Function; it is also the ``ctx`` their methods receive."""

    def __init__(self, function):
        self.function = function
        self.to_save = ()
        self.non_differentiable = ()
        self.dirty = ()
        self.materialize_grads = True

    # --- the ctx API ---------------------------------------------------------------
    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self.to_save = tensors

    @property
    def saved_tensors(self):
        if self.freed:
            raise RuntimeError(FREED)
        return self.to_save

    @property
    def needs_input_grad(self):
        return self.needs_grad

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def mark_dirty(self, *tensors):
        self.dirty = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    # --- the node -------------------------------------------------------------------
    def __call__(self, *args):
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        self.needs_grad = needs
        with grad_mode.no_grad():
            outputs = self.function.forward(self, *args)
        single = not isinstance(outputs, tuple)
        outputs = (outputs,) if single else outputs
        for i, out in enumerate(outputs):
            if not isinstance(out, Tensor) and out is not None:
                raise TypeError(f"{self.function.__name__}.forward must return tensors (or a tuple of them), "
                                f"but output {i} is a {type(out).__name__}")
        if not (grad_mode.enabled and True in needs):
            self.needs_grad = ()
            return outputs[0] if single else outputs
        self.inputs, self.n_outputs = args, len(outputs)
        self.edges = tuple((a.grad_fn, a.output_nr) if need else None for a, need in zip(args, needs))
        self.output_shapes = [(o.shape, o.dtype, o.array_module) for o in outputs]
        wrapped = []
        for i, out in enumerate(outputs):
            if any(out is t for t in self.non_differentiable):
                wrapped.append(out)
                continue
            if any(out is a for a in args) and not any(out is d for d in self.dirty):
                out = out.detach()  # an input returned unchanged: a new tensor for the new node
            if out.is_leaf and out.requires_grad and any(out is d for d in self.dirty):
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            out.grad_fn, out.requires_grad, out.output_nr = self, True, i
            wrapped.append(out)
        self.saved_versions = [(t._version_counter, t._version_counter.value, None)
                               for t in self.to_save if t is not None]
        if anomaly is not None:
            self.created_at = traceback.format_stack()[:-2]
        return wrapped[0] if single else tuple(wrapped)

    def backward(self, *grads):
        as_arrays = not isinstance(next((g for g in grads if g is not None), None), Tensor)
        grad_tensors = []
        for g, (shape, dtype, xp) in zip(grads, self.output_shapes):
            if g is None and self.materialize_grads:
                g = xp.zeros(shape, dtype=dtype)
            grad_tensors.append(Tensor._make(g) if as_arrays and g is not None else g)
        results = self.function.backward(self, *grad_tensors)
        results = results if isinstance(results, tuple) else (results,)
        if len(results) != len(self.inputs):
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {len(self.inputs)}, got {len(results)})")
        grads_out = []
        for i, (g, x) in enumerate(zip(results, self.inputs)):
            if g is None or not self.needs_grad[i]:
                grads_out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"function {self.name()} returned a gradient of type {type(g).__name__} "
                                f"at index {i}; expected a Tensor or None")
            if g.numel() != x.numel() and not _broadcastable(g.shape, x.shape):
                raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index {i} - got "
                                   f"{list(g.shape)} but expected shape compatible with {list(x.shape)}")
            grads_out.append(g.array if as_arrays else g)
        return tuple(grads_out)

    def check_versions(self):
        for (counter, expected, _), t in zip(self.saved_versions, [t for t in self.to_save if t is not None]):
            if counter.value != expected:
                where = f", which is output 0 of {t.grad_fn.op_name()}," if t.grad_fn is not None else ""
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{t.type()} {shape_text(t.shape)}]{where} is at version {counter.value}; "
                    f"expected version {expected} instead.")

    def name(self):
        return self.function.__name__ + "Backward"

    @property
    def next_functions(self):  # PyTorch lists the tensor arguments only
        return tuple(pair for pair, a in zip(super().next_functions, self.inputs) if isinstance(a, Tensor))


def _broadcastable(shape, target):
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(reversed(shape), reversed(target)))


def shape_text(shape):
    """A shape as PyTorch prints it in errors: [2, 3]."""
    return f"[{', '.join(str(n) for n in shape)}]"


def type_name(array):
    return Tensor._make(array).type()


from . import inplace  # noqa: E402  (it needs Function's module loaded first)
