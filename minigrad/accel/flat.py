"""Flat buffers: one optimiser update for all parameters.

An update written per parameter costs one Python call per expression per parameter: Adam's
thirteen NumPy expressions times every weight and bias, or as many CUDA kernel launches.
For small tensors that overhead, not the arithmetic, is the update's cost.  PyTorch's
``foreach`` optimisers hand lists of tensors to one call for this reason, and its ``fused``
ones go further, to one kernel.  NumPy has no call that walks a list of arrays, so minigrad
makes the list one array instead:

    flat parameter buffer  [ weight₁ ........ | bias₁ .. | weight₂ .... | bias₂ ]
    p.array                  view               view       view           view

Each parameter's ``.array`` becomes a view into one contiguous buffer per parameter group,
dtype and device (a *bucket*), and so do its optimiser state (Adam's moments, SGD's
momentum): the update is then the same few expressions, written once, on the whole buffer.
Gradients are gathered into the bucket's gradient buffer with one ``concatenate`` per step:
the engine makes each ``.grad`` as it goes, and making them views into the buffer instead
would need the engine to write into them, and would change under anyone who kept a
``.grad`` from an earlier step.

The tensors stay the truth and the layout is a cache of them, checked before every step:
a parameter whose ``.array`` is no longer its view (``p.data = ...``, ``module.to()``),
state replaced (``load_state_dict``), a changed parameter list, or parameters updated
one by one since (a missing gradient) make the layout rebuilt from the tensors.  What
cannot be flattened is updated one parameter at a time, as before:

- on the CPU, a tensor of ``OWN_UPDATE_BYTES`` or more: for it, copying the gradient into
  the buffer costs more than the calls a shared update saves (one large weight and its
  biases: two updates, the large one as the loop does it); and every tensor whose update
  is one expression already (``Optimizer.update_is_one_expression``: plain SGD, p −= lr·g),
  where a buffer would only add its checks and the gather;
- a tensor whose array is also held elsewhere (a view of it, another tensor sharing it, a
  NumPy array the user kept): moving it into a buffer would silently end that sharing;
- duplicate parameters in a group, unknown state entries;
- in one step, a bucket where some parameters have no gradient or an odd one (another
  dtype or shape): the parameters that have one are updated one by one.

Parameters whose state differs (a step count, whether SGD's momentum has started) go to
different buckets, each updated at once.
"""
import sys
import weakref

import numpy as np

from .. import backend
from ..optim.optimizer import Optimizer
from ..tensor import Tensor
from . import plain, replaces


def holders(x):
    """How many references to ``x`` exist besides the one this call is given (CPython's
    reference count): 1 when only the tensor whose ``.array`` it is holds it."""
    return sys.getrefcount(x) - _CALL_REFERENCES


class _OneHolder:
    __slots__ = ("array",)


_CALL_REFERENCES = 0
_probe = _OneHolder()
_probe.array = np.empty(0)
_CALL_REFERENCES = holders(_probe.array) - 1  # calibrated on an array with one holder
del _probe


# On the CPU a tensor this large keeps an update of its own: copying its gradient into a
# buffer costs more than the dozen NumPy calls that sharing an update saves (on a GPU a copy
# is cheap and a kernel launch is not: everything goes into the buffer there)
OWN_UPDATE_BYTES = 64 * 1024


def _own_update(array, one_expression):
    """Does this parameter keep an update of its own, out of any buffer?  Only on the CPU (on
    a GPU a copy is cheap and a kernel launch is not): where the update is one expression per
    parameter anyway, or the tensor is large."""
    return not backend.is_gpu_array(array) and (one_expression or array.nbytes >= OWN_UPDATE_BYTES)


def _where(array):
    """The device an array lives on, as a key: 'cpu' or the GPU's number."""
    return array.device.id if backend.is_gpu_array(array) else "cpu"


# A new layout may take over the views that other buckets made: those of its own layout
# before, of another optimiser over the same parameters, or of a bucket gone with its
# optimiser (``ORPHANED``: its parameter buffer and views, while parameters still live there)
BUCKETS = weakref.WeakSet()
ORPHANED = []


