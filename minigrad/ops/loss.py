"""Loss functions, each one node, with PyTorch's numerics and ``reduction`` argument."""
import math

import numpy as np

from .. import backend, user_warnings
from ..autograd import Function, is_tensor, run
from ..tensor import broadcast_error
from .elementwise import LogSigmoid, Sigmoid

REDUCTIONS = ("mean", "sum", "none")
BCE_RANGE = "all elements of input should be between 0 and 1"
BCE_TARGET_RANGE = "all elements of target should be between 0 and 1"
BCE_EPSILON = 9.999999960041972e-13  # PyTorch's 1e-12 is a C float: this is float32(1e-12) exactly


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


def broadcast_shape(input, target):
    """The shape input and target broadcast to.  The regression losses (MSE, L1, smooth L1)
    warn, as PyTorch does, then broadcast (BCE refuses instead)."""
    if input.shape == target.shape:
        return input.shape
    user_warnings.warn(f"Using a target size (minigrad.Size({list(target.shape)})) that is different to the "
                       f"input size (minigrad.Size({list(input.shape)})). This will likely lead to incorrect "
                       "results due to broadcasting. Please ensure they have the same size.")
    try:
        return np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise RuntimeError(broadcast_error(input.shape, target.shape)) from None


class PointwiseLoss(Loss):
    """The regression losses: a loss of each difference d = x - y (broadcast, with PyTorch's
    warning, in the promoted dtype), then reduced; the target's gradient is the input's negated.
    A subclass gives ``losses(d)`` and ``gradient(g, d)``, g the upstream gradient over N."""

    def forward(self, input, target):
        shape = broadcast_shape(input, target)
        self.save_for_backward(input, target)
        input, target = _common_dtype(input, target)
        self.n = math.prod(shape) if self.reduction == "mean" else 1
        return self.reduce(self.losses(input - target))

    def backward(self, grad):  # in the broadcast shape: the engine sums it back to each input's
        input, target = _common_dtype(*self.saved_tensors)
        g = self.gradient(grad / self.n, input - target)
        return g, (-g if self.needs_grad[1] else None)


class MSELoss(PointwiseLoss):
    """mean((x - y)²); d/dx = 2(x - y)/N."""

    def losses(self, d):
        return d * d

    def gradient(self, g, d):
        return g * 2 * d


class L1Loss(PointwiseLoss):
    """mean(|x - y|); d/dx = sign(x - y)/N (0 where x = y, as PyTorch)."""

    def losses(self, d):
        return abs(d)

    def gradient(self, g, d):
        return g * backend.array_module(d).sign(d)


class SmoothL1Loss(PointwiseLoss):
    """With d = x - y and β > 0: 0.5·d²/β where |d| < β, |d| - 0.5·β elsewhere (PyTorch's
    kernel); d/dx = d/β inside, sign(d) outside, over N."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = float(beta)  # a Python number: a constant to a recorded backward

    def losses(self, d):
        z = abs(d)
        return backend.array_module(z).where(z < self.beta, 0.5 * z * z / self.beta, z - 0.5 * self.beta)

    def gradient(self, g, d):
        xp = backend.array_module(d)
        return xp.where(d <= -self.beta, -g, xp.where(d >= self.beta, g, g * d / self.beta))


def _common_dtype(input, target):
    """The two dtypes promoted, as PyTorch computes the loss."""
    if input.dtype == target.dtype:
        return input, target
    dtype = np.result_type(input.dtype, target.dtype)
    # (arrays, or in a recorded backward tensors, cast in the graph)
    return tuple(x.to(dtype) if is_tensor(x) else x.astype(dtype, copy=False) for x in (input, target))


class BCELoss(Loss):
    """-(y·log x + (1 - y)·log(1 - x)) with each log clamped at -100, exactly as PyTorch.

    PyTorch's backward is (x - y) / max(x(1 - x), 1e-12), which keeps it finite at 0 and 1.
    """

    def forward(self, input, target, weight=None):
        check_same_shape("binary_cross_entropy", input, target)
        self.save_for_backward(input, target, weight)
        # PyTorch's CPU kernel checks both (NaN fails too); its CUDA kernel the input only
        checked = [(input, BCE_RANGE)] + ([] if backend.is_gpu_array(input) else [(target, BCE_TARGET_RANGE)])
        for values, message in checked:
            if values.size and not (values.min() >= 0 and values.max() <= 1):
                raise RuntimeError(message)
        losses = bce_losses(input, target)
        return self.reduce(losses if weight is None else losses * weight)

    def backward(self, grad):
        x, y, weight = self.saved_tensors
        g = grad / self.count(x) * (x - y) / backend.array_module(x).maximum((1 - x) * x, BCE_EPSILON)
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


def bce_losses(x, y):
    """-(y·log x + (1 - y)·log(1 - x)), each log clamped at -100 (PyTorch's numerics)."""
    xp = backend.array_module(x)
    with backend.quiet(xp):  # log(0) = -inf is expected here and clamped next
        log_x, log_1mx = xp.log(x), xp.log(1 - x)
    return -(y * xp.maximum(log_x, -100) + (1 - y) * xp.maximum(log_1mx, -100))


class BCEWithLogitsLoss(Loss):
    """BCE on σ(x) computed stably, as PyTorch: with w the weight and p the pos_weight (each 1
    when not given),

        loss = w·((1 - y)·x - (1 + (p - 1)·y)·log σ(x)),   log σ(x) = min(x, 0) - log(1 + e^-|x|)
        d/dx = w·((p·y + 1 - y)·σ(x) - p·y)                 (= w·(σ(x) - y) without p)
        d/dy = w·(log σ(-x) - p·log σ(x))                    (= -w·x without p)
    """

    def forward(self, input, target, weight=None, pos_weight=None):
        check_same_shape("binary_cross_entropy_with_logits", input, target)
        self.save_for_backward(input, target, weight, pos_weight)
        log_sigmoid = LogSigmoid().forward(input)
        if pos_weight is not None:
            log_sigmoid = log_sigmoid * ((pos_weight - 1) * target + 1)
        losses = (1 - target) * input - log_sigmoid
        return self.reduce(losses if weight is None else losses * weight)

    def backward(self, grad):
        x, y, weight, pos_weight = self.saved_tensors
        upstream = grad / self.count(x)
        if pos_weight is None:
            g = run(Sigmoid(), x) - y
        else:
            positive = pos_weight * y
            g = (positive + 1 - y) * run(Sigmoid(), x) - positive
        gy = None
        if self.needs_grad[1]:
            gy = -x if pos_weight is None else run(LogSigmoid(), -x) - run(LogSigmoid(), x) * pos_weight
        if weight is not None:
            g, gy = g * weight, (None if gy is None else gy * weight)
        return upstream * g, (None if gy is None else upstream * gy), None, None
