"""Stochastic gradient descent, update for update the same as ``torch.optim.SGD``."""
from ..autograd import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, learning_rate, takes_closure


class SGD(Optimizer):
    """p ← p - lr·d, where d = g + weight_decay·p (g negated with ``maximize``), and with
    momentum μ: b ← μ·b + (1 - dampening)·d (b = d on the first step), d = b (or d + μ·b
    for Nesterov).  With ``minigrad.accel``, a group's parameters are updated at once (see
    ``Optimizer``); the engine alone, and plain SGD on the CPU, update them one by one."""

    flat = True

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach))

    def update_is_one_expression(self, group):
        return not (group["momentum"] or group["weight_decay"] or group["maximize"])  # p −= lr·g

    @takes_closure
    @no_grad()
    def step(self):
        for group in self.param_groups:
            buckets, single = self._plan(group)
            for bucket in buckets:  # every parameter of the bucket in one update (accel.flat's; none without)
                buffer, first = bucket.state_buffer("momentum_buffer") if group["momentum"] else (None, False)
                self._update(group, bucket.param, bucket.grad, buffer, first)
                bucket.bump_versions()
            for p in single:
                state = self.state.setdefault(p, {}) if group["momentum"] else {}
                buffer = state.get("momentum_buffer")
                buffer = self._update(group, p.array, p.grad.array, None if buffer is None else buffer.array)
                if group["momentum"] and "momentum_buffer" not in state:  # its first step: b = d
                    state["momentum_buffer"] = Tensor._make(buffer)
                p._bump_version()  # changed in place, as PyTorch counts it

    @staticmethod
    def _update(group, param, grad, buffer=None, first=False):
        """One update of ``param`` in place: a parameter, or a bucket of them (flat arrays).
        With momentum, ``buffer`` b is updated in place (set to d if ``first``); without one,
        it starts as a copy of d: returned."""
        lr, momentum, wd = learning_rate(group), group["momentum"], group["weight_decay"]
        d = -grad if group["maximize"] else grad
        if wd:
            d = d + wd * param
        if momentum:
            if buffer is None:
                buffer = d.copy()
            elif first:
                buffer[...] = d
            else:
                buffer *= momentum
                buffer += (1 - group["dampening"]) * d
            d = d + momentum * buffer if group["nesterov"] else buffer
        SGD._descend(param, d, lr)
        return buffer

    @staticmethod
    def _descend(param, d, lr):
        """p ← p − lr·d, in place."""
        param -= lr * d
