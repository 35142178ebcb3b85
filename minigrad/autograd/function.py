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
import collections
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


changes = 0  # in-place changes so far, of any tensor: nodes and tensor histories are stamped with it


class VersionCounter:
    """How many times a tensor's storage was changed in place; a tensor and its views share one.

    It also keeps the stamps (the global ``changes``) of its last few changes: a node made at
    stamp s sees that a tensor it saved was changed after it, and by how many versions."""

    __slots__ = ("value", "recent")

    def __init__(self):
        self.value, self.recent = 0, None

    def bump(self):
        global changes
        changes += 1
        self.value += 1
        if self.recent is None:
            self.recent = collections.deque(maxlen=8)
        self.recent.append(changes)

    def changes_since(self, stamp):
        return sum(1 for change in self.recent or () if change > stamp)


# what a node keeps of itself once backward has used it: the graph's shape (inputs,
# needs_grad, stamp), not its values; and these, where set
_KEPT_IF_SET = ("n_outputs", "hooks", "created_at", "function")


class AutogradMeta:
    """What only some tensors need (PyTorch keeps the same in its AutogradMeta): the base
    tensor of a view, how and when (stamp) it was taken, gradient hooks
    of a leaf, which output of a multi-output node a tensor is, and the grad_fns an in-place
    op replaced (``history``: (stamp, grad_fn, output_nr), oldest first), which the nodes made
    before the change still send their gradients to."""

    __slots__ = ("base", "view_ops", "stamp", "hooks", "output_nr", "history")

    def __init__(self):
        self.base, self.view_ops, self.stamp, self.hooks, self.output_nr, self.history = None, (), -1, None, 0, ()


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
    needs_grad = ()        # per input: does it want a gradient? (set before forward runs)
    saved = ()             # what forward kept for backward (save_for_backward)
    stamp = -1             # the global count of in-place changes when this node was made
    output_counter = None  # the version counter of the output, in case forward saved it
    saved_output = None    # and the output itself then
    n_outputs = 1
    freed = False
    hooks = None           # hooks on this node and its outputs, retain_grad's too: (kind, hook)
    created_at = None      # the forward call's stack, under detect_anomaly()

    def __call__(self, *inputs):
        arrays = [t.array if isinstance(t, Tensor) else t for t in inputs]
        if grad_mode.enabled:
            # (a view whose base was changed in place in the graph is brought up to date first)
            needs = tuple([isinstance(t, Tensor) and t.requires_grad and (t._meta is None or _current(t))
                           for t in inputs])
            if True in needs:
                self.inputs, self.needs_grad, self.stamp = inputs, needs, changes
                out = self.forward(*arrays)
                if out.dtype.kind not in "fc":  # only floating-point results have gradients (PyTorch's rule)
                    return Tensor._make(np.asarray(out) if isinstance(out, np.generic) else out)
                result = Tensor._make(np.asarray(out) if isinstance(out, np.generic) else out, True, self)
                for array in self.saved:
                    if array is out:  # forward saved its output: later in-place changes must be seen
                        self.output_counter, self.saved_output = result._counter(), out
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
        if not grad_mode.enabled and not self.freed:
            return self.saved
        if self.freed:
            raise RuntimeError(FREED)
        return tuple(self._as_tensor(array) for array in self.saved)

    def _as_tensor(self, array):
        if array is None or not hasattr(array, "shape"):  # nothing, or a constant (a number)
            return array
        source = self.saved_input(array)
        if source is not None:
            return source
        value = np.asarray(array) if isinstance(array, np.generic) else array
        if array is self.saved_output:
            return Tensor._make(value, True, self)  # the output, in the graph
        return Tensor._make(value)  # a constant (a NumPy number or array the op was given)

    def saved_input(self, array):
        """The input tensor whose array this is (None: the output)."""
        for t in self.inputs:
            if isinstance(t, Tensor) and t.array is array:
                return t
        return None

    def check_versions(self):
        """PyTorch's error when a tensor this node saved was changed in place after it was
        saved.  (The engine asks only when some tensor was changed since the node was made.)"""
        for array in self.saved:
            if array is None or not hasattr(array, "shape"):
                continue
            t = self.saved_input(array)
            if t is None and array is not self.saved_output:  # a constant the op was given
                continue
            counter = self.output_counter if t is None else t._counter()
            stale = 0 if counter is None else counter.changes_since(self.stamp)
            if not stale:
                continue
            if t is None:
                what = f"[{type_name(array)} {shape_text(array.shape)}], which is output 0 of {self.op_name()},"
            else:
                what = _described(t)
            raise RuntimeError(_modified(what, counter.value, counter.value - stale))

    def edge(self, t):
        """Where the gradient of input ``t`` goes: (node, output_nr), (None, 0) for a leaf.  That
        is t's grad_fn when this node was made, even if an in-place op has replaced it since."""
        meta = t._meta
        if meta is None:
            return t.grad_fn, 0
        for stamp, grad_fn, output_nr in meta.history:
            if stamp >= self.stamp:
                return grad_fn, output_nr
        return t.grad_fn, meta.output_nr

    def release(self):
        """Free what forward saved for backward, keeping the graph's shape (inputs)."""
        old = self.__dict__
        kept = {"inputs": old["inputs"], "needs_grad": old["needs_grad"], "stamp": old["stamp"], "freed": True}
        for key in _KEPT_IF_SET:
            if key in old:
                kept[key] = old[key]
        self.__dict__ = kept

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
        return add_hook(self, ("tensor", (output_nr, hook)))

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` after this node's backward (PyTorch's Node hook)."""
        return add_hook(self, ("node", hook))

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` before this node's backward; may return replacements."""
        return add_hook(self, ("pre", hook))

    @property
    def next_functions(self):
        """The nodes that receive this node's input gradients, as ``(node, output_nr)`` pairs.

        Like PyTorch: an op's node for a computed input, an :class:`AccumulateGrad` for
        a leaf that requires grad, ``None`` for a constant.
        """
        result = []
        for t, needed in zip(self.inputs, self.needs_grad):
            node, output_nr = self.edge(t) if needed else (None, 0)
            result.append((node, output_nr) if node is not None or not needed else (AccumulateGrad(t), 0))
        return tuple(result)

    def __repr__(self):
        return f"<{self.name()}>"


