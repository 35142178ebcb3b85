"""Loss functions, each one node, with PyTorch's numerics and ``reduction`` argument."""
from .. import backend
from ..autograd import Function
from ..graphs import capturing
from .elementwise import sigmoid_array

REDUCTIONS = ("mean", "sum", "none")
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

    def scale(self, grad, size):
        """The upstream gradient for each element of the unreduced loss."""
        return grad / size if self.reduction == "mean" else grad


def check_same_shape(name, input, target):
    if input.shape != target.shape:
        raise ValueError(f"{name}: Using a target size ({list(target.shape)}) that is different to the "
                         f"input size ({list(input.shape)}) is not supported. "
                         "Please ensure they have the same size.")


class MSELoss(Loss):
    """mean((x - y)²); d/dx = 2(x - y)/N."""

    def forward(self, input, target):
        check_same_shape("mse_loss", input, target)
        self.diff = input - target
        return self.reduce(self.diff * self.diff)

    def backward(self, grad):
        g = self.scale(grad, self.diff.size) * 2 * self.diff
        return g, (-g if self.needs_grad[1] else None)


class BCELoss(Loss):
    """-(y·log x + (1 - y)·log(1 - x)) with each log clamped at -100, exactly as PyTorch.

    PyTorch's backward is (x - y) / max(x(1 - x), 1e-12), which keeps it finite at 0 and 1.
    """

    def forward(self, input, target, weight=None):
        check_same_shape("binary_cross_entropy", input, target)
        xp = backend.array_module(input)
        # the check reads values back to the host: not possible while a CUDA graph is recorded
        if input.size and not capturing() and (input.min() < 0 or input.max() > 1):
            raise RuntimeError("all elements of input should be between 0 and 1")
        self.input, self.target, self.weight = input, target, weight
        with backend.quiet(xp):  # log(0) = -inf is expected here and clamped next
            self.log_x, self.log_1mx = xp.log(input), xp.log(1 - input)
        losses = -(target * xp.maximum(self.log_x, -100) + (1 - target) * xp.maximum(self.log_1mx, -100))
        if weight is not None:
            losses = losses * weight
        return self.reduce(losses)

    def backward(self, grad):
        xp = backend.array_module(self.input)
        x, y = self.input, self.target
        upstream = self.scale(grad, x.size)
        if self.weight is not None:
            upstream = upstream * self.weight
        g = upstream * (x - y) / xp.maximum((1 - x) * x, BCE_EPSILON)
        gy = upstream * (self.log_1mx - self.log_x) if self.needs_grad[1] else None  # -logit(x)
        return g, gy, None


class BCEWithLogitsLoss(Loss):
    """BCE on σ(x) computed stably: (1 - y)·x - log σ(x); d/dx = σ(x) - y."""

    def forward(self, input, target):
        check_same_shape("binary_cross_entropy_with_logits", input, target)
        xp = backend.array_module(input)
        self.input, self.target = input, target
        # log σ(x) = min(x, 0) - log(1 + e^-|x|)
        log_sigmoid = xp.minimum(input, 0) - xp.log1p(xp.exp(-abs(input)))
        return self.reduce((1 - target) * input - log_sigmoid)

    def backward(self, grad):
        x, y = self.input, self.target
        g = self.scale(grad, x.size) * (sigmoid_array(x) - y)
        gy = None
        if self.needs_grad[1]:  # d/dy = -x
            gy = -self.scale(grad, x.size) * x
        return g, gy
