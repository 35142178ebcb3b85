"""In-place operations (``x += 1``, ``x.mul_(2)``, ``x[i] = v``) with PyTorch's rules.

The new values are written into the tensor's own storage, so every alias (``b = a``) and
every view (``a[1:]``, ``a.view(...)``) sees them, and the version counter they share is
bumped.  Then autograd is told:

- a leaf that requires grad refuses, unless grad mode is off (``with no_grad(): p -= lr * p.grad``
  is how an update is written, and is what optimisers do);
- a tensor in the graph gets the in-place op as its new ``grad_fn`` (PyTorch "rebases" its
  history), whose input is the tensor's previous value;
- a view in the graph changes its base too: the base's new ``grad_fn`` is a ``CopySlices``
  node (the old base with the view's part replaced), and the view is taken again of it;
- a node that saved the tensor before the change will refuse to run backward (see
  ``Function.check_versions``).
"""
from ..dtypes import scalar_name
from . import function, grad_mode

LEAF_IN_PLACE = "a leaf Variable that requires grad is being used in an in-place operation."


def modify(target, op, *args):
    """``op(target, *args)`` (a tensor function), written into ``target``; returns target.
    An ``op`` that has an ``in_place(array, *args)`` (assignments, copies) writes straight into
    the storage when nothing is recorded, instead of computing a whole new tensor first."""
    Tensor = function.Tensor
    recording = grad_mode.enabled and (target.requires_grad or any(
        isinstance(a, Tensor) and a.requires_grad for a in args))
    if recording and target.requires_grad and target.grad_fn is None:
        raise RuntimeError(LEAF_IN_PLACE)
    if not recording:  # (nothing to record: op makes no graph either)
        in_place = getattr(op, "in_place", None)
        if in_place is None:
            _write(target, op(target, *args))
        else:
            _check_writable(target)
            in_place(target.array, *(a.array if isinstance(a, Tensor) else a for a in args))
            target._bump_version()
        return target
    _check_writable(target)  # (before anything is recorded: an expanded view cannot take the values)
    base = target._base
    if base is not None and base.requires_grad and base.grad_fn is None:
        raise RuntimeError("a view of " + LEAF_IN_PLACE)
    if base is not None and (base.requires_grad or target.grad_fn is not None):
        return _modify_view(target, base, op, args)
    previous, stamp = _previous(target), function.changes
    result = op(previous, *(_alias(previous, target) if a is target else a for a in args))
    _write(target, result)
    rebase(target, result.grad_fn, stamp)
    return target


def _previous(t):
    """The tensor's value before the change, in new memory, in t's place in the graph
    (PyTorch keeps the same "original self" for the backward of an in-place op)."""
    previous = function.Tensor._make(t.array.copy(), t.requires_grad, t.grad_fn)
    previous.output_nr = t.output_nr
    return previous


def _alias(previous, target):
    """``a.mul_(a)``: the second ``a`` is the target itself, so a node that saves it sees the
    change and refuses backward, as in PyTorch."""
    alias = function.Tensor._make(previous.array.view(), previous.requires_grad, previous.grad_fn)
    alias._version_counter = target._counter()
    return alias


def _write(target, result):
    """Copy ``result`` into target's storage, with PyTorch's checks, and count the change."""
    if tuple(result.shape) != tuple(target.shape):
        raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the broadcast shape "
                           f"{list(result.shape)}")
    if _KIND_ORDER.index(result.dtype.kind) > _KIND_ORDER.index(target.dtype.kind):
        raise RuntimeError(f"result type {scalar_name(result.dtype)} can't be cast to the desired output type "
                           f"{scalar_name(target.dtype)}")
    _check_writable(target)
    target.array[...] = result.array
    target._bump_version()


def _check_writable(target):
    if getattr(target.array, "flags", None) is not None and not target.array.flags.writeable:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")


_KIND_ORDER = "buifc"


def rebase(t, node, stamp):
    """``node`` becomes t's grad_fn.  The old one goes into t's history, stamped: the nodes
    made before the change (stamp) still send t's gradient there."""
    if t.grad_fn is not None:
        meta = t._autograd_meta()
        meta.history = meta.history + ((stamp, t.grad_fn, meta.output_nr),)
    t.grad_fn, t.requires_grad, t.output_nr = node, node is not None, 0


def _modify_view(view, base, op, args):
    """An in-place op on a view of a tensor in the graph: ``base``'s history gets a
    CopySlices node (old base, view's part replaced by the new values), and the view is
    taken again of the new base (other views of the base are, when next used)."""
    from ..ops.shape import CopySlices
    previous_view, stamp = _previous(view), function.changes
    new_values = op(previous_view, *(_alias(previous_view, view) if a is view else a for a in args))
    new_base = CopySlices(view._meta.view_ops)(_previous(base), new_values)
    _write(view, new_values)  # the view's storage is the base's: both change
    rebase(base, new_base.grad_fn, stamp)
    retake_view(view, stamp)
    return view


def retake_view(view, stamp=None):
    """The view's grad_fn taken again of its base's present history (PyTorch regenerates a
    view's grad_fn the same way when its base has changed)."""
    from ..ops.shape import take_view
    if stamp is None:  # when next used: the nodes made before the base's change keep the old one
        stamp = view._meta.base._meta.history[-1][0]
    rebase(view, take_view(view._meta.view_ops, view._meta.base).grad_fn, stamp)
    view._meta.stamp = function.changes
