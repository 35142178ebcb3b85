"""Reductions over dimensions: sum, mean, max/min, softmax and log-softmax."""
import numpy as np

from .. import backend
from ..autograd import Function, run
from .shape import Scatter


def normalize_dims(dim, ndim):
    """``dim`` (None, int or tuple, negatives allowed) as a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    result = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {d})")
        result.append(d % max(ndim, 1))
    return tuple(sorted(set(result))) if ndim else ()


def single_dim(dim, ndim, name="dim"):
    """One axis index from the int ``dim``; a 0-d tensor accepts 0 and -1, as in PyTorch."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"argument '{name}' must be int, not {type(dim).__name__}")
    axes = normalize_dims(int(dim), ndim)
    return axes[0] if axes else 0


def _expand_back(grad, axes, keepdim, shape):
    """Broadcast a reduced gradient back over the reduced axes."""
    xp = backend.array_module(grad)
    if not keepdim:
        grad = xp.expand_dims(grad, axes)
    return xp.broadcast_to(grad, shape)


class Sum(Function):
    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, a):
        self.shape = a.shape
        self.axes = normalize_dims(self.dim, a.ndim)
        return a.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, grad):
        return _expand_back(grad, self.axes, self.keepdim, self.shape)


class Mean(Function):
    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, a):
        self.shape = a.shape
        self.axes = normalize_dims(self.dim, a.ndim)
        self.count = 1
        for ax in self.axes:
            self.count *= a.shape[ax]
        return a.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, grad):
        return _expand_back(grad / self.count, self.axes, self.keepdim, self.shape)


class MaxOrMin(Function):
    """max or min over all elements: the gradient is shared evenly among ties (as PyTorch)."""

    def __init__(self, largest):
        self.largest = largest

    def forward(self, a):
        if a.size == 0:
            raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() == 0.")
        out = a.max() if self.largest else a.min()
        if isinstance(out, np.generic):
            out = np.asarray(out)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved_tensors
        hit = a == out
        return hit * (grad / hit.sum())


class MaxOrMinAlongDim(Function):
    """Values of max/min along ``dim``; the gradient flows to the selected index."""

    def __init__(self, dim, keepdim, largest):
        self.dim, self.keepdim, self.largest = dim, keepdim, largest

    def forward(self, a):
        xp = backend.array_module(a)
        self.shape = a.shape
        self.axis = single_dim(self.dim, a.ndim)
        if a.ndim == 0:
            self.indices = xp.zeros((), dtype=xp.int64)
            return a.copy()
        pick = xp.argmax if self.largest else xp.argmin
        self.indices = xp.expand_dims(pick(a, axis=self.axis), self.axis)
        values = xp.take_along_axis(a, self.indices, axis=self.axis)
        if not self.keepdim:
            values = values.squeeze(self.axis)
        return values

    def backward(self, grad):
        if len(self.shape) == 0:
            return grad
        if not self.keepdim:
            grad = backend.array_module(grad).expand_dims(grad, self.axis)
        # the gradient goes to the selected positions: (i, j, index[i, j], ...) along the axis
        xp, ndim = backend.array_module(self.indices), len(self.shape)
        index = tuple(self.indices if d == self.axis else
                      xp.arange(n).reshape([-1 if k == d else 1 for k in range(ndim)])
                      for d, n in enumerate(self.shape))
        return run(Scatter(index, self.shape, unique=True), grad)


class Softmax(Function):
    """softmax(x)_i = e^(x_i - max) / Σ_j e^(x_j - max); backward: s·(g - Σ g·s)."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, a):
        xp = backend.array_module(a)
        self.axis = single_dim(self.dim, a.ndim)
        e = xp.exp(a - a.max(axis=self.axis, keepdims=True))
        out = e / e.sum(axis=self.axis, keepdims=True)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        s, = self.saved_tensors
        return s * (grad - (grad * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """log_softmax(x) = x - max - log Σ e^(x - max); backward: g - softmax·Σ g."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, a):
        xp = backend.array_module(a)
        self.axis = single_dim(self.dim, a.ndim)
        shifted = a - a.max(axis=self.axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        xp = backend.array_module(grad)
        out, = self.saved_tensors
        return grad - xp.exp(out) * grad.sum(axis=self.axis, keepdims=True)
