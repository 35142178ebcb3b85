"""NumPy's function names for tensors: the array module of a backward pass that is recorded.

Each op's backward is written once, against an array module ``xp`` (``backend.array_module``
of its values).  On arrays that is NumPy or CuPy: the fast first-order pass.  With
``create_graph=True`` the values are tensors, whose ``__array_namespace__`` (the Array API
standard's hook) is this module: every function here is a differentiable minigrad operation,
so the same formula builds a graph that can be differentiated again.  Arrays passed in are
constants.
"""
import numpy as np

from ..autograd import function
from . import elementwise


def _tensor(x):
    if isinstance(x, function.Tensor):
        return x
    return function.Tensor._make(np.asarray(x) if isinstance(x, (np.generic, float, int)) else x)


def exp(x):
    return _tensor(x).exp()


def log(x):
    return _tensor(x).log()


def sqrt(x):
    return _tensor(x).sqrt()


def tanh(x):
    return _tensor(x).tanh()


def sin(x):
    return _tensor(x).sin()


def cos(x):
    return _tensor(x).cos()


def erf(x):
    return elementwise.Erf()(_tensor(x))


def sign(x):
    """Piecewise constant: no gradient."""
    x = _tensor(x)
    return _tensor(x.array_module.sign(x.array))


def floor_divide(a, b):
    """⌊a/b⌋, piecewise constant: no gradient (PyTorch's floor-rounded division has none)."""
    a, b = _tensor(a), _tensor(b)
    return _tensor(a.array_module.floor_divide(a.array, b.array))


def where(condition, a, b):
    condition = condition.array if isinstance(condition, function.Tensor) else condition
    return elementwise.Where(condition)(a, b)


def maximum(a, b):
    """The larger value; the gradient goes to ``a`` where they are equal (as ``clamp``)."""
    return where(_values(a) >= _values(b), a, b)


def _values(x):
    return x.array if isinstance(x, function.Tensor) else x


def expand_dims(x, axis):
    x = _tensor(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = x.ndim + len(axes)
    axes = sorted(a % ndim for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return x.reshape(tuple(shape))


def broadcast_to(x, shape):
    return _tensor(x).expand(tuple(shape))


def swapaxes(x, axis1, axis2):
    return _tensor(x).transpose(axis1, axis2)


def transpose(x, axes):
    return _tensor(x).permute(tuple(axes))


def copy(x):
    return _tensor(x).clone()


def zeros_like(x, dtype=None):
    x = _tensor(x)
    return function.Tensor._make(x.array_module.zeros_like(x.array, dtype=dtype))
