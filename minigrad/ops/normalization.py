"""Normalisation layers as single graph nodes: layer norm (and batch norm)."""
from .. import backend
from ..autograd import Function


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
        mean = x.mean(axis=self.axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=self.axes, keepdims=True)
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
        batch_axes = tuple(range(grad.ndim - len(axes)))
        gw = (grad * xhat).sum(axis=batch_axes) if self.needs_grad[1:2] == (True,) else None
        gb = grad.sum(axis=batch_axes) if self.needs_grad[2:3] == (True,) else None
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
