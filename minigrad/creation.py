"""Functions that make new tensors, with PyTorch's names and defaults."""
import numpy as np

from . import backend, random
from .ops import shape as shape_ops  # (shape: a common argument name)
from .devices import defaults, device_type
from .tensor import Tensor, as_array, check_same_device, data_or_sizes
from .ops.reduction import single_dim
from .promotion import promote_types  # (after .tensor: promotion reads it)


def _shape(size):
    """Sizes given as ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(n) for n in size)


def _new(array, dtype, device, requires_grad):
    """A tensor of values computed on the host (random draws, ranges): cast, then moved."""
    dtype = np.dtype(dtype) if dtype is not None else defaults.dtype
    array = backend.move(array.astype(dtype, copy=False), device_type(device))
    return Tensor._make(array).requires_grad_(requires_grad)


def _allocated(make, size, dtype, device, requires_grad):
    """A tensor made in its dtype on its device at once: ``make(xp, shape, dtype)``."""
    dtype = np.dtype(dtype) if dtype is not None else defaults.dtype
    xp = backend.module_for(device_type(device))
    return Tensor._make(make(xp, _shape(size), dtype)).requires_grad_(requires_grad)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays)."""
    array = as_array(data, dtype, device_type(device) if device is not None else None)
    if array is getattr(data, "array", data):
        array = array.copy()
    return Tensor._make(array).requires_grad_(requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array when it can."""
    return Tensor._make(as_array(data, dtype, device_type(device) if device is not None else None))


def from_numpy(array):
    return Tensor._make(np.asarray(array))


def typed_tensor(dtype, args, device=None):
    """PyTorch's legacy constructors: ``FloatTensor([1, 2])`` from data, ``FloatTensor(2, 3)``
    zeros of that size."""
    values, shape = data_or_sizes(args)
    if values is None:
        return zeros(*shape, dtype=dtype, device=device)
    return Tensor._make(as_array(values, dtype, device))


def FloatTensor(*data):
    """A float32 tensor from a list or array (``FloatTensor(sizes...)`` makes zeros)."""
    return typed_tensor(np.float32, data)


def DoubleTensor(*data):
    return typed_tensor(np.float64, data)


def LongTensor(*data):
    return typed_tensor(np.int64, data)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _allocated(lambda xp, shape, dtype: xp.zeros(shape, dtype), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _allocated(lambda xp, shape, dtype: xp.ones(shape, dtype), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, bool):
        dtype = np.bool_
    elif dtype is None and isinstance(fill_value, int):
        dtype = np.int64
    return _allocated(lambda xp, shape, dtype: xp.full(shape, fill_value, dtype), (size,), dtype, device,
                      requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """Memory of the size asked for, not set to anything (as PyTorch's): fill it before use."""
    return _allocated(lambda xp, shape, dtype: xp.empty(shape, dtype), size, dtype, device, requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform random numbers in [0, 1)."""
    _check_floating("rand", dtype)
    return _new(random.uniform(0.0, 1.0, _shape(size), np.float64), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal random numbers."""
    _check_floating("randn", dtype)
    return _new(random.normal(0.0, 1.0, _shape(size), np.float64), dtype, device, requires_grad)


def _check_floating(name, dtype):
    """Draws in [0, 1) or from N(0, 1) cast to integers would be zeros, not random: refused."""
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise NotImplementedError(f"{name}: random floats can't be drawn in dtype {np.dtype(dtype)}; "
                                  "use randint for integers")


def rand_like(t, dtype=None, device=None):
    return rand(t.shape, dtype=dtype or t.dtype, device=device or t.device)


def randn_like(t, dtype=None, device=None):
    return randn(t.shape, dtype=dtype or t.dtype, device=device or t.device)


def randint(low, high=None, size=(), dtype=None, device=None):
    if high is None:
        low, high = 0, low
    return _new(random.randint(low, high, _shape((size,))), dtype or np.int64, device, False)


def randperm(n, generator=None, dtype=None, device=None):
    """A random order of 0 … n-1, from ``generator`` (default: minigrad's own)."""
    order = (generator if generator is not None else random.default_generator).permutation(n)
    return _new(order, dtype or np.int64, device, False)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Like PyTorch: integers give int64, any float argument gives the default float dtype."""
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = np.int64 if values.dtype.kind in "iu" else defaults.dtype
    return _new(values, dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _new(np.linspace(start, end, steps), dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _allocated(lambda xp, shape, dtype: xp.eye(n, m, dtype=dtype), (), dtype, device, requires_grad)


def _same_device(tensors, name):
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError(f"{name}(): expected a non-empty list of Tensors")
    check_same_device(*tensors)
    return tensors


def _promoted(tensors):
    """The tensors in their common dtype, PyTorch's (float32 with int64 is float32, not NumPy's
    float64); ``.to`` is differentiable, so each gradient comes back in its input's own dtype."""
    dtype = promote_types(*(t.dtype for t in tensors))
    return [t if t.dtype == dtype else t.to(dtype) for t in tensors]


def cat(tensors, dim=0):
    """Join tensors along an existing dimension."""
    tensors = _same_device(tensors, "cat")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    # PyTorch's legacy rule: empty 1-d tensors are left out (``out = cat([out, x])`` from
    # ``out = tensor([])``), though their dtype still counts
    promoted = _promoted(tensors)
    kept = [(t, p) for t, p in zip(tensors, promoted) if t.shape != (0,)] or list(zip(tensors, promoted))
    tensors, promoted = [t for t, _ in kept], [p for _, p in kept]
    ndim = tensors[0].ndim
    axis = single_dim(dim, ndim)
    for i, t in enumerate(tensors):
        if t.ndim != ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ndim} and {t.ndim}")
        if t.shape[:axis] + t.shape[axis + 1:] != tensors[0].shape[:axis] + tensors[0].shape[axis + 1:]:
            raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. Expected size "
                               f"{list(tensors[0].shape)} but got size {list(t.shape)} for tensor number {i} "
                               "in the list.")
    return shape_ops.Cat(axis)(*promoted)


concat = cat


def stack(tensors, dim=0):
    """Join tensors of equal shape along a new dimension."""
    tensors = _same_device(tensors, "stack")
    axis = single_dim(dim, tensors[0].ndim + 1)  # (one more place than dimensions: the new one)
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} "
                               f"at entry 0 and {list(t.shape)} at entry {i}")
    return shape_ops.Stack(axis)(*_promoted(tensors))
