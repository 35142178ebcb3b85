"""The Tensor: an n-dimensional array that remembers how it was computed.

A tensor holds its values in ``.array`` (a NumPy array on the CPU, a CuPy array on
CUDA).  If it ``requires_grad``, operations on it record a graph (see ``autograd``),
and ``backward()`` fills ``.grad`` of every leaf it depends on.  Method names,
arguments and printing follow PyTorch.
"""
import numpy as np

from . import autograd, backend, user_warnings
from .autograd import engine, function, inplace
from .autograd.function import AutogradMeta, VersionCounter
from .ops import array_api, elementwise, linalg, reduction, shape as shape_ops  # (shape: a common argument name)

from .devices import Size, defaults, device, device_type
from .dtypes import float32, float64, int64, scalar_name
from .printing import tensor_repr
from .promotion import promote_types, result_dtype


def as_array(data, dtype=None, device_type_=None):
    """Turn Python numbers, nested lists, NumPy/CuPy arrays or tensors into an array.

    Python floats become the default dtype (float32) and Python ints int64, as in
    PyTorch; arrays keep their dtype unless ``dtype`` is given.  The array goes to
    ``device_type_``, else stays on the GPU if it is there, else to the default device.
    """
    if isinstance(data, Tensor):
        data = data.array
    if not backend.is_gpu_array(data) and hasattr(data, "__cuda_array_interface__"):
        # another library's GPU array (a torch CUDA tensor, numba)
        data = backend.module_for("cuda").asarray(data)
    on_gpu = backend.is_gpu_array(data)
    if not on_gpu and not isinstance(data, np.ndarray):
        from_python = not hasattr(data, "__array__")  # lists and numbers, not torch tensors
        if from_python and isinstance(_first_leaf(data), Tensor):
            kinds = []
            data = _tensors_as_numbers(data, kinds)
            dtype = promote_types(*kinds) if dtype is None else dtype  # the widest float, else integer
        data = np.asarray(data)
        if data.dtype.kind not in "biuf":
            raise TypeError(f"can't convert a value of dtype {data.dtype} to a tensor "
                            "(numbers, nested lists of numbers and arrays are supported)")
        if from_python and dtype is None and data.dtype == float64:
            data = data.astype(defaults.dtype)
    if dtype is not None:
        data = data.astype(np.dtype(dtype), copy=False)
    target = device_type_ or ("cuda" if on_gpu else defaults.device_type)
    return backend.move(data, target)


NON_LEAF_GRAD = ("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
                 "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
                 "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf "
                 "Tensor by mistake, make sure you access the leaf Tensor instead.")


def data_or_sizes(args):
    """What PyTorch's legacy constructors (``Tensor(...)``, ``FloatTensor(...)``) were given:
    (data, None), or (None, shape) for sizes (ints or one Size; none: an empty tensor)."""
    if len(args) == 1 and isinstance(args[0], Size):
        args = tuple(args[0])
    if all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in args):
        if any(n < 0 for n in args):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(args)}: {list(args)}")
        return None, tuple(args) or (0,)
    if len(args) == 1:
        return args[0], None
    raise TypeError(f"expected data or sizes (ints), but got {len(args)} arguments of types "
                    f"{', '.join(type(a).__name__ for a in args)}")


def _first_leaf(data):
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return data


def _tensors_as_numbers(data, dtypes):
    """Tensors inside a list are read as numbers, as PyTorch reads them (``item()``):
    [tensor(1.), tensor([2.])] is [1., 2.]; a tensor of several elements is an error.
    Each number's dtype goes to ``dtypes``: a tensor's own, a Python number's as PyTorch reads it."""
    if isinstance(data, Tensor):
        if data.array.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        dtypes.append(data.array.dtype)
        return data.item()
    if isinstance(data, (list, tuple)):
        return [_tensors_as_numbers(d, dtypes) for d in data]
    dtypes.append(np.dtype(bool) if isinstance(data, bool) else np.dtype(int64) if isinstance(data, int)
                  else np.dtype(defaults.dtype))
    return data