class Bucket:
    """Parameters of one group with one dtype, device and state layout, back to back in
    ``param``; their gradients are gathered into ``grad``.  Each kind of state (``'exp_avg'``,
    ``'momentum_buffer'``, …) has its own flat buffer in ``state``, with one view per
    parameter in the parameter's state dict; step counts kept as tensors (capturable Adam)
    live in ``steps``, a host step count in ``step``."""

    def __init__(self, members):
        """``members``: (parameter, its state dict) pairs whose tensors may all move here."""
        first = members[0][0].array
        self.xp, dtype = backend.array_module(first), first.dtype
        self.shapes = [p.array.shape for p, _ in members]
        self.sizes = [p.array.size for p, _ in members]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).tolist()
        self.params = [p for p, _ in members]
        self.dicts = [state for _, state in members]
        self.param = self._flatten([p for p, _ in members], dtype)
        self.views = [p.array for p, _ in members]     # the one place, besides p, that holds them
        self.grad = self.xp.empty(self.offsets[-1], dtype)
        self.grad_views = self._views(self.grad)
        self.scratch = None  # a work buffer, made when an update asks for it
        self.state, self.state_views = {}, {}
        self.step, self.steps, self.step_views = None, None, None
        BUCKETS.add(self)
        weakref.finalize(self, ORPHANED.append, (self.param, self.views))
        for key, value in members[0][1].items():
            if key == "step" and isinstance(value, Tensor):
                self.steps = self.xp.empty(len(members), dtype=np.float64)
                for i, (_, state) in enumerate(members):
                    self.steps[i] = state["step"].array
                self.step_views = [self.steps[i:i + 1].reshape(()) for i in range(len(members))]
                for view, (_, state) in zip(self.step_views, members):
                    state["step"].array = view
            elif key == "step":
                self.step = value
            else:
                tensors = [state[key] for _, state in members]
                self.state[key] = self._flatten(tensors, dtype)
                self.state_views[key] = [t.array for t in tensors]

    def _views(self, flat):
        return [flat[start:start + size].reshape(shape)
                for start, size, shape in zip(self.offsets, self.sizes, self.shapes)]

    def _flatten(self, tensors, dtype):
        """One buffer with the tensors' values; each tensor's ``.array`` becomes its view."""
        flat = self.xp.empty(self.offsets[-1], dtype)
        for t, view in zip(tensors, self._views(flat)):
            view[...] = t.array
            t.array = view
        return flat

    # --- checks ---------------------------------------------------------------------------
    def intact(self, optimizer_state):
        """Do the tensors still live in these buffers, with the state this bucket has?"""
        entries = len(self.state_views) + (self.step is not None or self.steps is not None)
        for p, view, state in zip(self.params, self.views, self.dicts):
            if p.array is not view or optimizer_state.get(p) is not state or len(state) != entries:
                return False
        for key, views in self.state_views.items():
            for state, view in zip(self.dicts, views):
                if getattr(state.get(key), "array", None) is not view:
                    return False
        if self.step_views is not None:
            for state, view in zip(self.dicts, self.step_views):
                if getattr(state.get("step"), "array", None) is not view:
                    return False
        elif self.step is not None:
            for state in self.dicts:
                if state.get("step") != self.step:
                    return False
        return True

    def view_ids(self):
        """The views this bucket made, of each buffer that nothing else holds a view of (else
        moving its tensors would end that sharing): they may move to a new layout.  A buffer
        is held by this bucket and by each of its views (the parameters' buffer also by the
        finaliser that orphans it)."""
        ids = set()
        if holders(self.param) == 2 + len(self.views):
            ids |= {id(view) for view in self.views}
        if self.steps is not None and holders(self.steps) == 1 + len(self.step_views):
            ids |= {id(view) for view in self.step_views}
        for key in self.state:
            if holders(self.state[key]) == 1 + len(self.state_views[key]):
                ids |= {id(view) for view in self.state_views[key]}
        return ids

    # --- one step ---------------------------------------------------------------------------
    def gather(self):
        """Copy every gradient into ``grad``: 'ready'; or say why not: 'none' (no parameter
        has a gradient), 'some' (some have), 'odd' (all have one, not all of this bucket's
        dtype, shape and device)."""
        arrays, odd = [], False
        kind, dtype = type(self.grad), self.grad.dtype
        for p, shape in zip(self.params, self.shapes):
            if p.grad is None:
                return "some" if any(q.grad is not None for q in self.params) else "none"
            array = p.grad.array
            odd |= type(array) is not kind or array.shape != shape or array.dtype != dtype
            arrays.append(array)
        if odd:
            return "odd"
        if capturing():  # one copy each: concatenate's table of pointers would not outlive the capture
            for view, array in zip(self.grad_views, arrays):
                view[...] = array
        else:
            self.xp.concatenate(arrays, axis=None, out=self.grad)
        return "ready"

    def state_buffer(self, key):
        """(the flat buffer of state ``key``, whether it was just made, of zeros): made on
        first use, with a view in each parameter's state dict."""
        if key in self.state:
            return self.state[key], False
        flat = self.state[key] = self.xp.zeros_like(self.param)
        self.state_views[key] = self._views(flat)
        for state, view in zip(self.dicts, self.state_views[key]):
            state[key] = Tensor._make(view)
        return flat, True

    def advance(self, capturable):
        """Count a step for every parameter; returns t as the per-parameter update reads it:
        a host number, or (capturable) the counts on the device, all equal."""
        if self.step is None and self.steps is None:  # the first step
            if capturable:
                self.steps = self.xp.zeros(len(self.params), dtype=np.float64)
                self.step_views = [self.steps[i:i + 1].reshape(()) for i in range(len(self.params))]
                for state, view in zip(self.dicts, self.step_views):
                    state["step"] = Tensor._make(view)
            else:
                self.step = 0.0
        if self.steps is not None:
            self.steps += 1
            # (the kernel reads t[0]; on the CPU a 0-d array, as the per-parameter count is)
            return self.steps if backend.is_gpu_array(self.steps) else self.step_views[0]
        self.step += 1
        for state in self.dicts:
            state["step"] = self.step
        return self.step

    def work_buffer(self):
        if self.scratch is None:
            self.scratch = self.xp.empty_like(self.param)
        return self.scratch

    def bump_versions(self):
        """Every parameter changed in place, as PyTorch counts it (see autograd)."""
        for p in self.params:
            p._bump_version()


