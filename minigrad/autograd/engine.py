"""Reverse-mode automatic differentiation: ``backward()`` and ``grad()``.

The engine walks the graph from the outputs to the leaves in reverse topological order
(found with an explicit stack, so deep graphs never hit Python's recursion limit).  Each
node turns the gradient of its output into gradients of its inputs (the chain rule);
gradients arriving at the same tensor along several paths are added; gradients of leaf
tensors are accumulated into ``.grad`` (``backward``) or returned (``grad``).

With ``create_graph=True`` the gradients are tensors and every node's backward runs with
grad mode on, so the backward pass is itself recorded and can be differentiated again.
"""
import numpy as np

from .. import backend
from . import function, grad_mode
from .function import FREED, shape_text

_tracer = None  # set by minigrad.trace() to watch backward step by step


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into the ``.grad`` of every leaf (or of ``inputs`` only).

    ``grad_tensors`` is d(something)/d(tensors); it may be left out for scalars, where it
    is 1.  The graph is freed afterwards unless ``retain_graph`` (default: ``create_graph``).
    """
    tensors = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
    grads = _root_grads(tensors, None if grad_tensors is None else _as_tuple(grad_tensors), create_graph)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run(tensors, grads, create_graph if retain_graph is None else retain_graph, create_graph, inputs, False)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` is untouched).

    ``torch.autograd.grad``: one gradient per input, ``None`` for an input the outputs do not
    depend on (only with ``allow_unused=True``).
    """
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _root_grads(outputs, None if grad_outputs is None else _as_tuple(grad_outputs), create_graph)
    found = run(outputs, grads, create_graph if retain_graph is None else retain_graph, create_graph, inputs, True)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None:
            if materialize_grads:
                g = t.array_module.zeros_like(t.array)
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
        if isinstance(g, np.generic):  # NumPy turns 0-d results into scalars
            g = np.asarray(g)
        result.append(g if g is None or isinstance(g, Tensor) else Tensor._make(g))
    return tuple(result)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_grads(tensors, grads, create_graph):
    """The gradient each output starts with: ones for a scalar, else the one given."""
    if grads is not None and len(grads) != len(tensors):
        raise RuntimeError(f"Mismatch in number of grad_outputs: {len(grads)} given, {len(tensors)} expected")
    result = []
    for i, t in enumerate(tensors):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = None if grads is None else grads[i]
        if g is None:
            if t.array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = t.array_module.ones_like(t.array)
        elif create_graph and isinstance(g, Tensor) and g.shape == t.shape:
            result.append(g if g.dtype == t.dtype else g.to(t.dtype))
            continue
        else:
            array = g.array if isinstance(g, Tensor) else np.asarray(g)
            if array.shape != t.array.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {shape_text(array.shape)} "
                                   f"and output[{i}] has a shape of {shape_text(t.array.shape)}.")
            g = backend.move(array, backend.device_type_of(t.array)).astype(t.dtype, copy=False)
        result.append(Tensor._make(g) if create_graph else g)
    return result


