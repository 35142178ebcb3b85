"""Normalisation layers as single graph nodes: layer norm and batch norm.

Each node checks its input and keeps the per-group mean and 1/std for backward; the
arithmetic is four functions below (``layer_norm``, ``batch_norm`` and their backward),
on the layouts they name: rows of an (N, m) array, channels of an (N, C, ...) one.
"""
import math

import numpy as np

from .. import backend
from ..autograd import Function, is_tensor


class LayerNorm(Function):
    """Normalise over the last ``len(normalized_shape)`` dimensions, then scale and shift.

    x̂ = (x - mean) / sqrt(var + eps) with the biased variance, y = x̂·w + b.
    Backward, with N values per group and ĝ = g·w:
    dx = (N·ĝ - Σĝ - x̂·Σ(ĝ·x̂)) / (N·sqrt(var + eps)).
    """

    def __init__(self, normalized_shape, eps=1e-5):
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.m = math.prod(self.normalized_shape)  # values per group

    def forward(self, x, weight=None, bias=None):
        n = len(self.normalized_shape)
        if x.shape[x.ndim - n:] != self.normalized_shape:
            raise RuntimeError(f"Given normalized_shape={list(self.normalized_shape)}, expected input with "
                               f"shape [*, {', '.join(map(str, self.normalized_shape))}], "
                               f"but got input of size{list(x.shape)}")
        self.save_for_backward(x, weight)
        self.x_shape = x.shape
        out, self.mean, self.rstd = layer_norm(self._rows(x), _flat(weight), _flat(bias), self.eps)
        return out.reshape(x.shape)

    def backward(self, grad):
        x, weight = self.saved_tensors
        mean, rstd = self.mean, self.rstd
        if is_tensor(grad):  # recorded: the statistics are functions of x, computed again in the graph
            _, mean, rstd = layer_norm(self._rows(x), None, None, self.eps)
        gx, gw, gb = layer_norm_backward(self._rows(grad), self._rows(x), _flat(weight), mean, rstd,
                                         self.needs_grad)
        shape = self.normalized_shape
        return (None if gx is None else gx.reshape(self.x_shape), None if gw is None else gw.reshape(shape),
                None if gb is None else gb.reshape(shape))

    def _rows(self, array):
        """(rows, m): one row per normalised group."""
        return array.reshape(math.prod(array.shape[:array.ndim - len(self.normalized_shape)]), self.m)


def _flat(array):
    return None if array is None else array.reshape(-1)


class BatchNorm(Function):
    """Normalise each channel (dimension 1) over the batch and every position, then scale
    and shift, as ``torch.nn.functional.batch_norm``.

    Training: x̂ = (x − mean) / sqrt(var + eps) with the batch's mean and *biased*
    variance over the M = N·H·W values of each channel, and the running estimates move
    towards the batch's: running = (1 − momentum)·running + momentum·batch, using the
    *unbiased* variance var·M/(M − 1) (PyTorch's convention).  Evaluation: the running
    mean and variance are used instead and nothing is updated.

    Backward, with α = w/sqrt(var + eps): training dx = α·(g − Σg/M − x̂·Σ(g·x̂)/M),
    evaluation dx = g·α; dw = Σ g·x̂, db = Σ g.
    """

    def __init__(self, training, momentum=0.1, eps=1e-5, running_mean=None, running_var=None):
        self.training, self.momentum, self.eps = training, momentum, eps
        self.running_mean, self.running_var = running_mean, running_var  # arrays, updated in place

    def forward(self, x, weight=None, bias=None):
        if self.training and x.size // max(x.shape[1], 1) <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input size "
                             f"minigrad.Size({list(x.shape)})")
        self.save_for_backward(x, weight)
        out, self.mean, self.rstd = batch_norm(x, weight, bias, self.eps, self.running_mean, self.running_var,
                                               self.momentum, self.training)
        return out

    def backward(self, grad):
        x, weight = self.saved_tensors
        mean, rstd = self.mean, self.rstd
        if is_tensor(grad) and self.training:  # recorded: the batch statistics are functions of x
            _, mean, rstd = batch_norm(x, None, None, self.eps, None, None, 0.0, True)
        gx, gw, gb = batch_norm_backward(grad, x, weight, mean, rstd, self.training, self.needs_grad[0])
        return gx, (gw if self.needs_grad[1] else None), (gb if self.needs_grad[2] else None)


# --- the arithmetic ------------------------------------------------------------------------