class FlatLayout:
    """A parameter group in buckets, and the parameters left to be updated one by one."""

    def __init__(self, group, optimizer_state, one_expression):
        self.group, self.order, self.optimizer_state = group, list(group["params"]), optimizer_state
        self.one_expression = one_expression  # the optimiser's update_is_one_expression(group)
        self.buckets, self.stale = [], False
        self.loose = []  # (parameter, id of its array, whether it only lacked a gradient)
        ours = _views_to_take_over()
        if len({id(p) for p in self.order}) != len(self.order):  # duplicates: updated one by one
            self.loose = [(p, id(p.array), False) for p in self.order]
            return
        groups = {}
        for p in self.order:
            key = self._key(p, optimizer_state, ours, one_expression)
            if key is None or p.grad is None:
                self.loose.append((p, id(p.array), key is not None))
            else:
                groups.setdefault(key, []).append((p, optimizer_state.setdefault(p, {})))
        self.buckets = [Bucket(members) for members in groups.values()]
        _forget_empty_orphans()  # the buffers just emptied go

    @staticmethod
    def _key(p, optimizer_state, ours, one_expression):
        """What parameters must share to be updated at once (dtype, device, kinds of state and
        step count), or None where ``p`` cannot move into a buffer or keeps its own update."""
        if not _movable(p, ours) or p.array.dtype.kind != "f" or _own_update(p.array, one_expression):
            return None
        state = optimizer_state.get(p, {})
        kinds, step = [], None
        for key, value in state.items():
            if key == "step" and isinstance(value, Tensor) and value.array.shape == ():
                if not _movable(value, ours) or _where(value.array) != _where(p.array):
                    return None
                step = ("tensor", float(backend.to_host(value.array)))
            elif key == "step" and isinstance(value, (int, float)):
                step = ("number", value)
            elif isinstance(value, Tensor) and value.array.shape == p.array.shape \
                    and value.array.dtype == p.array.dtype and _where(value.array) == _where(p.array) \
                    and _movable(value, ours):
                kinds.append(key)
            else:
                return None
        return p.array.dtype, _where(p.array), tuple(sorted(kinds)), step

    def __deepcopy__(self, memo):
        return None  # where the tensors live, a cache: a copied optimiser makes its own

    def intact(self, group, optimizer_state, one_expression):
        if self.stale or group is not self.group or optimizer_state is not self.optimizer_state \
                or one_expression != self.one_expression:
            return False
        params = group["params"]
        if len(params) != len(self.order) or any(a is not b for a, b in zip(params, self.order)):
            return False
        return all(bucket.intact(optimizer_state) for bucket in self.buckets)

    def plan(self):
        """(buckets with every gradient gathered, parameters to update one by one)."""
        ready, single = [], []
        for bucket in self.buckets:
            outcome = bucket.gather()
            if outcome == "ready":
                ready.append(bucket)
            elif outcome != "none":  # (where that changes their state, the next check finds it)
                single += [p for p in bucket.params if p.grad is not None]
                # but not step counts on the device, advanced in place: read them when regrouping
                self.stale |= outcome == "some" and bucket.steps is not None
        for p, array_id, lacked_gradient in self.loose:
            if p.grad is not None:
                single.append(p)
                self.stale |= lacked_gradient or id(p.array) != array_id  # it may fit in a bucket now
        return ready, single


