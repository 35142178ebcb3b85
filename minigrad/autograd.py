"""Reverse-mode automatic differentiation: graph nodes, grad mode and ``backward()``.

Every differentiable operation is a :class:`Function`.  Calling one runs its
``forward`` on plain arrays and, if any input needs a gradient, returns a tensor whose
``grad_fn`` is that Function object.  The Function remembers its inputs, so the tensors
and Functions form a graph that records how the result was computed.

``backward`` walks that graph from the result to the leaves in reverse topological
order (found with an explicit stack, so deep graphs never hit Python's recursion
limit).  Each Function turns the gradient of its output into gradients of its inputs
(the chain rule); gradients arriving at the same tensor along several paths are added;
gradients of leaf tensors are accumulated into ``.grad``.
"""
import functools
import inspect

import numpy as np

from . import backend

_grad_enabled = True
_tracer = None  # set by minigrad.trace() to watch backward step by step
Tensor = None   # bound by minigrad.tensor once the class exists (the two modules need each other)


def is_grad_enabled():
    """True unless inside ``no_grad()`` (or ``set_grad_enabled(False)``)."""
    return _grad_enabled


class _GradMode:
    """Switch graph recording to ``mode`` for a ``with`` block or, as a decorator, for each
    call of a function (each resumption of a generator); nothing changes before then."""

    mode = False

    def __enter__(self):
        global _grad_enabled
        self.previous, _grad_enabled = _grad_enabled, self.mode
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.previous

    def __call__(self, func):
        mode = enable_grad if self.mode else no_grad
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def generator(*args, **kwargs):
                steps = func(*args, **kwargs)
                with mode():
                    value = next(steps)
                while True:
                    sent = yield value
                    try:
                        with mode():
                            value = steps.send(sent)
                    except StopIteration as done:
                        return done.value
            return generator

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with mode():
                return func(*args, **kwargs)
        return wrapper


class _NoArgumentMode(_GradMode):
    """``@no_grad`` works without parentheses too, as in PyTorch."""

    def __new__(cls, func=None):
        self = super().__new__(cls)
        return self if func is None else self(func)


class no_grad(_NoArgumentMode):
    """Operations inside do not record a graph (for evaluation and optimiser updates):
    ``with no_grad():``, ``@no_grad()`` or ``@no_grad``."""

    mode = False


class enable_grad(_NoArgumentMode):
    """Record the graph again inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):
    """Switch graph recording on or off: at once (``set_grad_enabled(False)``), for a block
    (``with set_grad_enabled(False):``) or for a function (as a decorator)."""

    def __init__(self, mode):
        global _grad_enabled
        self.mode = bool(mode)
        self.previous, _grad_enabled = _grad_enabled, self.mode

    def __enter__(self):
        return self  # already switched by the constructor, as in PyTorch

    def __call__(self, func):
        global _grad_enabled
        _grad_enabled = self.previous  # used as a decorator: only the calls are switched
        return super().__call__(func)


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
    needs_grad = ()
    freed = False
    retained = None  # a non-leaf tensor that asked to keep its .grad (retain_grad)

    def __call__(self, *inputs):
        arrays = [t.array if isinstance(t, Tensor) else t for t in inputs]
        out = self.forward(*arrays)
        if isinstance(out, np.generic):  # NumPy turns 0-d results into scalars
            out = np.asarray(out)
        if _grad_enabled:
            needs = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
            if True in needs:
                self.inputs = inputs
                self.needs_grad = needs
                return Tensor._make(out, True, self)
        return Tensor._make(out)

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    # --- introspection for learners -------------------------------------------------
    def name(self):
        """PyTorch-style node name, e.g. ``MulBackward``."""
        return type(self).__name__ + "Backward"

    @property
    def next_functions(self):
        """The nodes that receive this node's input gradients, as ``(node, 0)`` pairs.

        Like PyTorch: an op's node for a computed input, an :class:`AccumulateGrad` for
        a leaf that requires grad, ``None`` for a constant.
        """
        result = []
        for t in self.inputs:
            if not isinstance(t, Tensor) or not t.requires_grad:
                result.append((None, 0))
            elif t.grad_fn is not None:
                result.append((t.grad_fn, 0))
            else:
                result.append((AccumulateGrad(t), 0))
        return tuple(result)

    def release(self):
        """Free what forward saved for backward, keeping the graph's shape (inputs)."""
        kept = {"inputs": self.inputs, "needs_grad": self.needs_grad}
        self.__dict__.clear()
        self.__dict__.update(kept)
        self.freed = True

    def __repr__(self):
        return f"<{self.name()}>"


