"""Reductions over dimensions: sum, mean, max/min, softmax and log-softmax."""
import numpy as np

from .. import backend
from ..autograd import Function, run
from .shape import Scatter


def single_dim(dim, ndim, name="dim"):
    """One axis index in [0, ndim) from the int ``dim``, or PyTorch's IndexError.  Negatives
    count from the end; a 0-d tensor accepts 0 and -1, as if it had one dimension (PyTorch's
    rule).  Ops that make a new dimension (stack, unsqueeze) pass ``ndim + 1``."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"argument '{name}' must be int, not {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return int(dim) % n


def normalize_dims(dim, ndim, empty_means_all=True):
    """``dim`` (None, an int, or a tuple or list of ints) as a sorted tuple of axes.

    None reduces every axis, and so does an empty tuple for sum, mean, var and std (PyTorch's
    convention); squeeze, any and all read ``()`` as no axis (``empty_means_all=False``).
    An axis named twice is PyTorch's error, not reduced twice."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):  # the common case: one axis, nothing to repeat
        axis = single_dim(dim, ndim)
        return (axis,) if ndim else ()
    axes = tuple(single_dim(d, ndim) for d in dim)
    if not axes:
        return tuple(range(ndim)) if empty_means_all else ()
    if len(set(axes)) < len(axes):
        repeated = next(axis for i, axis in enumerate(axes) if axis in axes[:i])
        raise RuntimeError(f"dim {repeated} appears multiple times in the list of dims")
    return tuple(sorted(axes)) if ndim else ()


def check_nonempty_dim(shape, axis, name):
    """max, min, argmax and argmin along an axis of size 0 have nothing to pick: PyTorch's error."""
    if shape[axis] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size.")


def _expand_back(grad, axes, keepdim, shape):
    """Broadcast a reduced gradient back over the reduced axes."""
    xp = backend.array_module(grad)
    if not keepdim:
        grad = xp.expand_dims(grad, axes)
    return xp.broadcast_to(grad, shape)


class Sum(Function):
    """Σ over ``dim``; backward: the gradient broadcast back over the summed axes."""

    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, a):
        self.shape = a.shape
        self.axes = normalize_dims(self.dim, a.ndim)
        # integers and booleans sum to int64, as in PyTorch (NumPy gives uint64 for unsigned)
        return a.sum(axis=self.axes, keepdims=self.keepdim, dtype=np.int64 if a.dtype.kind in "biu" else None)

    def backward(self, grad):
        return _expand_back(grad, self.axes, self.keepdim, self.shape)


class Mean(Function):
    """Σ x / N over ``dim``; backward: the gradient / N broadcast back over the axes."""

    def __init__(self, dim=None, keepdim=False):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, a):
        self.shape = a.shape
        self.axes = normalize_dims(self.dim, a.ndim)
        self.count = 1
        for ax in self.axes:
            self.count *= a.shape[ax]
        if self.count == 0:  # the mean of nothing is nan, quietly as in PyTorch (NumPy warns)
            return backend.array_module(a).full_like(a.sum(axis=self.axes, keepdims=self.keepdim), np.nan)
        return a.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, grad):
        # (with N = 0 the input, and so its gradient, is empty: nothing to divide)
        return _expand_back(grad / max(self.count, 1), self.axes, self.keepdim, self.shape)


class MaxOrMin(Function):
    """max or min over all elements: the gradient is shared evenly among ties (as PyTorch)."""

    def __init__(self, largest):
        self.largest = largest

    def forward(self, a):
        if a.size == 0:
            raise RuntimeError(f"{'max' if self.largest else 'min'}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' argument.")
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
        check_nonempty_dim(a.shape, self.axis, "max" if self.largest else "min")
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
        if a.size:
            e = xp.exp(a - a.max(axis=self.axis, keepdims=True))
            out = e / e.sum(axis=self.axis, keepdims=True)
        else:  # an empty tensor's softmax is empty, as in PyTorch (NumPy has no max of nothing)
            out = a.copy()
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
        if a.size:
            shifted = a - a.max(axis=self.axis, keepdims=True)
            out = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        else:  # empty, as in PyTorch (see Softmax)
            out = a.copy()
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        xp = backend.array_module(grad)
        out, = self.saved_tensors
        return grad - xp.exp(out) * grad.sum(axis=self.axis, keepdims=True)
