"""Adam, update for update the same as ``torch.optim.Adam`` (Kingma & Ba, 2015)."""
from .. import backend, kernels
from ..autograd import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer


class Adam(Optimizer):
    """With t the step count and g the gradient (plus weight_decay·p):

        m ← m + (1 - β₁)(g - m)            (PyTorch's lerp)
        v ← β₂·v + (1 - β₂)·g²
        p ← p - (lr / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + eps)
    """

    decoupled_weight_decay = False  # AdamW: p ← p·(1 − lr·λ) instead of λ·p in the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 capturable=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Invalid beta parameters: {betas}")
        if amsgrad and capturable:
            raise NotImplementedError("minigrad's capturable Adam has no amsgrad")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, capturable=capturable))
        self.scratch = {}  # parameter -> work array of its shape (not part of the state)

    @no_grad()
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.array
                if wd and self.decoupled_weight_decay:
                    p.array *= 1 - lr * wd
                elif wd:
                    g = g + wd * p.array
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._new_state(p, group["capturable"])
                m, v = state["exp_avg"].array, state["exp_avg_sq"].array
                t = self._advance(state)
                p._bump_version()  # changed in place below, as PyTorch counts it
                if group["capturable"] and backend.is_gpu_array(v):  # t and the corrections stay on the GPU
                    kernels.adam_device_step(g, beta1, beta2, eps, lr, t, p.array, m, v)
                    continue
                step_size, correction2 = -lr / (1 - beta1 ** t), (1 - beta2 ** t) ** 0.5
                if group["amsgrad"]:  # the largest v so far in the denominator (Reddi et al.)
                    self._amsgrad_step(p, g, state, beta1, beta2, eps, step_size, correction2)
                    continue
                if hasattr(step_size, "astype"):  # a step kept as an array: scalars of the parameter's dtype
                    step_size, correction2 = step_size.astype(p.array.dtype), correction2.astype(p.array.dtype)
                scratch = None if backend.is_gpu_array(v) else self._scratch(p)  # the GPU kernel needs none
                kernels.adam(g, beta1, beta2, eps, step_size, correction2, p.array, m, v, scratch)

    @staticmethod
    def _amsgrad_step(p, g, state, beta1, beta2, eps, step_size, correction2):
        xp = backend.array_module(p.array)
        m, v = state["exp_avg"].array, state["exp_avg_sq"].array
        if "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = Tensor._make(xp.zeros_like(p.array))
        largest = state["max_exp_avg_sq"].array
        m += (g - m) * (1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        xp.maximum(largest, v, out=largest)
        p.array += step_size * (m / (xp.sqrt(largest) / correction2 + eps))

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
