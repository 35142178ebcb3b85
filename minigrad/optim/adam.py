"""Adam, update for update the same as ``torch.optim.Adam`` (Kingma & Ba, 2015)."""
import math

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer


class Adam(Optimizer):
    """With t the step count and g the gradient (plus weight_decay·p):

        m ← m + (1 - β₁)(g - m)            (PyTorch's lerp)
        v ← β₂·v + (1 - β₂)·g²
        p ← p - (lr / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Invalid beta parameters: {betas}")
        if amsgrad:
            raise NotImplementedError("amsgrad is not implemented in minigrad")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=False))

    @no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.array
                if wd:
                    g = g + wd * p.array
                state = self.state.get(p)
                if state is None:
                    xp = backend.array_module(p.array)
                    state = self.state[p] = {"step": 0.0,
                                             "exp_avg": Tensor._make(xp.zeros_like(p.array)),
                                             "exp_avg_sq": Tensor._make(xp.zeros_like(p.array))}
                state["step"] += 1
                step = state["step"]
                m, v = state["exp_avg"].array, state["exp_avg_sq"].array
                m += (1 - beta1) * (g - m)
                v *= beta2
                v += (1 - beta2) * g * g
                step_size = lr / (1 - beta1 ** step)
                denom = backend.array_module(v).sqrt(v)
                denom /= math.sqrt(1 - beta2 ** step)
                denom += eps
                update = -step_size * m
                update /= denom
                p.array += update
