"""``minigrad.nn.functional``: the layers and losses as functions (PyTorch's names)."""

import math

import numpy as np

from .. import backend, creation, user_warnings
from ..autograd import grad_mode
from ..autograd.inplace import modify as modify_in_place
from ..ops import convolution, elementwise, linalg, loss, normalization, pooling
from ..ops.convolution import pair
from ..dtypes import scalar_name
from ..tensor import Tensor, broadcast_error, check_same_device


def _check_same_device(first, *others):
    if not isinstance(first, Tensor):
        raise TypeError(f"expected a minigrad Tensor as input, got {type(first).__name__}")
    check_same_device(first, *others)


def linear(input, weight, bias=None):
    """y = x Wᵀ + b."""
    _check_same_device(input, weight, bias)
    return linalg.Linear()(input, weight, bias)


def sigmoid(input):
    return elementwise.Sigmoid()(input)


def tanh(input):
    return elementwise.Tanh()(input)


def relu(input, inplace=False):
    return input.relu_() if inplace else elementwise.Relu()(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return input.leaky_relu_(negative_slope)
    return elementwise.LeakyRelu(negative_slope)(input)


def silu(input, inplace=False):
    """SiLU(x) = x·σ(x) (swish)."""
    return _activation(elementwise.Silu(), input, inplace)


def elu(input, alpha=1.0, inplace=False):
    """ELU(x) = x for x > 0, α·(eˣ - 1) otherwise."""
    return _activation(elementwise.Elu(alpha), input, inplace)


def softplus(input, beta=1, threshold=20):
    """softplus(x) = log(1 + e^(βx)) / β, and x where βx > threshold (as PyTorch)."""
    return _activation(elementwise.Softplus(beta, threshold), input, False)


def logsigmoid(input):
    """log σ(x), without overflow."""
    return _activation(elementwise.LogSigmoid(), input, False)


def _activation(op, input, inplace):
    """op(input); with ``inplace``, written into input (PyTorch's rules: not into a leaf
    that requires grad)."""
    _check_same_device(input)
    return modify_in_place(input, op) if inplace else op(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each value with probability p and scale the others by 1/(1 - p) (so the expected
    value is unchanged); nothing happens outside training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    from .. import random
    keep = random.uniform(0.0, 1.0, input.shape, np.float64) >= p
    scale = np.zeros(input.shape, input.dtype) if p == 1 else keep.astype(input.dtype) / input.dtype.type(1 - p)
    mask = Tensor._make(backend.move(scale, backend.device_type_of(input.array)))
    return input.mul_(mask) if inplace else input * mask


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The largest value of each kernel_size window, every ``stride`` (default: kernel_size) pixels."""
    op = pooling.MaxPool2d(kernel_size, stride, padding, dilation, ceil_mode)
    out = op(input)
    return (out, Tensor._make(op.indices())) if return_indices else out


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each kernel_size window, every ``stride`` (default: kernel_size) pixels."""
    return pooling.AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)(input)


def adaptive_avg_pool2d(input, output_size):
    """Means over an (oh, ow) grid of regions: region i spans rows ⌊i·H/oh⌋ … ⌈(i+1)·H/oh⌉."""
    h, w = input.shape[-2:]
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    oh, ow = oh or h, ow or w
    if h % oh == 0 and w % ow == 0:  # equal regions side by side: an average pooling
        return avg_pool2d(input, (h // oh, w // ow))
    rows = [input[..., (i * h) // oh:-(-((i + 1) * h) // oh), :] for i in range(oh)]
    grid = [[row[..., (j * w) // ow:-(-((j + 1) * w) // ow)].mean((-2, -1)) for j in range(ow)] for row in rows]
    from ..creation import stack
    return stack([stack(line, -1) for line in grid], -2)


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` picked by the integer ``input`` (gradients of repeated rows add up);
    the ``padding_idx`` row's gradient is zero, as in PyTorch."""
    if input.dtype.kind not in "iu":
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for embedding)")
    rows = weight[input.array]
    if padding_idx is None:
        return rows
    padding_idx %= weight.shape[0]
    at_padding = Tensor._make((input.array == padding_idx)[..., None])
    return rows.where(~at_padding, rows.detach())


def interpolate(input, size=None, scale_factor=None, mode="nearest"):
    """Resize the last two dimensions by repeating the nearest pixel: output pixel i reads
    input pixel ⌊i·in/out⌋ (``mode='nearest'``, PyTorch's default)."""
    if mode != "nearest":
        raise NotImplementedError(f"interpolate: mode {mode!r} is not in minigrad (only 'nearest')")
    if input.ndim != 4:
        raise NotImplementedError(f"interpolate: minigrad resizes (N, C, H, W) images; got {input.ndim} dimensions")
    h, w = input.shape[-2:]
    if size is not None:
        out_h, out_w = (size, size) if isinstance(size, int) else size
        scale_h, scale_w = h / out_h, w / out_w
    elif scale_factor is not None:
        factor_h, factor_w = (scale_factor, scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        out_h, out_w = int(math.floor(h * factor_h)), int(math.floor(w * factor_w))
        scale_h, scale_w = 1 / factor_h, 1 / factor_w
    else:
        raise ValueError("either size or scale_factor should be defined")
    rows = np.minimum(np.floor(np.arange(out_h) * scale_h).astype(np.int64), h - 1)
    cols = np.minimum(np.floor(np.arange(out_w) * scale_w).astype(np.int64), w - 1)
    device = backend.device_type_of(input.array)
    return input[..., backend.move(rows[:, None], device), backend.move(cols[None, :], device)]


def one_hot(tensor, num_classes=-1):
    """Class indices as rows of zeros with a 1 at the index (int64), one more dimension."""
    if tensor.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    indices = tensor.array
    if num_classes == -1:
        num_classes = int(indices.max()) + 1 if indices.size else 0
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise RuntimeError("Class values must be smaller than num_classes." if indices.min() >= 0 else
                           "Class values must be non-negative.")
    xp = backend.array_module(indices)
    return Tensor._make((indices[..., None] == xp.arange(num_classes)).astype(np.int64))


def gelu(input, approximate="none"):
    return elementwise.Gelu(approximate)(input)


def softmax(input, dim=None):
    return input.softmax(_softmax_dim("softmax", input.ndim) if dim is None else dim)


def log_softmax(input, dim=None):
    return input.log_softmax(_softmax_dim("log_softmax", input.ndim) if dim is None else dim)


def _softmax_dim(name, ndim):
    """PyTorch's choice when no ``dim`` is given, with its warning: dimension 1 (the classes
    of an (N, C) batch, the channels of (N, C, H, W) images), but 0 for 0-, 1- and 3-d inputs."""
    user_warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                       "dim=X as an argument.")
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
    return normalization.LayerNorm(normalized_shape, eps)(input, weight, bias)


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
    return loss.MSELoss(reduction)(input, target)


def l1_loss(input, target, reduction="mean"):
    """mean(|input - target|) (or 'sum', or 'none')."""
    _check_target(input, target)
    return loss.L1Loss(reduction)(input, target)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """With d = input - target: 0.5·d²/β where |d| < β, |d| - 0.5·β elsewhere (a square near 0,
    a straight line further out), then reduced; β = 0 is ``l1_loss``, as in PyTorch."""
    _check_target(input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, reduction)
    return loss.SmoothL1Loss(reduction, beta)(input, target)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(y log x + (1-y) log(1-x)), each log clamped at -100 like PyTorch."""
    _check_target(input, target)
    _check_same_dtype("binary_cross_entropy", input, target=target)  # PyTorch does not promote the target
    weight = _loss_weight("binary_cross_entropy", input, weight=weight)
    return loss.BCELoss(reduction)(input, target, weight)


def _loss_weight(function, input, **weights):
    """A loss's elementwise weight (or pos_weight), a constant: PyTorch multiplies the losses
    by it in place, so it must broadcast to the input's shape, and any dtype is taken, the
    result keeping the input's.  A weight whose values the input's dtype holds exactly
    (float32 for float64) is kept as it is, since PyTorch computes pos_weight - 1 in
    pos_weight's dtype; any other is converted."""
    (name, weight), = weights.items()
    if weight is None:
        return None
    _check_same_device(input, weight)
    if weight.requires_grad and grad_mode.enabled:
        raise RuntimeError(f"The function '{function}' is not differentiable with respect to argument '{name}'. "
                           "This input cannot have requires_grad True.")
    try:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(weight.shape))
    except ValueError:
        raise RuntimeError(broadcast_error(tuple(input.shape), tuple(weight.shape))) from None
    if shape != tuple(input.shape):
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast shape {list(shape)}")
    return weight if np.result_type(weight.dtype, input.dtype) == input.dtype else weight.to(input.dtype)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log likelihood: -input[n, target[n]]·weight[target[n]], for input (N, C) of log
    probabilities (also (C,), or (N, C, d1, …) with target (N, d1, …)); 'mean' divides by the
    summed weights of the targets counted, ``ignore_index`` leaves a target out."""
    _check_target(input, target)
    if reduction not in loss.REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"expected scalar type Long but found {scalar_name(target.dtype)}")
    rows, classes, labels, shape = _class_rows(input, target)
    counted = labels != ignore_index
    if counted.any() and (labels[counted].min() < 0 or labels[counted].max() >= classes):
        bad = labels[counted][(labels[counted] < 0) | (labels[counted] >= classes)][0]
        raise IndexError(f"Target {int(bad)} is out of bounds.")
    w = np.ones(classes) if weight is None else backend.to_host(weight.detach().array)
    device = backend.device_type_of(rows.array)
    if reduction == "none":  # a loss per target, 0 where ignored
        safe = np.where(counted, labels, 0)
        picked = rows[backend.move(np.arange(len(safe)), device), backend.move(safe, device)]
        factors = Tensor._make(backend.move((w[safe] * counted).astype(input.dtype), device))
        return (-(picked * factors)).reshape(shape)
    # only the counted rows are read: an ignored row gets no gradient at all, as in PyTorch,
    # even when every target is ignored and the mean is 0/0 = NaN
    kept = np.flatnonzero(counted)
    picked = rows[backend.move(kept, device), backend.move(labels[kept], device)]
    weights = w[labels[kept]]
    factors = Tensor._make(backend.move(weights.astype(input.dtype), device))
    total = -(picked * factors).sum()
    if reduction == "sum":
        return total
    return total / factors.sum() if weights.sum() else _nothing_counted(total)


def _nothing_counted(total):
    """A 'mean' over targets of total weight 0 (all ignored, or of classes weighted 0): 0/0 =
    NaN, as in PyTorch.  Multiplied in rather than divided by 0, so that no division by zero
    is computed (NumPy would warn) and the gradient is NaN only where a target was counted
    (-w·grad/0 with w = 0, as PyTorch's), 0 elsewhere."""
    return total * float("nan")


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """log_softmax over the classes (dimension 1), then nll_loss; a float target of the
    input's shape is a probability per class: -Σ target·log_softmax."""
    if input.ndim == 0:
        raise RuntimeError("cross_entropy: input must have at least one dimension (the classes)")
    class_dim = 0 if input.ndim == 1 else 1
    log_probabilities = input.log_softmax(class_dim)
    if target.dtype.kind == "f":
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(f"Expected target size {list(input.shape)}, got {list(target.shape)}")
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / input.shape[class_dim]
        weighted = log_probabilities if weight is None else log_probabilities * weight.reshape(
            (-1,) + (1,) * (input.ndim - class_dim - 1))
        losses = -(target * weighted).sum(class_dim)
        if reduction == "none":
            return losses
        return losses.sum() if reduction == "sum" else losses.sum() / max(losses.numel(), 1)
    if label_smoothing > 0:  # (PyTorch ignores a negative one here)
        if label_smoothing > 1:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
        return _label_smoothed_nll_loss(log_probabilities, target, weight, ignore_index, reduction, label_smoothing)
    return nll_loss(log_probabilities, target, weight, ignore_index, reduction)


def _label_smoothed_nll_loss(log_probabilities, target, weight, ignore_index, reduction, smoothing):
    """PyTorch's label smoothing of class-index targets: the target class gets 1 - ε of the
    probability and every class ε/C, so the loss is

        (1 - ε)·nll_loss + ε/C · Σ_c -w_c·log p_c

    where the second part is 0 for an ignored target and, for 'mean', is divided by the same
    sum of the counted targets' weights as nll_loss's mean."""
    class_dim = 0 if log_probabilities.ndim == 1 else 1
    classes = log_probabilities.shape[class_dim]
    nll = nll_loss(log_probabilities, target, weight, ignore_index, reduction)
    if weight is not None:  # w_c along the class dimension
        log_probabilities = log_probabilities * weight.reshape((-1,) + (1,) * (log_probabilities.ndim - class_dim - 1))
    smooth = (-log_probabilities.sum(class_dim)).masked_fill(target == ignore_index, 0.0)
    if reduction == "none":
        return (1 - smoothing) * nll + smooth * (smoothing / classes)
    smooth = smooth.sum()
    if reduction == "mean":
        labels = backend.to_host(target.array).reshape(-1)
        counted = labels[labels != ignore_index]
        counted_weight = len(counted) if weight is None else backend.to_host(weight.detach().array)[counted].sum()
        smooth = smooth / float(counted_weight) if counted_weight else _nothing_counted(smooth)
    return (1 - smoothing) * nll + smooth * (smoothing / classes)


def _class_rows(input, target):
    """input as (rows, C) and target as a NumPy vector of labels, with the shape of the losses."""
    labels = backend.to_host(target.array).astype(np.int64)
    if input.ndim == 1:
        if target.ndim != 0:
            raise ValueError(f"Expected input batch_size (1) to match target batch_size ({target.shape[0]}).")
        return input.reshape(1, -1), input.shape[0], labels.reshape(1), ()
    if input.shape[0] != (target.shape[0] if target.ndim else -1):
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    if tuple(target.shape) != (input.shape[0],) + tuple(input.shape[2:]):
        raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}, got "
                           f"{list(target.shape)}")
    classes = input.shape[1]
    rows = input if input.ndim == 2 else input.movedim(1, -1).reshape(-1, classes)
    return rows, classes, labels.reshape(-1), tuple(target.shape)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """BCE of sigmoid(input), computed without overflow: w·((1 - y)·x - (1 + (p - 1)·y)·log σ(x)),
    ``weight`` w scaling each element's loss and ``pos_weight`` p the positive (y = 1) term,
    e.g. one per class along the last dimension, to weigh rare positives up."""
    _check_target(input, target)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size (minigrad.Size({list(target.shape)})) must be the same as input size "
                         f"(minigrad.Size({list(input.shape)}))")
    weight = _loss_weight("binary_cross_entropy_with_logits", input, weight=weight)
    pos_weight = _loss_weight("binary_cross_entropy_with_logits", input, pos_weight=pos_weight)
    return loss.BCEWithLogitsLoss(reduction)(input, target, weight, pos_weight)


def _groups_one(groups):
    if groups != 1:
        raise NotImplementedError(f"minigrad's convolutions support groups=1 only, got groups={groups}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation): weight (out, in, kH, kW), input (N, in, H, W) or (in, H, W).

    Output size per dimension: ⌊(H + 2·padding − dilation·(kH − 1) − 1) / stride⌋ + 1.
    ``padding`` may also be 'valid' (none) or, with stride 1, 'same' (the output keeps the
    input's size).
    """
    _groups_one(groups)
    _check_same_device(input, weight, bias)
    if isinstance(padding, str):
        input, padding = _padding_from_string(input, weight, stride, padding, dilation)
    return convolution.Conv2d(stride, padding, dilation)(input, weight, bias)


def _padding_from_string(input, weight, stride, padding, dilation):
    """(input, numeric padding) for padding='valid' or 'same', as PyTorch computes them.

    'same' pads each dimension by the kernel's reach less one, dilation·(k − 1), half before
    and half after; when that is odd, the extra row or column goes after (below, to the
    right), padded into a copy of the input here since the convolution pads symmetrically."""
    if padding == "valid":
        return input, 0
    if padding != "same":
        raise RuntimeError(f"Invalid padding string: {padding!r}")
    if any(s != 1 for s in pair(stride, "stride")):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    if weight.ndim != 4:  # (the convolution says what it expected)
        return input, 0
    totals = [d * (k - 1) for d, k in zip(pair(dilation, "dilation"), weight.shape[2:])]
    if any(total % 2 for total in totals):
        user_warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require a "
                           "zero-padded copy of the input be created")
        for dim, total in zip((-2, -1), totals):
            if total % 2:
                shape = list(input.shape)
                shape[dim] = 1
                input = creation.cat([input, creation.zeros(*shape, dtype=input.dtype, device=input.device)], dim)
    return input, tuple(total // 2 for total in totals)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (the input-gradient of ``conv2d``): weight (in, out, kH, kW).

    Output size: (H − 1)·stride − 2·padding + dilation·(kH − 1) + output_padding + 1.
    """
    _groups_one(groups)
    _check_same_device(input, weight, bias)
    return convolution.ConvTranspose2d(stride, padding, output_padding, dilation)(input, weight, bias)


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
    return normalization.BatchNorm(training, momentum, eps, mean_array, var_array)(input, weight, bias)