def layer_norm(x, weight, bias, eps):
    """x (rows, m) → (x̂·weight + bias, mean, rstd) with x̂ = (x − mean)·rstd,
    rstd = 1/sqrt(var + eps), mean and biased var per row."""
    xp = backend.array_module(x)
    m = x.shape[1]
    # sum / m is what ndarray.mean computes, without its Python-level overhead
    mean = x.sum(axis=1, keepdims=True) / m
    centred = x - mean
    var = (centred * centred).sum(axis=1, keepdims=True) / m
    rstd = 1 / xp.sqrt(var + eps)
    out = centred * rstd
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out, mean[:, 0], rstd[:, 0]


def layer_norm_backward(grad, x, weight, mean, rstd, needs):
    """With ĝ = grad·weight: dx = rstd/m·(m·ĝ − Σĝ − x̂·Σĝx̂) per row; dweight = Σ grad·x̂,
    dbias = Σ grad over the rows.  ``needs`` says which of (dx, dweight, dbias) to compute."""
    mean, rstd = mean[:, None], rstd[:, None]
    xhat = (x - mean) * rstd
    gx = gw = gb = None
    if needs[0]:
        g = grad * weight if weight is not None else grad
        m = x.shape[1]
        gx = (m * g - g.sum(axis=1, keepdims=True) - xhat * (g * xhat).sum(axis=1, keepdims=True)) * (rstd / m)
    if needs[1]:
        gw = (grad * xhat).sum(axis=0)
    if needs[2]:
        gb = grad.sum(axis=0)
    return gx, gw, gb


def batch_norm(x, weight, bias, eps, running_mean, running_var, momentum, training):
    """x (N, C, ...) → (y, mean, rstd) per channel, with the batch's mean and biased variance
    (``training``, moving the running estimates by ``momentum``, with the unbiased variance)
    or the running ones.  Like PyTorch's CPU kernel, y = x·α + β with α = w·rstd and
    β = b − mean·α."""
    xp = backend.array_module(x)
    channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        count = math.prod(x.shape) // x.shape[1]
        mean = _channel_sums(x) / count
        centred = x - mean.reshape(channel)
        var = _channel_sums(centred, centred) / count
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * var * (count / (count - 1))
    else:
        mean, var = running_mean.copy(), running_var.copy()  # kept for backward; training moves the originals
    rstd = 1 / xp.sqrt(var + eps)
    alpha = rstd if weight is None else weight * rstd
    beta = -mean * alpha if bias is None else bias - mean * alpha
    out = x * alpha.reshape(channel)
    out += beta.reshape(channel)
    return out, mean, rstd


def batch_norm_backward(grad, x, weight, mean, rstd, training, needs_x):
    """With α = w·rstd and M values per channel: training dx = α·(g − Σg/M − x̂·Σ(g·x̂)/M),
    evaluation dx = α·g; returns (dx or None, Σ g·x̂ = dweight, Σ g = dbias)."""
    channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    centred = x - mean.reshape(channel)
    grad_sum = _channel_sums(grad)
    grad_dot_xhat = _channel_sums(grad, centred) * rstd    # Σ g·x̂ = rstd·Σ g·(x − mean)
    gx = None
    if needs_x:
        alpha = rstd if weight is None else weight * rstd
        gx = grad * alpha.reshape(channel)
        if training:  # the batch statistics depend on x too
            count = math.prod(x.shape) // x.shape[1]
            gx -= centred * (alpha * rstd * grad_dot_xhat / count).reshape(channel)
            gx -= (alpha * grad_sum / count).reshape(channel)
    return gx, grad_dot_xhat, grad_sum


def _channel_sums(a, b=None):
    """Σ a (or Σ a·b) over every axis but dimension 1, the channels.

    Written as matrix products (each channel's values times a vector of ones, or times
    the same channel of b) so that BLAS does the reduction, with no temporary for a·b (faster
    than ``a.sum(axis=(0, 2, 3))`` and ``(a * b).sum(...)`` on the book's images).
    """
    if a.ndim == 2 or 0 in a.shape or not (type(a) is np.ndarray or backend.is_gpu_array(a)):  # (N, C), nothing
        # to sum, or tensors (a recorded backward)
        return (a if b is None else a * b).sum(axis=tuple(i for i in range(a.ndim) if i != 1))
    xp = backend.array_module(a)
    n, c = a.shape[:2]
    if b is None:
        return backend.matmul(a.reshape(n, c, -1), xp.ones(a.size // (n * c), dtype=a.dtype)).sum(axis=0)
    return backend.matmul(a.reshape(n, c, 1, -1), b.reshape(n, c, -1, 1)).reshape(n, c).sum(axis=0)
