"""The optimiser base class: parameter groups, per-parameter state, (de)serialisation."""
import collections
import functools

import numpy as np

from .. import backend
from ..autograd import enable_grad
from ..tensor import Tensor


def takes_closure(step):
    """``optimizer.step(closure)``, as PyTorch's: the closure recomputes the loss (with
    gradients on) before the update, and step returns that loss."""
    @functools.wraps(step)
    def step_with_closure(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        step(self)
        return loss
    return step_with_closure


def learning_rate(group):
    """The group's lr as a number: PyTorch also takes a 0-d tensor (``lr=torch.tensor(0.01)``),
    which in the updates' array expressions would make tensors of the parameters' arrays."""
    lr = group["lr"]
    return lr.item() if isinstance(lr, Tensor) else lr


class Optimizer:
    """Holds ``param_groups`` (dicts with 'params' and hyper-parameters) and ``state``
    (per-parameter buffers such as Adam's moments), laid out as in PyTorch so that
    ``state_dict()`` has the same structure.

    Why frameworks fuse the update: a loop over the parameters runs every expression of
    the update rule once per parameter, one Python call each (one kernel launch on a GPU),
    and for the small tensors of most layers those calls, not the arithmetic, are the cost.
    PyTorch's ``foreach`` optimisers hand lists of tensors to one call, its ``fused`` ones
    to one kernel.  Optimisers here with ``flat = True`` (SGD, Adam, AdamW) can do the same:
    ``minigrad.accel.flat`` keeps a group's parameters and their state as views into one
    flat buffer per dtype and device, so that each expression runs once for all of them (on
    the CPU a large tensor keeps an update of its own, where copying its gradient would cost
    more than the calls saved, and so does every tensor whose update is one expression
    already: see ``update_is_one_expression``).  ``foreach=False`` keeps the loop; ``update_counts``
    counts the updates each way: 'flat' (one per buffer) and 'per_parameter'.
    """

    flat = False  # can step() update flat buffers (self._plan's buckets)?

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        self.update_counts = collections.Counter()
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        if group["params"] and all(isinstance(p, tuple) and len(p) == 2 for p in group["params"]):
            # model.named_parameters(): the names are kept beside the tensors, as PyTorch keeps them
            group["param_names"], group["params"] = [n for n, _ in group["params"]], [p for _, p in group["params"]]
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        if {id(p) for p in group["params"]} & {id(p) for p in self._params()}:
            raise ValueError("some parameters appear in more than one parameter group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    def update_is_one_expression(self, group):
        """Is the update of each of ``group``'s parameters a single array expression?  Then
        a shared buffer saves no calls (on the CPU; on a GPU it still saves launches)."""
        return False

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self):
        raise NotImplementedError

    def _plan(self, group):
        """How this step updates ``group``: (buckets, parameters).  Each bucket (an
        ``accel.flat.Bucket``, its gradients gathered) takes one update for all its
        parameters; the parameters are those with a gradient, updated one by one: here all
        of them."""
        single = [p for p in group["params"] if p.grad is not None]
        self.count_updates((), single)
        return (), single

    def count_updates(self, buckets, single):
        for way, count in (("flat", len(buckets)), ("per_parameter", len(single))):
            if count:
                self.update_counts[way] += count

    def _gradients(self):
        """(group, parameter, gradient plus the group's weight_decay·p, the parameter's state)
        for every parameter that has a gradient."""
        for group in self.param_groups:
            decay = group.get("weight_decay", 0)
            for p in group["params"]:
                if p.grad is not None:
                    g = p.grad.array + decay * p.array if decay else p.grad.array
                    yield group, p, g, self.state.setdefault(p, {})

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as in PyTorch."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[id(p)]: {k: (v.detach() if isinstance(v, Tensor) else v) for k, v in s.items()}
                 for p, s in ((p, self.state[p]) for p in self._params() if p in self.state)}
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = [index[id(p)] for p in group["params"]]
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and buffers; values may be minigrad tensors, NumPy
        arrays or PyTorch tensors, and are copied to each parameter's device."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for ours, theirs in zip(self.param_groups, groups):
            if len(ours["params"]) != len(theirs["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match "
                                 "the size of optimizer's group")
        params = self._params()
        saved_index = [i for g in groups for i in g["params"]]
        self.state = {}
        for p, i in zip(params, saved_index):
            saved = state_dict["state"].get(i, state_dict["state"].get(str(i)))
            if saved is None:
                continue
            entry = {}
            for key, value in saved.items():
                if key == "step":
                    step = float(np.asarray(backend.to_host(value)))
                    capturable = any(g.get("capturable") and any(q is p for q in g["params"])
                                     for g in self.param_groups)
                    entry[key] = Tensor._make(backend.move(np.asarray(step), backend.device_type_of(p.array))) \
                        if capturable else step
                else:
                    array = value.array if isinstance(value, Tensor) else np.asarray(backend.to_host(value))
                    if array.shape != p.array.shape:
                        raise ValueError(f"optimizer state '{key}' has shape {list(array.shape)} but its "
                                         f"parameter has shape {list(p.array.shape)}")
                    entry[key] = Tensor._make(backend.move(array, backend.device_type_of(p.array))
                                              .astype(p.array.dtype, copy=True))
            self.state[p] = entry
        for ours, theirs in zip(self.param_groups, groups):
            for key, value in theirs.items():
                if key != "params":
                    ours[key] = tuple(value) if isinstance(value, list) else value

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"