class Tensor:
    """An array with an optional gradient and a link to the operation that made it.

    ``Tensor(data)`` builds a float tensor like ``torch.Tensor``; prefer
    ``minigrad.tensor(data, dtype=..., requires_grad=...)``.
    """

    # _version_counter: bumped by every in-place change (shared with views; see autograd);
    # _meta: what only some tensors need (view of which base, hooks, output number)
    __slots__ = ("array", "_grad", "requires_grad", "grad_fn", "_version_counter", "_meta", "__weakref__")

    def __init__(self, *data, requires_grad=False, dtype=None, device=None):
        """``Tensor(data)`` from data; ``Tensor(2, 3)`` or ``Tensor(size)``: zeros of that shape
        (PyTorch leaves that memory uninitialised); ``Tensor()``: empty."""
        values, shape = data_or_sizes(data)
        if values is None:
            values = np.zeros(shape, defaults.dtype)
        array = as_array(values, dtype, device_type(device) if device is not None else None)
        if dtype is None and array.dtype.kind != "f":
            array = array.astype(defaults.dtype)
        self._wrap(array)
        self.requires_grad_(requires_grad)

    def _wrap(self, array, requires_grad=False, grad_fn=None):
        self.array, self._grad, self.requires_grad, self.grad_fn = array, None, requires_grad, grad_fn
        self._version_counter, self._meta = None, None

    @classmethod
    def _make(cls, array, requires_grad=False, grad_fn=None):
        """Wrap an array without any checks (used by every operation)."""
        t = object.__new__(Tensor)
        t.array, t._grad, t.requires_grad, t.grad_fn = array, None, requires_grad, grad_fn
        t._version_counter, t._meta = None, None
        return t

    # --- attributes ------------------------------------------------------------------
    @property
    def data(self):
        """The values as a tensor outside the graph, sharing memory but not the version
        counter: changes through ``.data`` are invisible to autograd (as in PyTorch)."""
        return Tensor._make(self.array)

    @data.setter
    def data(self, value):
        self.array = value.array if isinstance(value, Tensor) else as_array(value)

    @property
    def grad(self):
        """The gradient backward() accumulated (leaves, and tensors that ``retain_grad()``)."""
        if self._grad is None and self.grad_fn is not None and not self.retains_grad:
            user_warnings.warn(NON_LEAF_GRAD)  # the learner's usual "why is my grad None?"
        return self._grad

    @grad.setter
    def grad(self, value):
        """An assigned gradient must fit (PyTorch's checks): an optimiser would otherwise
        broadcast a gradient of another shape into the weights without a word."""
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value.array.dtype != self.array.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype '{scalar_name(value.dtype)}' to a "
                                   f"tensor with dtype '{scalar_name(self.dtype)}'")
            if value.array.shape != self.array.shape:
                raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of "
                                   f"size '{list(self.shape)}'. Please ensure that the gradient and the tensor are "
                                   "the same size")
            if type(value.array) is not type(self.array):
                check_same_device(self, value)
        self._grad = value

    @property
    def shape(self):
        return Size(self.array.shape)

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        if not backend.is_gpu_array(self.array):
            return device("cpu")
        return device("cuda", self.array.device.id)

    @property
    def is_cuda(self):
        return backend.is_gpu_array(self.array)

    @property
    def array_module(self):
        """``numpy`` or ``cupy``, whichever holds this tensor."""
        return backend.array_module(self.array)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        """How many in-place changes this tensor's storage has seen."""
        if self._version_counter is None and self._meta is None:
            return 0
        return self._counter().value

    def _counter(self):
        """The version counter, made when first needed (most tensors are never changed in
        place); a view's is its base's."""
        if self._version_counter is None:
            base = None if self._meta is None else self._meta.base
            self._version_counter = VersionCounter() if base is None else base._counter()
        return self._version_counter

    def _bump_version(self):
        self._counter().bump()

    @property
    def _base(self):
        """The tensor this one is a view of (sharing its storage), or None."""
        return None if self._meta is None else self._meta.base

    def _is_view(self):
        return self._base is not None

    @property
    def output_nr(self):
        """Which output of its ``grad_fn`` this tensor is (0 but for multi-output Functions)."""
        return 0 if self._meta is None else self._meta.output_nr

    @output_nr.setter
    def output_nr(self, value):
        if value or self._meta is not None:
            self._autograd_meta().output_nr = value

    @property
    def hooks(self):
        """A leaf's gradient hooks (a non-leaf's live on its grad_fn)."""
        return None if self._meta is None else self._meta.hooks

    def _autograd_meta(self):
        if self._meta is None:
            self._meta = AutogradMeta()
        return self._meta

    @property
    def ndim(self):
        return self.array.ndim

    def size(self, dim=None):
        return self.shape if dim is None else self.array.shape[dim]

    def dim(self):
        return self.array.ndim

    def numel(self):
        return self.array.size

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after ``backward()``."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None and not self.retains_grad:
            function.add_hook(self.grad_fn, ("retain", self))

    @property
    def retains_grad(self):
        return self.grad_fn is not None and any(kind == "retain" and t is self for kind, t in self.grad_fn.hooks or ())

    # --- autograd --------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor with respect to every leaf that needs one
        (or only to ``inputs``), accumulated into their ``.grad``.

        ``gradient`` is d(something)/d(self); it may be left out for a scalar, where it
        is 1.  The graph is freed afterwards unless ``retain_graph=True``; with
        ``create_graph=True`` the backward pass is recorded too (gradients of gradients).
        """
        engine.backward(self, None if gradient is None else (gradient,), retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """``hook(grad)`` is called with this tensor's gradient when it has been computed;
        if it returns a tensor, that is used instead.  Returns a handle with ``.remove()``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn.register_tensor_hook(self.output_nr, hook)
        meta = self._autograd_meta()
        if meta.hooks is None:
            meta.hooks = []
        meta.hooks.append(hook)
        return function.RemovableHandle(meta.hooks, hook)

    def detach(self):
        """The same values, cut off from the graph (shares memory and the version counter)."""
        t = Tensor._make(self.array)
        t._version_counter = self._counter()
        return t

    def detach_(self):
        self.grad_fn, self.requires_grad = None, False
        return self

    # --- conversion ------------------------------------------------------------------
    def item(self):
        if self.array.size != 1:
            raise RuntimeError(f"a Tensor with {self.array.size} elements cannot be converted to Scalar")
        return backend.move(self.array, "cpu").item()

    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        if self.is_cuda:
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. "
                            "Use Tensor.cpu() to copy the tensor to host memory first.")
        return self.array

    def tolist(self):
        return backend.move(self.array, "cpu").tolist()

    # PyTorch's arrangement with NumPy: a higher priority makes NumPy hand ``numpy_number +
    # tensor`` and ``array * tensor`` to the tensor's operators (which keep the graph), and a
    # NumPy function of a tensor (``np.exp(t)``, through ``__array__``) comes back as a tensor
    __array_priority__ = 1000

    def __array_wrap__(self, array, context=None, return_scalar=False):
        return Tensor._make(array)

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __format__(self, spec):
        """``f"{loss:.4f}"``: a 0-d tensor formats as its number, as in PyTorch."""
        if self.array.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)  # (a format spec for many numbers: PyTorch's TypeError)

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.array.item())

    def to(self, *args, dtype=None, device=None, copy=False):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other_tensor)``;
        returns ``self`` when nothing changes, a differentiable copy otherwise."""
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, (np.dtype, type)):
                dtype = np.dtype(arg)
            else:
                device = arg
        target_type = backend.device_type_of(self.array) if device is None else device_type(device)
        target_dtype = self.array.dtype if dtype is None else np.dtype(dtype)
        if target_type == "cuda":
            backend.require_cuda()
        if not copy and target_type == backend.device_type_of(self.array) and target_dtype == self.array.dtype:
            return self
        return shape_ops.Copy(target_type, target_dtype)(self)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda")

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def long(self):
        return self.to(int64)

    def type(self, dtype=None):
        if dtype is None:
            return {float32: "minigrad.FloatTensor", float64: "minigrad.DoubleTensor",
                    int64: "minigrad.LongTensor"}.get(self.dtype, f"minigrad.{self.dtype}")
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    # PyTorch's new_*: a new tensor with this one's dtype and device unless told otherwise
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        from . import creation  # (creation builds on this module)
        return creation.tensor(data, dtype or self.dtype, device or self.device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        from . import creation
        return creation.zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                              requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        from . import creation
        return creation.ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                             requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        from . import creation
        return creation.full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                             requires_grad=requires_grad)

    def clone(self):
        return shape_ops.Clone()(self)

    # --- arithmetic ------------------------------------------------------------------
    def __add__(self, other):
        return binary(elementwise.Add, self, other)

    def __radd__(self, other):
        return binary(elementwise.Add, other, self)

    def __sub__(self, other):
        return binary(elementwise.Sub, self, other)

    def __rsub__(self, other):
        return binary(elementwise.Sub, other, self)

    def __mul__(self, other):
        return binary(elementwise.Mul, self, other)

    def __rmul__(self, other):
        return binary(elementwise.Mul, other, self)

    def __truediv__(self, other):
        return binary(elementwise.Div, self, other, true_division=True)

    def __rtruediv__(self, other):
        return binary(elementwise.Div, other, self, true_division=True)

    def __pow__(self, other):
        return binary(elementwise.Pow, self, other)

    def __rpow__(self, other):
        return binary(elementwise.Pow, other, self)

    def __floordiv__(self, other):
        return binary(elementwise.FloorDivide, self, other)

    def __rfloordiv__(self, other):
        return binary(elementwise.FloorDivide, other, self)

    def __mod__(self, other):
        return binary(elementwise.Remainder, self, other)

    def __rmod__(self, other):
        return binary(elementwise.Remainder, other, self)

    floor_divide, remainder = __floordiv__, __mod__

    def maximum(self, other):
        return binary(elementwise.Maximum, self, other)

    def minimum(self, other):
        return binary(elementwise.Minimum, self, other)

    def __matmul__(self, other):
        return linalg.MatMul()(self, _check_device(self, other))

    def __rmatmul__(self, other):
        return linalg.MatMul()(_check_device(self, other), self)

    def __neg__(self):
        if self.array.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                               "invert a mask, use the `~` or `logical_not()` operator instead.")
        return elementwise.Neg()(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return elementwise.Abs()(self)

    def add(self, other, alpha=1):
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, alpha=1):
        return self - (other if alpha == 1 else other * alpha)

    mul, div, pow, matmul = __mul__, __truediv__, __pow__, __matmul__

    # --- in place: the tensor's own storage changes, and every alias and view sees it ----
    # (autograd/inplace.py: PyTorch's rules for leaves, versions and the graph)
    def __iadd__(self, other):
        return inplace.modify(self, Tensor.__add__, other)

    def __isub__(self, other):
        return inplace.modify(self, Tensor.__sub__, other)

    def __imul__(self, other):
        return inplace.modify(self, Tensor.__mul__, other)

    def __itruediv__(self, other):
        return inplace.modify(self, Tensor.__truediv__, other)

    def add_(self, other, alpha=1):
        return inplace.modify(self, Tensor.add, other, alpha)

    def sub_(self, other, alpha=1):
        return inplace.modify(self, Tensor.sub, other, alpha)

    def mul_(self, other):
        return inplace.modify(self, Tensor.__mul__, other)

    def div_(self, other):
        return inplace.modify(self, Tensor.__truediv__, other)

    def pow_(self, exponent):
        return inplace.modify(self, Tensor.__pow__, exponent)

    def neg_(self):
        return inplace.modify(self, Tensor.__neg__)

    def exp_(self):
        return inplace.modify(self, Tensor.exp)

    def sigmoid_(self):
        return inplace.modify(self, Tensor.sigmoid)

    def tanh_(self):
        return inplace.modify(self, Tensor.tanh)

    def relu_(self):
        return inplace.modify(self, Tensor.relu)

    def leaky_relu_(self, negative_slope=0.01):
        return inplace.modify(self, lambda t: elementwise.LeakyRelu(negative_slope)(t))

    def clamp_(self, min=None, max=None):
        return inplace.modify(self, Tensor.clamp, min, max)

    clip_ = clamp_

    def copy_(self, src):
        """Copy ``src``'s values (broadcast, cast, moved to this tensor's device) into this tensor."""
        return inplace.modify(self, shape_ops.overwrite, src)

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} "
                               "dimensions.")
        return inplace.modify(self, shape_ops.overwrite, value)

    def uniform_(self, a=0.0, b=1.0):
        from . import random
        return inplace.modify(self, shape_ops.overwrite, random.uniform(a, b, self.array.shape, self.array.dtype))

    def normal_(self, mean=0.0, std=1.0):
        from . import random
        return inplace.modify(self, shape_ops.overwrite, random.normal(mean, std, self.array.shape, self.array.dtype))

    # comparisons give boolean tensors outside the graph
    def __eq__(self, other):
        return _outside_graph(self.array == _raw(other))

    def __ne__(self, other):
        return _outside_graph(self.array != _raw(other))

    def __lt__(self, other):
        return _outside_graph(self.array < _raw(other))

    def __le__(self, other):
        return _outside_graph(self.array <= _raw(other))

    def __gt__(self, other):
        return _outside_graph(self.array > _raw(other))

    def __ge__(self, other):
        return _outside_graph(self.array >= _raw(other))

    __hash__ = object.__hash__

    # logical operators of boolean (and integer) tensors, outside the graph
    def __and__(self, other):
        return _outside_graph(self.array & _raw(other))

    def __or__(self, other):
        return _outside_graph(self.array | _raw(other))

    def __xor__(self, other):
        return _outside_graph(self.array ^ _raw(other))

    def __invert__(self):
        return _outside_graph(~self.array)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __array_namespace__(self, api_version=None):
        """NumPy's function names for tensors (``ops/array_api.py``): a backward formula
        written for arrays runs on tensors, recorded."""
        return array_api

    # --- elementwise functions -------------------------------------------------------
    def exp(self):
        return elementwise.Exp()(self._floating())

    def log(self):
        return elementwise.Log()(self._floating())

    def sqrt(self):
        return elementwise.Sqrt()(self._floating())

    def sin(self):
        return elementwise.Sin()(self._floating())

    def cos(self):
        return elementwise.Cos()(self._floating())

    def abs(self):
        return elementwise.Abs()(self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        bounded = self._floating() if isinstance(min, float) or isinstance(max, float) else self  # (promotion)
        return elementwise.Clamp(min, max)(bounded)

    def _floating(self):
        """Integers and booleans in the default float dtype: what PyTorch computes exp, log,
        sigmoid … of them in."""
        return self if self.array.dtype.kind in "fc" else self.to(defaults.dtype)

    clip = clamp

    def sigmoid(self):
        return elementwise.Sigmoid()(self._floating())

    def tanh(self):
        return elementwise.Tanh()(self._floating())

    def relu(self):
        return elementwise.Relu()(self)

    # --- reductions (``axis`` and ``keepdims`` are accepted as PyTorch accepts them) ----
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return reduction.Sum(dim if axis is None else axis, keepdim if keepdims is None else keepdims)(self)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = (dim if axis is None else axis), (keepdim if keepdims is None else keepdims)
        if self.array.dtype.kind not in "fc":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                               f"point or complex dtype. Got: {scalar_name(self.array.dtype)}")
        return reduction.Mean(dim, keepdim)(self)

    def max(self, dim=None, keepdim=False):
        """The largest value, or with ``dim`` the pair (values, indices) along it; with a
        tensor instead of ``dim``, the larger of the two elementwise (``maximum``)."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        return self._extreme(dim, keepdim, largest=True)

    def min(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        return self._extreme(dim, keepdim, largest=False)

    def _extreme(self, dim, keepdim, largest):
        if dim is None:
            return reduction.MaxOrMin(largest)(self)
        fn = reduction.MaxOrMinAlongDim(dim, keepdim, largest)
        values = fn(self)
        indices = fn.indices if keepdim or self.array.ndim == 0 else fn.indices.squeeze(fn.axis)
        return ValuesIndices(values, Tensor._make(indices))

    def argmax(self, dim=None, keepdim=False):
        return self._arg(dim, keepdim, "argmax")

    def argmin(self, dim=None, keepdim=False):
        return self._arg(dim, keepdim, "argmin")

    def _arg(self, dim, keepdim, name):
        pick = getattr(self.array_module, name)
        if dim is None:
            if self.array.size == 0:  # PyTorch's error (an IndexError here, a RuntimeError for max())
                raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
            index = pick(self.array.reshape(-1))
            return Tensor._make(self.array_module.asarray(index).reshape((1,) * self.ndim if keepdim else ()))
        axis = reduction.single_dim(dim, self.ndim)
        if self.ndim == 0:
            return Tensor._make(self.array_module.zeros((), dtype=int64))
        reduction.check_nonempty_dim(self.array.shape, axis, name)
        return Tensor._make(self.array_module.asarray(pick(self.array, axis=axis)).reshape(
            _reduced_shape(self.array.shape, axis, keepdim)))

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """Σ(x - mean)² / (N - correction): the unbiased estimate (correction 1) by default."""
        if isinstance(dim, bool):  # var(True): PyTorch's var(unbiased) over every element
            dim, unbiased = None, dim
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        axes = reduction.normalize_dims(dim, self.ndim)
        count = 1
        for axis in axes:
            count *= self.array.shape[axis]
        centred = self - self.mean(axes, keepdim=True)
        return (centred * centred).sum(axes, keepdim) / max(count - correction, 0)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """√var (see ``var``); the gradient is 0 where all values are equal, as PyTorch's."""
        return elementwise.Sqrt(zero_gradient_at_zero=True)(self.var(dim, unbiased, keepdim, correction=correction))

    def any(self, dim=None, keepdim=False):
        # (dim=(): no dimension, each value as a bool, as PyTorch's any)
        return _outside_graph(self.array.any(axis=reduction.normalize_dims(dim, self.ndim, empty_means_all=False),
                                                keepdims=keepdim))

    def all(self, dim=None, keepdim=False):
        return _outside_graph(self.array.all(axis=reduction.normalize_dims(dim, self.ndim, empty_means_all=False),
                                                keepdims=keepdim))

    def where(self, condition, other):
        """self where ``condition`` holds, ``other`` elsewhere (``torch.where(condition, self, other)``)."""
        return where(condition, self, other)

    def masked_fill(self, mask, value):
        """``value`` where ``mask`` holds, in this tensor's dtype (a float value fills an integer
        tensor truncated, as in PyTorch)."""
        value = value.to(self.dtype) if isinstance(value, Tensor) else np.asarray(value).astype(self.dtype)
        return where(mask, value, self)

    def masked_fill_(self, mask, value):
        return inplace.modify(self, lambda t, v: t.masked_fill(mask, v), value)

    def gather(self, dim, index):
        """out[i][j] = self[index[i][j]][j] for dim 0 (and so on): a differentiable lookup."""
        axis = reduction.single_dim(dim, self.ndim)
        positions = index.array
        if positions.dtype.kind not in "iu":
            raise RuntimeError("gather(): Expected dtype int32/int64 for index")
        if positions.ndim != self.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
        for d, (n, limit) in enumerate(zip(positions.shape, self.array.shape)):
            if d != axis and n > limit:
                raise RuntimeError(f"Size does not match at dimension {d} expected index {list(positions.shape)} "
                                   f"to be smaller than self {list(self.array.shape)} apart from dimension {axis}")
        if not backend.is_gpu_array(positions) and positions.size and (
                positions.min() < 0 or positions.max() >= self.array.shape[axis]):
            bad = positions[(positions < 0) | (positions >= self.array.shape[axis])].flat[0]
            raise RuntimeError(f"index {bad} is out of bounds for dimension {axis} with size "
                               f"{self.array.shape[axis]}")
        xp = backend.array_module(positions)
        picks = tuple(positions if d == axis else
                      xp.arange(n).reshape([-1 if k == d else 1 for k in range(positions.ndim)])
                      for d, n in enumerate(positions.shape))
        return self[picks]

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) along ``dim``; the values differentiable (a gather)."""
        axis = reduction.single_dim(dim, self.ndim)
        key = self.array if self.array.dtype.kind in "fi" else self.array.astype(np.int64)  # bool, unsigned: negated as int64
        xp = self.array_module
        # descending: floats negated, integers bit-inverted (~k = -k - 1, which cannot overflow)
        order = xp.argsort((-key if key.dtype.kind == "f" else ~key) if descending else key, axis=axis,
                           kind="stable")  # (NaN last)
        if descending and key.dtype.kind == "f":  # NaN counts as the largest: first, as in PyTorch
            numbers = xp.take_along_axis(~xp.isnan(key), order, axis=axis)
            order = xp.take_along_axis(order, xp.argsort(numbers, axis=axis, kind="stable"), axis=axis)
        indices = Tensor._make(order)
        return ValuesIndices(self.gather(axis, indices), indices)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        axis = reduction.single_dim(dim, self.ndim)
        if not 0 <= k <= (self.array.shape[axis] if self.ndim else 1):
            raise RuntimeError("selected index k out of range")
        values, indices = self.sort(axis, descending=largest)
        picked = Tensor._make(indices.array.take(range(k), axis=axis))
        return ValuesIndices(self.gather(axis, picked), picked)

    def repeat(self, *sizes):
        """The tensor tiled ``sizes`` times along each dimension (NumPy's ``tile``)."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        if len(sizes) < self.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                               "of tensor")
        return shape_ops.Repeat(tuple(sizes))(self)

    def contiguous(self):
        return self if self.array.flags.c_contiguous else self.clone()

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def softmax(self, dim):
        return reduction.Softmax(dim)(self)

    def log_softmax(self, dim):
        return reduction.LogSoftmax(dim)(self)

    # --- shape -----------------------------------------------------------------------
    def view(self, *shape):
        """The same storage in another shape: PyTorch's error where the layout allows no view
        (a transposed tensor made contiguous in the new shape would be a copy: ``reshape``)."""
        out = self.reshape(*shape)
        if out is not self and out.array.size and out._base is None:
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                               "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
        return out

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = _infer_shape(shape, self.array.size)
        if shape == self.array.shape:
            return self
        return shape_ops.Reshape(shape)(self)

    def view_as(self, other):
        return self.view(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        """Dimensions ``start_dim`` … ``end_dim`` merged into one (a 0-d tensor becomes 1-d)."""
        start = reduction.single_dim(start_dim, self.ndim, "start_dim")
        end = reduction.single_dim(end_dim, self.ndim, "end_dim")
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if self.ndim == 0:
            return self.reshape(1)
        shape = self.array.shape
        merged = 1
        for n in shape[start:end + 1]:
            merged *= n
        return self.reshape(shape[:start] + (merged,) + shape[end + 1:])

    def squeeze(self, dim=None):
        shape = self.array.shape
        if dim is None:
            return self.reshape(tuple(n for n in shape if n != 1))
        dims = reduction.normalize_dims(dim, self.ndim, empty_means_all=False)  # squeeze(()): nothing
        return self.reshape(tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1)))

    def unsqueeze(self, dim):
        dim = reduction.single_dim(dim, self.ndim + 1)  # (one more place than dimensions: the new one)
        shape = self.array.shape
        return self.reshape(shape[:dim] + (1,) + shape[dim:])

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if len(dims) != self.ndim:
            raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                               f"the length of the desired ordering of dimensions i.e. input.dim() = "
                               f"{self.ndim} is not equal to len(dims) = {len(dims)}")
        axes = tuple(reduction.single_dim(d, self.ndim) for d in dims)
        if len(set(axes)) < len(axes):
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        return shape_ops.Permute(axes)(self)

    def movedim(self, source, destination):
        """The dimensions ``source`` (an int or a tuple) moved to positions ``destination``,
        the others kept in their order."""
        sources = [source] if isinstance(source, (int, np.integer)) else list(source)
        destinations = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
        if len(sources) != len(destinations):
            raise RuntimeError(f"movedim: Invalid source or destination dims: source ({sources} dims) should contain "
                               f"the same number of dims as destination ({destinations} dims)")
        axes = {}
        for what, dims in (("source", sources), ("destination", destinations)):
            axes[what] = [reduction.single_dim(d, self.ndim, what) for d in dims]
            if len(set(axes[what])) < len(dims):
                raise RuntimeError(f"movedim: repeated dim in `{what}` ({dims})")
        if self.ndim == 0:  # 0 and -1 name the one place a 0-d tensor has: nothing moves
            return self.permute(())
        order = [None] * self.ndim
        for s, d in zip(axes["source"], axes["destination"]):
            order[d] = s
        others = iter(d for d in range(self.ndim) if d not in axes["source"])
        return self.permute([s if s is not None else next(others) for s in order])

    def transpose(self, dim0, dim1):
        dim0, dim1 = reduction.single_dim(dim0, self.ndim, "dim0"), reduction.single_dim(dim1, self.ndim, "dim1")
        dims = list(range(self.ndim))
        if dims:  # (a 0-d tensor, whose dims 0 and -1 both name it, transposes to itself)
            dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return shape_ops.Permute(tuple(dims))(self)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def T(self):
        return shape_ops.Permute(tuple(reversed(range(self.ndim))))(self)

    def expand(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        current = (1,) * (len(shape) - self.ndim) + self.array.shape
        shape = tuple(c if s == -1 else s for s, c in zip(shape, current))
        return shape_ops.Expand(shape)(self)

    def expand_as(self, other):
        return self.expand(other.shape)

    # --- pieces along a dimension (each a view, differentiable) ------------------------
    def split(self, split_size_or_sections, dim=0):
        """Pieces of ``split_size`` along ``dim`` (the last one may be shorter), or of the
        sizes given in a list."""
        if self.ndim == 0:
            raise RuntimeError("split expects at least a 1-dimensional tensor")
        axis = reduction.single_dim(dim, self.ndim)
        n = self.array.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size <= 0 and not (size == 0 and n == 0):
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
            sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
        else:
            sizes = [int(k) for k in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                                   f"at dimension {axis}), but got split_sizes={sizes}")
        starts = np.cumsum([0] + sizes[:-1]).tolist()
        before = (slice(None),) * axis
        return tuple(self[before + (slice(start, start + size),)] for start, size in zip(starts, sizes))

    def chunk(self, chunks, dim=0):
        """``chunks`` pieces along ``dim`` of ⌈n / chunks⌉ each (fewer if they run out), as PyTorch."""
        if self.ndim == 0:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        if chunks <= 0:
            raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
        n = self.array.shape[reduction.single_dim(dim, self.ndim)]
        if n == 0:  # as many empty pieces as asked for
            return self.split([0] * chunks, dim)
        return self.split(-(-n // chunks), dim)

    def unbind(self, dim=0):
        """The slices along ``dim``, one per index, without that dimension."""
        axis = reduction.single_dim(dim, self.ndim)
        return tuple(self[(slice(None),) * axis + (i,)] for i in range(self.array.shape[axis]))

    def index_select(self, dim, index):
        """The entries at ``index`` (a vector of integers) along ``dim``; repeated ones repeat."""
        index = index if isinstance(index, Tensor) else Tensor._make(np.asarray(index))
        if index.array.dtype not in (np.int32, np.int64):
            raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
        if index.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        if self.ndim == 0:
            if index.array.size != 1:
                raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {index.array.size} "
                                   "value(s)")
            return self.reshape(1).index_select(0, index).reshape(())
        axis = reduction.single_dim(dim, self.ndim)
        if index.array.size and not (0 <= int(index.array.min()) and int(index.array.max()) < self.array.shape[axis]):
            raise IndexError("index out of range in self")  # (negative indices count from 0 here, unlike x[i])
        return self[(slice(None),) * axis + (index.reshape(-1),)]

    def __getitem__(self, index):
        return shape_ops.GetItem(_raw_index(index))(self)

    def __setitem__(self, index, value):
        """In-place assignment such as ``target[label] = 1.0``; in the graph, the gradient
        of the overwritten part goes to ``value`` instead."""
        inplace.modify(self, shape_ops.assign(_raw_index(index)), value)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    # --- printing --------------------------------------------------------------------
    def __repr__(self):
        # (PyTorch's layout rules all live in printing.py; the device prints only where it is not
        # the default one, as PyTorch's)
        shown_device = self.device if self.device.type != defaults.device_type else None
        return tensor_repr(backend.move(self.array, "cpu"), device=shown_device,
                           grad_fn=self.grad_fn.name() if self.grad_fn is not None else None,
                           requires_grad=self.requires_grad)


class ValuesIndices(tuple):
    """``(values, indices)`` as returned by ``max(dim)`` and ``min(dim)``."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


# --- helpers used by the operators above ---------------------------------------------

def _outside_graph(array):
    """A result that no gradient flows through (comparisons, logic); NumPy gives 0-d
    results as scalars, kept here as 0-d arrays."""
    return Tensor._make(np.asarray(array) if isinstance(array, np.generic) else array)


def _raw(value):
    return value.array if isinstance(value, Tensor) else value


def _raw_index(index):
    for i in index if isinstance(index, tuple) else (index,):
        if isinstance(i, slice) and i.step is not None and i.step <= 0:
            raise ValueError("step must be greater than zero")  # PyTorch has no reversed views: flip
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    return _raw(index)


def check_same_device(*tensors):
    """PyTorch's error for tensors on different devices (NumPy and CuPy arrays mixed);
    anything that is not a tensor (None, numbers) is left out."""
    tensors = [t for t in tensors if isinstance(t, Tensor)]
    for t in tensors[1:]:
        if type(t.array) is not type(tensors[0].array) and \
                backend.is_gpu_array(t.array) != backend.is_gpu_array(tensors[0].array):
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                               f"devices, {tensors[0].device} and {t.device}!")


def _check_device(tensor, other):
    """Other operand as a tensor on the same device, or a clear error."""
    if not isinstance(other, Tensor):
        return Tensor._make(as_array(other, tensor.dtype, backend.device_type_of(tensor.array)))
    check_same_device(tensor, other)
    return other


def binary(op, a, b, true_division=False):
    """Apply a broadcasting binary op, with PyTorch's result dtype (see :func:`result_dtype`)
    and PyTorch's error when the shapes do not fit."""
    check_same_device(a, b)
    dtype = result_dtype(a, b, true_division)
    if dtype.kind == "b" and op in _NOT_FOR_BOOLS:
        if op is elementwise.Sub:
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
                               "or `logical_xor()` operator instead.")
        raise NotImplementedError(f"{_NOT_FOR_BOOLS[op]} is not implemented for 'Bool'")  # (NumPy: int8)
    a, b = (_as_dtype(x, dtype) for x in (a, b))
    try:
        return op()(a, b)
    except ValueError as err:  # NumPy's: the shapes, or a value it refuses (an integer to a negative power)
        shape_a, shape_b = np.shape(_raw(a)), np.shape(_raw(b))
        try:
            np.broadcast_shapes(shape_a, shape_b)
        except ValueError:
            raise RuntimeError(broadcast_error(shape_a, shape_b)) from None
        raise RuntimeError(str(err)) from None


_NOT_FOR_BOOLS = {elementwise.Sub: "subtraction", elementwise.FloorDivide: "floor division (//)",
                  elementwise.Remainder: "remainder (%)"}


def _as_dtype(x, dtype):
    """A tensor, array or NumPy number in ``dtype`` (a tensor differentiably); a Python number
    as it is, which NumPy fits to the other operand's dtype."""
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else x.to(dtype)
    if hasattr(x, "astype"):  # arrays, 0-d ones too (.item() of a GPU array would wait for the GPU)
        return x.astype(dtype, copy=False)
    return x


def broadcast_error(shape_a, shape_b):
    for i in range(1, max(len(shape_a), len(shape_b)) + 1):
        n = shape_a[-i] if i <= len(shape_a) else 1
        m = shape_b[-i] if i <= len(shape_b) else 1
        if n != m and 1 not in (n, m):
            dim = max(len(shape_a), len(shape_b)) - i
            return (f"The size of tensor a ({n}) must match the size of tensor b ({m}) "
                    f"at non-singleton dimension {dim}")
    return f"shapes {list(shape_a)} and {list(shape_b)} cannot be broadcast together"


def _infer_shape(shape, size):
    shape = tuple(int(n) for n in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for n in shape:
        if n != -1:
            known *= n
    if -1 in shape:
        if known == 0 or size % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {size}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    elif known != size:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {size}")
    return shape


def where(condition, input, other):
    """``input`` where ``condition`` holds, ``other`` elsewhere, broadcast together, in their
    promoted dtype; the gradient goes to each where its value was taken."""
    condition = condition.array if isinstance(condition, Tensor) else np.asarray(condition)
    if condition.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{scalar_name(condition.dtype)}")
    check_same_device(input, other)
    dtype = result_dtype(input, other)
    input, other = (_as_dtype(x, dtype) if isinstance(x, Tensor) else x for x in (input, other))
    reference = input if isinstance(input, Tensor) else other
    if not isinstance(reference, Tensor):
        return Tensor._make(np.where(condition, input, other).astype(dtype))
    condition = backend.move(condition, backend.device_type_of(reference.array))
    return elementwise.Where(condition)(input, other)


def _reduced_shape(shape, axis, keepdim):
    if keepdim:
        return shape[:axis] + (1,) + shape[axis + 1:]
    return shape[:axis] + shape[axis + 1:]


autograd.bind_tensor(Tensor)
