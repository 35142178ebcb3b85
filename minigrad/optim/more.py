"""AdamW, RMSprop and Adadelta, update for update PyTorch's (its single-tensor code, in NumPy)."""
from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor
from .adam import Adam
from .optimizer import Optimizer, learning_rate, takes_closure


def _zeros_like(p):
    return Tensor._make(backend.array_module(p.array).zeros_like(p.array))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p ← p·(1 − lr·λ), then Adam's
    step with the plain gradient."""

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach)


class RMSprop(Optimizer):
    """v ← α·v + (1 − α)·g², p ← p − lr·g/(√v + eps); ``centered`` subtracts the squared
    running mean of g from v, ``momentum`` keeps a buffer b ← μ·b + g/(√v + eps)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        for name, value in (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                            ("weight_decay value", weight_decay), ("alpha value", alpha)):
            if value < 0:
                raise ValueError(f"Invalid {name}: {value}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    @takes_closure
    @no_grad()
    def step(self):
        for group, p, g, state in self._gradients():
            alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
            if not state:
                state.update(step=0.0, square_avg=_zeros_like(p))
                if momentum > 0:
                    state["momentum_buffer"] = _zeros_like(p)
                if group["centered"]:
                    state["grad_avg"] = _zeros_like(p)
            state["step"] += 1
            square_avg = state["square_avg"].array
            square_avg *= alpha
            square_avg += (1 - alpha) * g * g
            if group["centered"]:
                grad_avg = state["grad_avg"].array
                grad_avg += (g - grad_avg) * (1 - alpha)
                avg = backend.array_module(g).sqrt(square_avg - grad_avg * grad_avg) + eps
            else:
                avg = backend.array_module(g).sqrt(square_avg) + eps
            p._bump_version()
            if momentum > 0:
                buffer = state["momentum_buffer"].array
                buffer *= momentum
                buffer += g / avg
                p.array -= learning_rate(group) * buffer
            else:
                p.array += -learning_rate(group) * (g / avg)


class Adadelta(Optimizer):
    """Zeiler's Adadelta: v ← ρ·v + (1 − ρ)·g², Δ = √(u + eps)/√(v + eps)·g,
    u ← ρ·u + (1 − ρ)·Δ², p ← p − lr·Δ."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        if not 0 <= rho <= 1:
            raise ValueError(f"Invalid rho value: {rho}")
        for name, value in (("learning rate", lr), ("epsilon value", eps), ("weight_decay value", weight_decay)):
            if value < 0:
                raise ValueError(f"Invalid {name}: {value}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    @takes_closure
    @no_grad()
    def step(self):
        for group, p, g, state in self._gradients():
            rho, eps = group["rho"], group["eps"]
            if not state:
                state.update(step=0.0, square_avg=_zeros_like(p), acc_delta=_zeros_like(p))
            state["step"] += 1
            xp = backend.array_module(g)
            square_avg, acc_delta = state["square_avg"].array, state["acc_delta"].array
            square_avg *= rho
            square_avg += (1 - rho) * g * g
            delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * g
            acc_delta *= rho
            acc_delta += (1 - rho) * delta * delta
            p._bump_version()
            p.array += -learning_rate(group) * delta