def _forget_empty_orphans():
    # (an orphaned view is held by its list and by ``view`` here; by a tensor too if in use)
    ORPHANED[:] = [entry for entry in ORPHANED if any(holders(view) > 2 for view in entry[1])]


def _views_to_take_over():
    """The ids of the views that buckets made, where nothing else holds a view of their buffer."""
    _forget_empty_orphans()
    ours = set()
    for bucket in list(BUCKETS):
        ours |= bucket.view_ids()
    for entry in ORPHANED:
        if holders(entry[0]) == 1 + len(entry[1]):  # held by the entry and its views alone
            ours |= {id(view) for view in entry[1]}
    return ours


def _movable(t, ours):
    """Can ``t.array`` move into a buffer without anyone noticing?  Only if ``t`` is its sole
    holder, besides this layout's record of the views it made."""
    if id(t.array) in ours:
        return holders(t.array) == 2
    return t.array.base is None and holders(t.array) == 1


def capturing():
    """Is a CUDA graph being recorded (``accel.graphs``, there only where CuPy is)?"""
    graphs = sys.modules.get(__package__ + ".graphs")
    return graphs is not None and graphs.capturing()


def _flat_group(optimizer, group):
    """Flatten this group?  Where the optimiser can, was not told otherwise (``foreach=False``)
    and some parameter may share a buffer.  With a one-expression update only parameters on a
    GPU may (``_own_update``): a group with none there is left to the loop, without a layout's
    checks."""
    if not optimizer.flat or group.get("foreach") is False or not group["params"]:
        return False
    return not optimizer.update_is_one_expression(group) or \
        any(backend.is_gpu_array(p.array) for p in group["params"])


@replaces(Optimizer, "_plan", _flat_group)
def plan(optimizer, group):
    """The group's buckets (a layout made or checked before every step) and what is left."""
    layouts = optimizer.__dict__.setdefault("_layouts", {})  # id(group) -> its FlatLayout
    layout = layouts.get(id(group))
    one_expression = optimizer.update_is_one_expression(group)
    if layout is None or not layout.intact(group, optimizer.state, one_expression):
        # (no new buffers inside a CUDA graph capture: its warm-up steps made them)
        layout = None if capturing() else FlatLayout(group, optimizer.state, one_expression)
        layouts[id(group)] = layout
    if layout is None:
        return plain(Optimizer, "_plan")(optimizer, group)
    buckets, single = layout.plan()
    optimizer.count_updates(buckets, single)
    return buckets, single
