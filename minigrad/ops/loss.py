"""Loss functions, each one node, with PyTorch's numerics and ``reduction`` argument."""
import math
import warnings

import numpy as np

from .. import backend, kernels
from ..autograd import Function, run
from ..graphs import capturing
from ..tensor import broadcast_error
from .elementwise import Sigmoid

REDUCTIONS = ("mean", "sum", "none")
BCE_RANGE = "all elements of input should be between 0 and 1"
BCE_TARGET_RANGE = "all elements of target should be between 0 and 1"


class Loss(Function):
    """Shared by the losses: elementwise loss, then reduce; the gradient is scaled back."""

    def __init__(self, reduction="mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.reduction = reduction

    def reduce(self, losses):
        if self.reduction == "mean":
            return losses.sum() / losses.size  # = losses.mean(), without its Python overhead
        if self.reduction == "sum":
            return losses.sum()
        return losses

    def count(self, input):
        """What the summed loss is divided by: N for 'mean', 1 otherwise."""
        return math.prod(input.shape) if self.reduction == "mean" else 1


def check_same_shape(name, input, target):
    if input.shape != target.shape:
        raise ValueError(f"{name}: Using a target size ({list(target.shape)}) that is different to the "
                         f"input size ({list(input.shape)}) is not supported. "
                         "Please ensure they have the same size.")


class MSELoss(Loss):
    """mean((x - y)²); d/dx = 2(x - y)/N."""

    def forward(self, input, target):
        if input.shape != target.shape:  # PyTorch warns, then broadcasts (BCE refuses instead)
            warnings.warn(f"Using a target size (minigrad.Size({list(target.shape)})) that is different to the "
                          f"input size (minigrad.Size({list(input.shape)})). This will likely lead to incorrect "
                          "results due to broadcasting. Please ensure they have the same size.", stacklevel=4)
            try:
                shape = np.broadcast_shapes(input.shape, target.shape)
            except ValueError:
                raise RuntimeError(broadcast_error(input.shape, target.shape)) from None
        else:
            shape = input.shape
        self.save_for_backward(input, target)
        input, target = _common_dtype(input, target)
        self.n = math.prod(shape) if self.reduction == "mean" else 1
        if self.reduction == "none":
            diff = input - target
            return diff * diff
        return kernels.mse(input, target, self.n)

    def backward(self, grad):  # in the broadcast shape: the engine sums it back to each input's
        input, target = _common_dtype(*self.saved_tensors)
        g = kernels.mse_backward(grad, input, target, self.n)
        return g, (-g if self.needs_grad[1] else None)


def _common_dtype(input, target):
    """PyTorch promotes two dtypes; the fused kernels take one."""
    if input.dtype == target.dtype:
        return input, target
    dtype = np.result_type(input, target)
    return input.astype(dtype, copy=False), target.astype(dtype, copy=False)


class BCELoss(Loss):
    """-(y·log x + (1 - y)·log(1 - x)) with each log clamped at -100, exactly as PyTorch.

    PyTorch's backward is (x - y) / max(x(1 - x), 1e-12), which keeps it finite at 0 and 1.
    """

    def forward(self, input, target, weight=None):
        check_same_shape("binary_cross_entropy", input, target)
        self.save_for_backward(input, target, weight)
        on_gpu = backend.is_gpu_array(input)
        if not on_gpu:  # PyTorch's CPU kernel checks both (NaN fails too); its CUDA kernel the input only
            for values, message in ((input, BCE_RANGE), (target, BCE_TARGET_RANGE)):
                if values.size and not (values.min() >= 0 and values.max() <= 1):
                    raise RuntimeError(message)
        if weight is None and self.reduction != "none":
            loss = kernels.bce(input, target, self.count(input))
        else:
            losses = kernels.bce_losses(input, target)
            loss = self.reduce(losses if weight is None else losses * weight)
        if on_gpu and not capturing():  # an input outside [0, 1] made the loss NaN (see kernels)
            backend.check_later(loss if loss.ndim == 0 else loss.sum(), BCE_RANGE)
        return loss

    def backward(self, grad):
        x, y, weight = self.saved_tensors
        g = kernels.bce_backward(grad, x, y, self.count(x))
        if weight is not None:
            g = g * weight
        gy = None
        if self.needs_grad[1]:
            xp = backend.array_module(x)
            with backend.quiet(xp):
                gy = grad / self.count(x) * (xp.log(1 - x) - xp.log(x))  # -logit(x)
            if weight is not None:
                gy = gy * weight
        return g, gy, None


class BCEWithLogitsLoss(Loss):
    """BCE on σ(x) computed stably: (1 - y)·x - log σ(x); d/dx = σ(x) - y."""

    def forward(self, input, target):
        check_same_shape("binary_cross_entropy_with_logits", input, target)
        xp = backend.array_module(input)
        self.save_for_backward(input, target)
        # log σ(x) = min(x, 0) - log(1 + e^-|x|)
        log_sigmoid = xp.minimum(input, 0) - xp.log1p(xp.exp(-abs(input)))
        return self.reduce((1 - target) * input - log_sigmoid)

    def backward(self, grad):
        x, y = self.saved_tensors
        upstream = grad / self.count(x)
        g = upstream * (run(Sigmoid(), x) - y)
        gy = -upstream * x if self.needs_grad[1] else None  # d/dy = -x
        return g, gy
