"""minigrad: a small, readable autograd tensor engine with PyTorch's interface.

    import minigrad as torch          # the book's code runs unchanged
    x = torch.tensor(3.5, requires_grad=True)
    y = (x - 1) * (x - 2) * (x - 3)
    y.backward()
    x.grad                            # tensor(5.7500)

NumPy does the arithmetic on the CPU and CuPy on CUDA (``device="cuda"``).
"""
import builtins as _builtins

import numpy as _np

from . import cuda, nn, optim, utils
from .autograd import enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled
from .creation import (DoubleTensor, FloatTensor, LongTensor, arange, as_tensor, cat, concat, empty, eye,
                       from_numpy, full, full_like, linspace, ones, ones_like, rand, rand_like, randint,
                       randn, randn_like, randperm, stack, tensor, zeros, zeros_like)
from .dtypes import bool, double, float, float16, float32, float64, half, int, int32, int64, long, uint8
from .random import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .devices import Size, defaults, device
from .tensor import Tensor, where
from .serialization import load, save
from . import viz  # computation-graph pictures: minigrad.viz.draw(loss, "graph.svg")
from .trace import trace  # with minigrad.trace() as t: loss.backward()
from . import accel  # the speed machinery attaches itself (MINIGRAD_ACCEL=0: the plain engine alone)

__version__ = "0.1.0"


def set_default_dtype(dtype):
    """The dtype of new floating-point tensors (float32 unless changed)."""
    dtype = _np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"only floating-point types are supported as the default type, got {dtype}")
    defaults.dtype = dtype


def get_default_dtype():
    return defaults.dtype


def set_default_device(device_):
    """Where new tensors are created: 'cpu' or 'cuda'."""
    from .devices import device_type
    kind = device_type(device_ if device_ is not None else "cpu")
    if kind == "cuda":
        from . import backend
        backend.require_cuda()
    defaults.device_type = kind


def set_default_tensor_type(t):
    """The book's ``set_default_tensor_type(torch.cuda.FloatTensor)``: default device and dtype
    from a tensor type (``FloatTensor``, ``DoubleTensor``, ``cuda.FloatTensor`` or its name)."""
    name = t if isinstance(t, str) else f"{t.__module__}.{t.__name__}"
    name = name.replace("torch.", "minigrad.")
    on_cuda = "cuda" in name
    dtype = float64 if name.endswith("DoubleTensor") else float32
    set_default_device("cuda" if on_cuda else "cpu")
    set_default_dtype(dtype)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


# functions that mirror Tensor methods (torch.exp(x) == x.exp())
def exp(x): return x.exp()
def log(x): return x.log()
def sqrt(x): return x.sqrt()
def sin(x): return x.sin()
def cos(x): return x.cos()
def abs(x): return x.abs()
def sigmoid(x): return x.sigmoid()
def tanh(x): return x.tanh()
def relu(x): return x.relu()
def clamp(x, min=None, max=None): return x.clamp(min, max)
def sum(x, dim=None, keepdim=False): return x.sum(dim, keepdim)
def mean(x, dim=None, keepdim=False): return x.mean(dim, keepdim)
def max(x, dim=None, keepdim=False): return x.max(dim, keepdim)  # (max(a, b): the larger elementwise)
def min(x, dim=None, keepdim=False): return x.min(dim, keepdim)
def maximum(a, b): return a.maximum(b)
def minimum(a, b): return a.minimum(b)
def split(x, split_size_or_sections, dim=0): return x.split(split_size_or_sections, dim)
def chunk(x, chunks, dim=0): return x.chunk(chunks, dim)
def unbind(x, dim=0): return x.unbind(dim)
def index_select(x, dim, index): return x.index_select(dim, index)
def floor_divide(a, b): return a // b
def remainder(a, b): return a % b
def argmax(x, dim=None, keepdim=False): return x.argmax(dim, keepdim)
def matmul(a, b): return a @ b
def mm(a, b): return a @ b
def reshape(x, shape): return x.reshape(shape)
def flatten(x, start_dim=0, end_dim=-1): return x.flatten(start_dim, end_dim)
def squeeze(x, dim=None): return x.squeeze(dim)
def unsqueeze(x, dim): return x.unsqueeze(dim)
def permute(x, dims): return x.permute(dims)
def transpose(x, dim0, dim1): return x.transpose(dim0, dim1)
def softmax(x, dim): return x.softmax(dim)
def log_softmax(x, dim): return x.log_softmax(dim)
def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return x.std(dim, unbiased, keepdim, correction=correction)
def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return x.var(dim, unbiased, keepdim, correction=correction)
def any(x, dim=None, keepdim=False): return x.any(dim, keepdim)
def all(x, dim=None, keepdim=False): return x.all(dim, keepdim)
def gather(x, dim, index): return x.gather(dim, index)
def sort(x, dim=-1, descending=False, stable=False): return x.sort(dim, descending, stable)
def topk(x, k, dim=-1, largest=True, sorted=True): return x.topk(k, dim, largest, sorted)
def masked_fill(x, mask, value): return x.masked_fill(mask, value)
def eq(a, b): return a == b
def ne(a, b): return a != b
def lt(a, b): return a < b
def le(a, b): return a <= b
def gt(a, b): return a > b
def ge(a, b): return a >= b


def bmm(a, b):
    """Batched matrix product of two 3-d tensors (b, n, m) @ (b, m, p)."""
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if a.ndim != 3 else "batch2 must be a 3D tensor")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0]}, "
                           f"{a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    return a @ b


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    return _builtins.bool(_np.allclose(_np.asarray(a), _np.asarray(b), rtol, atol, equal_nan))  # (bool: the dtype)