class AccumulateGrad:
    """The node where a leaf tensor's gradient ends up (PyTorch shows the same name)."""

    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"


def sum_to_shape(grad, shape):
    """Undo broadcasting: sum ``grad`` over the axes that broadcasting created in ``shape``."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        if all(n == 1 for n in grad.shape[:extra]):  # one example (the book's batch): a reshape, not a sum
            grad = grad.reshape(grad.shape[extra:])
        else:
            grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape != shape:
        grad = grad.reshape(shape)
    return grad


def topological_order(root):
    """Graph nodes reachable from ``root``, each before every node it feeds (root first).

    Iterative depth-first search: a node is finished only after all of its inputs'
    nodes are, and the reversed finishing order is the order backward must follow.
    """
    finished, visited = [], set()
    stack = [(root, False)]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            finished.append(fn)
            continue
        if fn in visited:
            continue
        visited.add(fn)
        stack.append((fn, True))
        for t in fn.inputs:
            child = getattr(t, "grad_fn", None)
            if child is not None and child not in visited:
                stack.append((child, False))
    finished.reverse()
    return finished


def backward(tensor, gradient=None, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
    if not tensor.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        grad = tensor.array_module.ones_like(tensor.array)
    else:
        grad = gradient.array if isinstance(gradient, Tensor) else np.asarray(gradient)
        if grad.shape != tensor.array.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {shape_text(grad.shape)} "
                               f"and output[0] has a shape of {shape_text(tensor.array.shape)}.")
        grad = backend.move(grad, backend.device_type_of(tensor.array)).astype(tensor.dtype, copy=False)

    if tensor.grad_fn is None:  # backward() on a leaf: d(x)/d(x) = gradient
        _accumulate(tensor, grad, {id(grad)})
        return

    pending = {tensor.grad_fn: grad}
    handed_out = {id(grad)}  # arrays that belong to someone (.grad of a leaf, the caller's gradient)
    for fn in topological_order(tensor.grad_fn):
        grad = pending.pop(fn, None)
        if grad is None:
            continue
        if fn.retained is not None:
            _accumulate(fn.retained, grad, handed_out)
        if fn.freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or "
                "if you need to access saved tensors after calling backward.")
        input_grads = fn.backward(grad)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        # an op may return a gradient in the broadcast shape: summed back to its input's here
        input_grads = tuple(sum_to_shape(g, t.array.shape) if needed and g is not None and g.shape != t.array.shape
                            else g for t, needed, g in zip(fn.inputs, fn.needs_grad, input_grads))
        if _tracer is not None:
            _tracer.record(fn, grad, input_grads)
        for t, needed, g in zip(fn.inputs, fn.needs_grad, input_grads):
            if not needed or g is None:
                continue
            if t.grad_fn is None:
                _accumulate(t, g, handed_out)
            else:
                previous = pending.get(t.grad_fn)
                # never add in place: one array may be handed to several inputs
                pending[t.grad_fn] = g if previous is None else previous + g
        if not retain_graph:
            fn.release()


def _accumulate(leaf, grad, handed_out):
    """Add ``grad`` into ``leaf.grad``.  A gradient array is stored as it is only when nothing
    else holds it: a view (e.g. a read-only broadcast) or an array already given to another
    tensor in this backward pass is copied, so that ``x.grad.zero_()`` touches x alone."""
    if grad.dtype != leaf.array.dtype:  # e.g. a float32 weight used with float64 data
        grad = grad.astype(leaf.array.dtype)
    if leaf.grad is not None:
        grad = leaf.grad.array + grad
    elif getattr(grad, "base", None) is not None or id(grad) in handed_out:
        grad = grad.copy()
    if isinstance(grad, np.generic):  # NumPy turns 0-d results into scalars
        grad = np.asarray(grad)
    handed_out.add(id(grad))
    if leaf.grad is None:
        leaf.grad = Tensor._make(grad)
    else:
        leaf.grad.array = grad


def shape_text(shape):
    """A shape as PyTorch prints it in errors: [2, 3]."""
    return f"[{', '.join(str(n) for n in shape)}]"
