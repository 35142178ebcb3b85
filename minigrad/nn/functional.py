"""``minigrad.nn.functional``: the layers and losses as functions (PyTorch's names)."""
import warnings

from ..ops import convolution as C, elementwise as E, linalg, loss as L, normalization as N
from ..tensor import Tensor, check_same_device


def _check_same_device(first, *others):
    if not isinstance(first, Tensor):
        raise TypeError(f"expected a minigrad Tensor as input, got {type(first).__name__}")
    check_same_device(first, *others)


def linear(input, weight, bias=None):
    """y = x Wᵀ + b."""
    _check_same_device(input, weight, bias)
    return linalg.Linear()(input, weight, bias)


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


def softmax(input, dim=None):
    return input.softmax(_softmax_dim("softmax", input.ndim) if dim is None else dim)


def log_softmax(input, dim=None):
    return input.log_softmax(_softmax_dim("log_softmax", input.ndim) if dim is None else dim)


def _softmax_dim(name, ndim):
    """PyTorch's choice when no ``dim`` is given, with its warning: dimension 1 (the classes
    of an (N, C) batch, the channels of (N, C, H, W) images), but 0 for 0-, 1- and 3-d inputs."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    _check_same_device(input, weight, bias)
    _check_same_dtype("layer_norm", input, weight=weight, bias=bias)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != tuple(normalized_shape):
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t.shape)} and normalized_shape = {list(normalized_shape)}")
    return N.LayerNorm(normalized_shape, eps)(input, weight, bias)


def _check_same_dtype(name, input, **others):
    """Normalisation takes its parameters in the input's dtype, as PyTorch does (no promotion)."""
    for what, t in others.items():
        if t is not None and t.dtype != input.dtype:
            raise RuntimeError(f"{name}: expected {what} to have the input's dtype {input.dtype}, but got {t.dtype}")


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
    _check_same_dtype("binary_cross_entropy", input, target=target, weight=weight)  # PyTorch does not promote
    return L.BCELoss(reduction)(input, target, weight)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """BCE of sigmoid(input), computed without overflow."""
    _check_target(input, target)
    return L.BCEWithLogitsLoss(reduction)(input, target)


def _groups_one(groups):
    if groups != 1:
        raise NotImplementedError(f"minigrad's convolutions support groups=1 only, got groups={groups}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation): weight (out, in, kH, kW), input (N, in, H, W) or (in, H, W).

    Output size per dimension: ⌊(H + 2·padding − dilation·(kH − 1) − 1) / stride⌋ + 1.
    """
    _groups_one(groups)
    _check_same_device(input, weight, bias)
    return C.Conv2d(stride, padding, dilation)(input, weight, bias)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (the input-gradient of ``conv2d``): weight (in, out, kH, kW).

    Output size: (H − 1)·stride − 2·padding + dilation·(kH − 1) + output_padding + 1.
    """
    _groups_one(groups)
    _check_same_device(input, weight, bias)
    return C.ConvTranspose2d(stride, padding, output_padding, dilation)(input, weight, bias)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dimension 1) with the batch's statistics (``training``) or the
    running ones, then scale by ``weight`` and shift by ``bias``.

    In training, ``running_mean``/``running_var`` (if given) are updated in place:
    running = (1 − momentum)·running + momentum·batch, with the unbiased batch variance.
    """
    _check_same_device(input, running_mean, running_var, weight, bias)
    if (running_mean is None) != (running_var is None):
        raise RuntimeError("running_mean and running_var must either both be None or neither be None")
    _check_same_dtype("batch_norm", input, running_mean=running_mean, running_var=running_var, weight=weight,
                      bias=bias)
    if input.ndim < 2:
        raise ValueError(f"Expected 2D or more input to batch_norm, got {input.ndim}D input")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    mean_array = running_mean.array if running_mean is not None else None
    var_array = running_var.array if running_var is not None else None
    return N.BatchNorm(training, momentum, eps, mean_array, var_array)(input, weight, bias)
