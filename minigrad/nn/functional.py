"""``minigrad.nn.functional``: the layers and losses as functions (PyTorch's names)."""
from ..ops import elementwise as E, linalg, loss as L, normalization as N
from ..tensor import Tensor


def _check_same_device(*tensors):
    first = None
    for t in tensors:
        if isinstance(t, Tensor):
            if first is None:
                first = t
            elif type(t.array) is not type(first.array):
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                                   f"devices, {first.device} and {t.device}!")


def linear(input, weight, bias=None):
    """y = x Wᵀ + b."""
    _check_same_device(input, weight, bias)
    return linalg.Linear()(input, weight) if bias is None else linalg.Linear()(input, weight, bias)


def sigmoid(input):
    return E.Sigmoid()(input)


def tanh(input):
    return E.Tanh()(input)


def relu(input):
    return E.Relu()(input)


def leaky_relu(input, negative_slope=0.01):
    return E.LeakyRelu(negative_slope)(input)


def gelu(input, approximate="none"):
    return E.Gelu(approximate)(input)


def softmax(input, dim):
    return input.softmax(dim)


def log_softmax(input, dim):
    return input.log_softmax(dim)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    _check_same_device(input, weight, bias)
    args = [input] + [t for t in (weight, bias) if t is not None]
    if weight is None and bias is not None:
        raise ValueError("layer_norm with a bias needs a weight too")
    return N.LayerNorm(normalized_shape, eps)(*args)


def _check_target(input, target):
    _check_same_device(input, target)
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a Tensor, got {type(target).__name__}")


def mse_loss(input, target, reduction="mean"):
    """mean((input - target)²) (or 'sum', or 'none')."""
    _check_target(input, target)
    return L.MSELoss(reduction)(input, target)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(y log x + (1-y) log(1-x)), each log clamped at -100 like PyTorch."""
    _check_target(input, target)
    args = (input, target) if weight is None else (input, target, weight)
    return L.BCELoss(reduction)(*args)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """BCE of sigmoid(input), computed without overflow."""
    _check_target(input, target)
    return L.BCEWithLogitsLoss(reduction)(input, target)