def run(roots, root_grads, retain_graph, create_graph, targets, capture):
    """The backward pass.  ``targets``: the tensors whose gradients are wanted (None: every
    leaf); ``capture``: return them by id (``grad``) instead of accumulating into ``.grad``."""
    found = {}
    handed_out = set()  # arrays that belong to someone (a leaf's .grad, the caller's gradient)
    pending = {}        # node -> the gradient of its output received so far (a list for several outputs)
    wanted_leaves = None if targets is None else {id(t) for t in targets if t.grad_fn is None}
    wanted_outputs = None if targets is None else {(t.grad_fn, t.output_nr): t for t in targets
                                                   if t.grad_fn is not None}

    roots_nodes = []
    for t, g in zip(roots, root_grads):
        handed_out.add(id(g))
        if t.grad_fn is None:
            _to_leaf(t, g, wanted_leaves, capture, found, handed_out, create_graph)
        else:
            _send(pending, t.grad_fn, t.output_nr, g)
            roots_nodes.append(t.grad_fn)
    order = topological_order(roots_nodes)
    needed = None if targets is None else _leading_to(order, wanted_leaves, wanted_outputs)

    watched = _tracer is not None or function.anomaly is not None
    previous_mode, grad_mode.enabled = grad_mode.enabled, create_graph  # recorded only with create_graph
    try:
        for fn in order:
            grad = pending.pop(fn, None)
            if grad is None:
                continue
            if fn.hooks is not None or targets is not None:
                grad = _before_node(fn, grad, wanted_outputs, capture, found, handed_out, create_graph)
                if needed is not None and fn not in needed:
                    continue
            if fn.freed:
                raise RuntimeError(FREED)
            if fn.stamp != function.changes:  # something changed in place since fn was made
                fn.check_versions()
            # (several outputs: pending holds a list of their gradients)
            input_grads = fn.backward(*grad) if type(grad) is list else fn.backward(grad)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            # an op may return a gradient in the broadcast shape: summed back to its input's here
            input_grads = tuple(sum_to_shape(g, t.array.shape) if needed_ and g is not None and g.shape != t.array.shape
                                else g for t, needed_, g in zip(fn.inputs, fn.needs_grad, input_grads))
            if fn.hooks is not None:
                input_grads = _run_node_hooks(fn, input_grads, _outputs(fn, grad))
            if watched:
                if _tracer is not None:
                    _tracer.record(fn, _outputs(fn, grad)[0], input_grads)
                if function.anomaly is not None:
                    function.anomaly.check(fn, input_grads)
            for t, needed_, g in zip(fn.inputs, fn.needs_grad, input_grads):
                if not needed_ or g is None:
                    continue
                node, nr = (t.grad_fn, 0) if t._meta is None else fn.edge(t)
                if node is not None:
                    _send(pending, node, nr, g)
                elif t._meta is None and targets is None:  # a leaf without hooks: straight to .grad
                    _accumulate(t, g, handed_out, create_graph)
                else:
                    _to_leaf(t, g, wanted_leaves, capture, found, handed_out, create_graph)
            if not retain_graph:
                fn.release()
    finally:
        grad_mode.enabled = previous_mode
    return found


def _to_leaf(t, g, wanted_leaves, capture, found, handed_out, create_graph):
    """A leaf's gradient: through its hooks, then into ``.grad`` or, for ``grad()``, ``found``."""
    if t.hooks:
        g = _run_tensor_hooks(t.hooks, g)
    if wanted_leaves is not None and id(t) not in wanted_leaves:
        return
    if capture:  # (in t's dtype, as .grad would be: a float32 leaf used with float64 data)
        g = g if g.dtype == t.array.dtype else g.to(t.dtype) if isinstance(g, Tensor) else g.astype(t.array.dtype)
        found[id(t)] = g if id(t) not in found else found[id(t)] + g
    else:
        _accumulate(t, g, handed_out, create_graph)


def _send(pending, node, nr, g):
    """Add gradient ``g`` to what output ``nr`` of ``node`` has received (never in place: one
    array may be handed to several inputs)."""
    if node.n_outputs == 1:
        previous = pending.get(node)
        pending[node] = g if previous is None else previous + g
        return
    slots = pending.get(node)
    if slots is None:
        slots = pending[node] = [None] * node.n_outputs
    slots[nr] = g if slots[nr] is None else slots[nr] + g


def _outputs(fn, grad):
    """A node's output gradients as a list (``pending`` keeps a single one as it is)."""
    return [grad] if fn.n_outputs == 1 else grad


def _before_node(fn, grad, wanted_outputs, capture, found, handed_out, create_graph):
    """What happens to a node's gradients before its backward: its hooks run (retain_grad's
    last, as in PyTorch), then wanted outputs take their gradients."""
    grads = _outputs(fn, grad)
    if fn.hooks:
        grads = _run_pre_hooks(fn, grads)
        for kind, t in fn.hooks:
            if kind == "retain" and grads[t.output_nr] is not None:
                _accumulate(t, grads[t.output_nr], handed_out, create_graph)
    if wanted_outputs:
        for nr, g in enumerate(grads):
            target = wanted_outputs.get((fn, nr))
            if target is not None and g is not None:
                if capture:
                    found[id(target)] = g
                else:
                    _accumulate(target, g, handed_out, create_graph)
    return grads[0] if fn.n_outputs == 1 else grads


