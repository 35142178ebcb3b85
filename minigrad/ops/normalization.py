"""Normalisation layers as single graph nodes: layer norm (and batch norm)."""
from .. import backend
from ..autograd import Function, sum_to_shape


class LayerNorm(Function):
    """Normalise over the last ``len(normalized_shape)`` dimensions, then scale and shift.

    x̂ = (x - mean) / sqrt(var + eps) with the biased variance, y = x̂·w + b.
    Backward, with N values per group and ĝ = g·w:
    dx = (N·ĝ - Σĝ - x̂·Σ(ĝ·x̂)) / (N·sqrt(var + eps)).
    """

    def __init__(self, normalized_shape, eps=1e-5):
        self.normalized_shape, self.eps = tuple(normalized_shape), eps

    def forward(self, x, weight=None, bias=None):
        n = len(self.normalized_shape)
        if x.shape[x.ndim - n:] != self.normalized_shape:
            raise RuntimeError(f"Given normalized_shape={list(self.normalized_shape)}, expected input with "
                               f"shape [*, {', '.join(map(str, self.normalized_shape))}], "
                               f"but got input of size{list(x.shape)}")
        xp = backend.array_module(x)
        self.axes = tuple(range(x.ndim - n, x.ndim))
        n = _group_size(x, self.axes)
        # sum / n is what ndarray.mean computes, without its Python-level overhead (~5 µs a call)
        centred = x - x.sum(axis=self.axes, keepdims=True) / n
        var = (centred * centred).sum(axis=self.axes, keepdims=True) / n
        self.rstd = 1 / xp.sqrt(var + self.eps)
        self.xhat = centred * self.rstd
        self.weight = weight
        out = self.xhat
        if weight is not None:
            out = out * weight
        if bias is not None:
            out = out + bias
        return out

    def backward(self, grad):
        xhat, axes = self.xhat, self.axes
        shape = grad.shape[grad.ndim - len(axes):]  # the weight's: Σ over the batch dimensions
        gw = sum_to_shape(grad * xhat, shape) if self.needs_grad[1:2] == (True,) else None
        gb = sum_to_shape(grad, shape) if self.needs_grad[2:3] == (True,) else None
        gx = None
        if self.needs_grad[0]:
            g = grad * self.weight if self.weight is not None else grad
            n = _group_size(xhat, axes)
            gx = (n * g - g.sum(axis=axes, keepdims=True)
                  - xhat * (g * xhat).sum(axis=axes, keepdims=True)) * (self.rstd / n)
        return gx, gw, gb


def _group_size(array, axes):
    n = 1
    for ax in axes:
        n *= array.shape[ax]
    return n


class BatchNorm(Function):
    """Normalise each channel (dimension 1) over the batch and every position, then scale
    and shift, as ``torch.nn.functional.batch_norm``.

    Training: x̂ = (x − mean) / sqrt(var + eps) with the batch's mean and *biased*
    variance over the M = N·H·W values of each channel, and the running estimates move
    towards the batch's: running = (1 − momentum)·running + momentum·batch, using the
    *unbiased* variance var·M/(M − 1) (PyTorch's convention).  Evaluation: the running
    mean and variance are used instead and nothing is updated.

    Like PyTorch's CPU kernel, the output is computed as y = x·α + β per channel with
    α = w/sqrt(var + eps) and β = b − mean·α.  Backward, with M values per channel:
    training dx = α·(g − Σg/M − x̂·Σ(g·x̂)/M); evaluation dx = g·α; dw = Σ g·x̂, db = Σ g.
    """

    def __init__(self, training, momentum=0.1, eps=1e-5, running_mean=None, running_var=None):
        self.training, self.momentum, self.eps = training, momentum, eps
        self.running_mean, self.running_var = running_mean, running_var  # arrays, updated in place

    def forward(self, x, weight=None, bias=None):
        xp = backend.array_module(x)
        self.channel_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        count = x.size // max(x.shape[1], 1)
        if self.training:
            if count <= 1:
                raise ValueError("Expected more than 1 value per channel when training, got input size "
                                 f"minigrad.Size({list(x.shape)})")
            mean = _channel_sums(x) / count
            centred = x - mean.reshape(self.channel_shape)
            var = _channel_sums(centred, centred) / count      # two passes: no cancellation
            if self.running_mean is not None:
                m = self.momentum
                self.running_mean[...] = (1 - m) * self.running_mean + m * mean
                self.running_var[...] = (1 - m) * self.running_var + m * var * (count / (count - 1))
        else:
            mean, var = self.running_mean.astype(x.dtype), self.running_var.astype(x.dtype)
            centred = None
        rstd = 1 / xp.sqrt(var + self.eps)
        alpha = rstd if weight is None else weight * rstd
        beta = -mean * alpha if bias is None else bias - mean * alpha
        self.mean, self.rstd, self.alpha, self.count = mean, rstd, alpha, count
        self.x, self.centred = (x if centred is None else None), centred
        out = x * alpha.reshape(self.channel_shape)
        out += beta.reshape(self.channel_shape)
        return out

    def backward(self, grad):
        shape = self.channel_shape
        centred = self.centred if self.centred is not None else self.x - self.mean.reshape(shape)
        grad_sum = _channel_sums(grad)
        grad_dot_xhat = _channel_sums(grad, centred) * self.rstd    # Σ g·x̂ = rstd·Σ g·(x − mean)
        gx = None
        if self.needs_grad[0]:
            gx = grad * self.alpha.reshape(shape)
            if self.training:  # the batch statistics depend on x too
                k = self.alpha * self.rstd * grad_dot_xhat / self.count
                gx -= centred * k.reshape(shape)
                gx -= (self.alpha * grad_sum / self.count).reshape(shape)
        return gx, (grad_dot_xhat if self.needs_grad[1] else None), (grad_sum if self.needs_grad[2] else None)


def _channel_sums(a, b=None):
    """Σ a (or Σ a·b) over every axis but dimension 1, the channels.

    Written as matrix products (each channel's values times a vector of ones, or times
    the same channel of b) so that BLAS does the reduction: 5× faster than
    ``a.sum(axis=(0, 2, 3))`` for a 256×61×61 image, and no temporary for a·b.
    """
    if a.ndim == 2:  # (N, C): nothing to gain
        return (a if b is None else a * b).sum(axis=0)
    xp = backend.array_module(a)
    n, c = a.shape[:2]
    if b is None:
        return backend.matmul(a.reshape(n, c, -1), xp.ones(a.size // (n * c), dtype=a.dtype)).sum(axis=0)
    return backend.matmul(a.reshape(n, c, 1, -1), b.reshape(n, c, -1, 1)).reshape(n, c).sum(axis=0)
