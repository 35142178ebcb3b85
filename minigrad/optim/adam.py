"""Adam, update for update the same as ``torch.optim.Adam`` (Kingma & Ba, 2015)."""
from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, learning_rate, takes_closure


class Adam(Optimizer):
    """With t the step count and g the gradient (negated with ``maximize``, plus
    weight_decay·p):

        m ← m + (1 - β₁)(g - m)            (PyTorch's lerp)
        v ← β₂·v + (1 - β₂)·g²
        p ← p - (lr / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + eps)

    With ``minigrad.accel``, a group's parameters are updated at once (see ``Optimizer``),
    on a GPU in one kernel; the engine alone updates them one by one.
    """

    flat = True
    decoupled_weight_decay = False  # AdamW: p ← p·(1 − lr·λ) instead of λ·p in the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 capturable=False, *, maximize=False, foreach=None):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Invalid beta parameters: {betas}")
        if amsgrad and capturable:
            raise NotImplementedError("minigrad's capturable Adam has no amsgrad")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, capturable=capturable, maximize=maximize, foreach=foreach))
        self.scratch = {}  # parameter -> work array of its shape (not part of the state)

    @takes_closure
    @no_grad()
    def step(self):
        for group in self.param_groups:
            buckets, single = self._plan(group)
            for bucket in buckets:  # every parameter of the bucket in one update (accel.flat's; none without)
                t = bucket.advance(group["capturable"])
                m, v = bucket.state_buffer("exp_avg")[0], bucket.state_buffer("exp_avg_sq")[0]
                largest = bucket.state_buffer("max_exp_avg_sq")[0] if group["amsgrad"] else None
                bucket.bump_versions()  # changed in place below, as PyTorch counts it
                self._update(group, bucket.param, bucket.grad, m, v, largest, t, bucket.work_buffer)
            for p in single:
                state = self.state.get(p)
                if not state:
                    state = self.state[p] = self._new_state(p, group["capturable"])
                if group["amsgrad"] and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = Tensor._make(backend.array_module(p.array).zeros_like(p.array))
                t = self._advance(state)
                p._bump_version()  # changed in place below, as PyTorch counts it
                self._update(group, p.array, p.grad.array, state["exp_avg"].array, state["exp_avg_sq"].array,
                             state["max_exp_avg_sq"].array if group["amsgrad"] else None, t,
                             lambda p=p: self._scratch(p))

    def _update(self, group, param, grad, m, v, largest, t, work_buffer):
        """One update in place of ``param`` (a parameter, or a bucket of them as flat arrays)
        and its moments m, v (and ``largest``, amsgrad's maximum of v) at step t;
        ``work_buffer()`` gives an array of the parameter's shape to compute in."""
        lr, (beta1, beta2), eps, wd = learning_rate(group), group["betas"], group["eps"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if wd and self.decoupled_weight_decay:
            param *= 1 - lr * wd
        elif wd:
            g = g + wd * param
        if largest is not None:  # the largest v so far in the denominator (Reddi et al.)
            step_size, correction2 = -lr / (1 - beta1 ** t), (1 - beta2 ** t) ** 0.5
            self._amsgrad_step(param, g, m, v, largest, beta1, beta2, eps, step_size, correction2)
            return
        self._adam_step(param, g, m, v, beta1, beta2, eps, lr, t, work_buffer)

    def _adam_step(self, param, grad, m, v, beta1, beta2, eps, lr, t, work_buffer):
        """PyTorch's single-tensor Adam, in place: m.lerp_(g, 1 − β₁); v·β₂ + (1 − β₂)·g·g;
        p.addcdiv_(m, √v / √(1 − β₂ᵗ) + eps, value=−lr / (1 − β₁ᵗ)).  Written through a
        scratch array of the parameter's shape so that no expression makes a temporary
        (the large weights of the book's MNIST models are updated a lot)."""
        step_size, correction2 = -lr / (1 - beta1 ** t), (1 - beta2 ** t) ** 0.5
        if hasattr(step_size, "astype"):  # a step kept as an array: scalars of the parameter's dtype
            step_size, correction2 = step_size.astype(param.dtype), correction2.astype(param.dtype)
        xp, scratch = backend.array_module(v), work_buffer()
        xp.subtract(grad, m, out=scratch)
        scratch *= 1 - beta1
        m += scratch                                   # m.lerp_(g, 1 - β₁)
        xp.multiply(grad, 1 - beta2, out=scratch)
        scratch *= grad
        v *= beta2
        v += scratch                                   # v·β₂ + (1 - β₂)·g·g
        denom = xp.sqrt(v, out=scratch)
        denom /= correction2
        denom += eps
        update = xp.divide(m, denom, out=scratch)
        update *= step_size                            # m / denom · (-step_size)
        param += update

    @staticmethod
    def _amsgrad_step(param, g, m, v, largest, beta1, beta2, eps, step_size, correction2):
        xp = backend.array_module(param)
        m += (g - m) * (1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        xp.maximum(largest, v, out=largest)
        param += step_size * (m / (xp.sqrt(largest) / correction2 + eps))

    @staticmethod
    def _new_state(p, capturable):
        xp = backend.array_module(p.array)
        # capturable: the step count lives on the device, so a CUDA graph replay advances it
        step = Tensor._make(xp.zeros((), dtype=xp.float64)) if capturable else 0.0
        return {"step": step, "exp_avg": Tensor._make(xp.zeros_like(p.array)),
                "exp_avg_sq": Tensor._make(xp.zeros_like(p.array))}

    @staticmethod
    def _advance(state):
        """Count this step: t + 1, a host number, or the step's own array (capturable, where
        the count lives on the device so that a CUDA graph replay advances it)."""
        if isinstance(state["step"], Tensor):
            t = state["step"].array
            t += 1
            return t
        state["step"] += 1
        return state["step"]

    def _scratch(self, p):
        buffer = self.scratch.get(p)
        if buffer is None or buffer.shape != p.array.shape or buffer.dtype != p.array.dtype \
                or type(buffer) is not type(p.array):  # moved to another device
            buffer = self.scratch[p] = backend.array_module(p.array).empty_like(p.array)
        return buffer