def _current(t):
    """True, after giving a stale view its history again: a view in the graph whose base was
    changed in place in the graph since the view was taken is taken again of the base, as
    PyTorch regenerates it (``autograd/inplace.py``)."""
    meta = t._meta
    if meta.base is not None and t.grad_fn is not None and meta.base._meta is not None \
            and meta.base._meta.history and meta.base._meta.history[-1][0] >= meta.stamp:
        inplace.retake_view(t)
    return True


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


def add_hook(owner, entry):
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
        return tuple(self.needs_grad)

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
        for out in self.dirty:  # changed in place by forward: PyTorch counts that once more
            if out.is_leaf and out.requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            out._bump_version()
        self.inputs, self.n_outputs, self.stamp = args, len(outputs), changes
        self.output_shapes = [(o.shape, o.dtype, o.array_module) for o in outputs]
        wrapped = []
        for i, out in enumerate(outputs):
            if any(out is t for t in self.non_differentiable) or out.dtype.kind not in "fc":  # (integers: no gradient)
                wrapped.append(out)
                continue
            if any(out is d for d in self.dirty):  # the input itself now comes from this node
                inplace.rebase(out, self, self.stamp)
            elif any(out is a for a in args):
                out = out.detach()  # an input returned unchanged: a new tensor for the new node
            out.grad_fn, out.requires_grad, out.output_nr = self, True, i
            wrapped.append(out)
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
            if g.shape != x.shape and not _broadcastable(x.shape, g.shape):  # (x's shape expanded: summed back)
                raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index {i} - got "
                                   f"{list(g.shape)} but expected shape compatible with {list(x.shape)}")
            grads_out.append(g.array if as_arrays else g)
        return tuple(grads_out)

    def check_versions(self):
        for t in self.to_save:
            stale = 0 if t is None else t._counter().changes_since(self.stamp)
            if stale:
                raise RuntimeError(_modified(_described(t), t._version, t._version - stale))

    def name(self):
        return self.function.__name__ + "Backward"

    @property
    def next_functions(self):  # PyTorch lists the tensor arguments only
        return tuple(pair for pair, a in zip(super().next_functions, self.inputs) if isinstance(a, Tensor))


def _described(t):
    """A saved tensor as PyTorch's error names it: [torch.FloatTensor [3]], which is output 0 of Mul,"""
    where = f", which is output 0 of {t.grad_fn.op_name()}," if t.grad_fn is not None else ""
    return f"[{t.type()} {shape_text(t.shape)}]{where}"


def _modified(what, version, expected):
    return ("one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"{what} is at version {version}; expected version {expected} instead. Hint: enable anomaly detection "
            "to find the operation that failed to compute its gradient, with "
            "minigrad.autograd.set_detect_anomaly(True).")


def _broadcastable(shape, target):
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(reversed(shape), reversed(target)))


def shape_text(shape):
    """A shape as PyTorch prints it in errors: [2, 3]."""
    return f"[{', '.join(str(n) for n in shape)}]"


def type_name(array):
    return Tensor._make(array).type()


from . import inplace  # noqa: E402  (it needs Function's module loaded first)