def _leading_to(order, wanted_leaves, wanted_outputs):
    """The nodes whose backward must run for the wanted gradients: those with a wanted
    tensor, or a node that leads to one, among their inputs (as PyTorch, nothing more runs)."""
    ends = {fn for fn, _ in wanted_outputs}
    needed = set()
    for fn in reversed(order):  # inputs' nodes before the nodes that use them
        for t, needed_ in zip(fn.inputs, fn.needs_grad):
            if needed_:
                node = fn.edge(t)[0]
                if node in needed or node in ends or (node is None and id(t) in wanted_leaves):
                    needed.add(fn)
                    break
    return needed


def topological_order(roots):
    """Graph nodes reachable from ``roots``, each before every node it feeds (roots first).

    Iterative depth-first search: a node is finished only after all of its inputs'
    nodes are, and the reversed finishing order is the order backward must follow.
    """
    if not isinstance(roots, (list, tuple)):
        roots = [roots]
    finished, visited = [], set()
    stack = [(root, False) for root in reversed(roots)]
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
            if child is not None and t._meta is not None:  # changed in place since? fn's own edge
                child = fn.edge(t)[0]
            if child is not None and child not in visited:
                stack.append((child, False))
    finished.reverse()
    return finished


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


def _accumulate(t, grad, handed_out, create_graph=False):
    """Add ``grad`` into ``t.grad``.  A gradient array is stored as it is only when nothing
    else holds it: a view (e.g. a read-only broadcast) or an array already given to another
    tensor in this backward pass is copied, so that ``x.grad.zero_()`` touches x alone."""
    # (t._grad: reading .grad of a non-leaf, retained or wanted here, would warn the user)
    if isinstance(grad, Tensor):  # create_graph: .grad is a tensor in the graph, as in PyTorch
        grad = grad if grad.dtype == t.dtype else grad.to(t.dtype)
        t.grad = grad if t._grad is None else t._grad + grad
        return
    if grad.dtype != t.array.dtype:  # e.g. a float32 weight used with float64 data
        grad = grad.astype(t.array.dtype)
    if t._grad is not None:
        grad = t._grad.array + grad
    elif getattr(grad, "base", None) is not None or id(grad) in handed_out:
        grad = grad.copy()
    if isinstance(grad, np.generic):  # NumPy turns 0-d results into scalars
        grad = np.asarray(grad)
    handed_out.add(id(grad))
    if t._grad is None:
        t.grad = Tensor._make(grad)
    else:
        t._grad.array = grad


# --- hooks ------------------------------------------------------------------------------

def _as_tensor(g):
    return g if g is None or isinstance(g, Tensor) else Tensor._make(g)


def _like(original, replacement):
    """A hook's result in the engine's form: an array, or a tensor under create_graph."""
    return replacement if isinstance(original, Tensor) else replacement.array


def _run_tensor_hooks(hooks, g):
    """Tensor hooks, in the order registered: each sees the gradient, may return a new one."""
    for hook in list(hooks):
        result = hook(_as_tensor(g))
        if result is not None:
            g = _like(g, result)
    return g


def _run_pre_hooks(fn, grads):
    grads = list(grads)
    for kind, hook in list(fn.hooks):
        if kind == "tensor":  # Tensor.register_hook on this node's output
            nr, tensor_hook = hook
            if grads[nr] is not None:
                grads[nr] = _run_tensor_hooks((tensor_hook,), grads[nr])
        elif kind == "pre":
            result = hook(tuple(_as_tensor(g) for g in grads))
            if result is not None:
                grads = [None if r is None else _like(g, r) for g, r in zip(grads, result)]
    return grads


def _run_node_hooks(fn, input_grads, grads):
    for kind, hook in list(fn.hooks):
        if kind == "node":
            result = hook(tuple(_as_tensor(g) for g in input_grads), tuple(_as_tensor(g) for g in grads))
            if result is not None:
                input_grads = tuple(None if r is None else _like(g if g is not None else grads[0], r)
                                    for g, r in zip(input_grads, result))
    return input_grads


Tensor = None  # bound by minigrad.tensor
