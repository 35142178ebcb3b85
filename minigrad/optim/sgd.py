"""Stochastic gradient descent, update for update the same as ``torch.optim.SGD``."""
from .. import kernels
from ..autograd import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer


class SGD(Optimizer):
    """p ← p - lr·d, where d = g + weight_decay·p, and with momentum μ:
    b ← μ·b + (1 - dampening)·d (b = d on the first step), d = b (or d + μ·b for Nesterov)."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    @no_grad()
    def step(self):
        for group in self.param_groups:
            lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad.array
                if wd:
                    d = d + wd * p.array
                if momentum:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = Tensor._make(d.copy())
                    else:
                        buf.array *= momentum
                        buf.array += (1 - group["dampening"]) * d
                    d = d + momentum * buf.array if group["nesterov"] else buf.array
                kernels.sgd(d, lr, p.array)  # in place: p + (-lr)·d
                p._bump_version()  # changed in place, as PyTorch counts it
