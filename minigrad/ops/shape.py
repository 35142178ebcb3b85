"""Operations that move values around without changing them: reshape, permute,
indexing, concatenation, and copies to another device or dtype."""
from .. import backend
from ..autograd import Function, function, run


class View(Function):
    """An op whose output may share its input's storage: reshape, permute, expand, basic
    indexing.  Such an output is a *view* (as in PyTorch): it shares its base's version
    counter, and remembers the ops that took it, so that an in-place change of the view
    can be recorded as a change of the base (see ``autograd/inplace.py``)."""

    def __init__(self, *args):
        self.args = args

    def again(self):
        """A fresh op that takes the same view (a Function is used once)."""
        return type(self)(*self.args)

    def __call__(self, a):
        out = super().__call__(a)
        # (NumPy copies where the layout allows no view, e.g. a transposed array reshaped: not a view)
        if self.makes_view() and out.array.size and backend.array_module(out.array).may_share_memory(out.array,
                                                                                                      a.array):
            base = a._base if a._base is not None else a
            meta = out._autograd_meta()
            meta.base, meta.stamp = base, function.changes
            meta.view_ops = (a._meta.view_ops if a._base is not None else ()) + (self.again,)
        return out

    def makes_view(self):
        return True


def take_view(view_ops, x):
    """The view that ``view_ops`` took, taken again of ``x`` (an array or a tensor)."""
    for make in view_ops:
        x = make()(x) if hasattr(x, "grad_fn") else make().forward(x)  # a tensor: in the graph
    return x


class Reshape(View):
    """view / reshape / flatten / squeeze / unsqueeze: the gradient is reshaped back."""

    def __init__(self, shape):
        super().__init__(shape)
        self.shape = shape

    def forward(self, a):
        self.input_shape = a.shape
        return a.reshape(self.shape)

    def backward(self, grad):
        return grad.reshape(self.input_shape)


class Permute(View):
    def __init__(self, dims):
        super().__init__(dims)
        self.dims = dims

    def forward(self, a):
        return a.transpose(self.dims)

    def backward(self, grad):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return backend.array_module(grad).transpose(grad, inverse)


class Expand(View):
    def __init__(self, shape):
        super().__init__(shape)
        self.shape = shape

    def forward(self, a):
        return backend.array_module(a).broadcast_to(a, self.shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape


class GetItem(View):
    """x[index]; backward writes the gradient into zeros at the same places
    (summing where an integer-array index repeats a position).  Basic indexing (integers,
    slices) gives a view, integer arrays and masks a copy, as in NumPy and PyTorch."""

    def __init__(self, index):
        super().__init__(index)
        self.index = index

    def forward(self, a):
        self.shape = a.shape
        index = self.index
        if not self.makes_view() or any(p is Ellipsis for p in (index if isinstance(index, tuple) else (index,))):
            return a[index]
        # x[0] of a 1-d array would be a NumPy scalar (a copy): with ... it is a 0-d view
        return a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]

    def makes_view(self):
        return not _has_array_index(self.index)

    def backward(self, grad):
        return run(Scatter(self.index, self.shape), grad)


class Scatter(Function):
    """Zeros of ``shape`` with the values placed at ``index``, summed where an integer-array
    index repeats a position: the gradient of ``x[index]``, whose gradient is ``x[index]``."""

    def __init__(self, index, shape, unique=False):
        self.index, self.shape, self.unique = index, shape, unique

    def forward(self, values):
        xp = backend.array_module(values)
        out = xp.zeros(self.shape, dtype=values.dtype)
        if _has_array_index(self.index) and not self.unique:
            backend.scatter_add(xp, out, self.index, values)
        else:
            out[self.index] = values
        return out

    def backward(self, grad):
        return run(GetItem(self.index), grad)


def _has_array_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "shape") or isinstance(p, list) for p in parts)


class Cat(Function):
    """Tensors of one dtype joined along ``axis`` (checked by ``cat``); each gets its own slice
    of the gradient back."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        xp = backend.array_module(arrays[0])
        self.sizes = [a.shape[self.axis] for a in arrays]
        return xp.concatenate(arrays, axis=self.axis)

    def backward(self, grad):
        before, start, grads = (slice(None),) * self.axis, 0, []
        for n in self.sizes:
            grads.append(grad[before + (slice(start, start + n),)])
            start += n
        return tuple(grads)


class Stack(Function):
    """Tensors of one dtype stacked along a new dimension ``axis`` (checked by ``stack``); each
    gets its slice of the gradient."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return backend.array_module(arrays[0]).stack(arrays, axis=self.axis)

    def backward(self, grad):
        before = (slice(None),) * self.axis
        return tuple(grad[before + (i,)] for i in range(grad.shape[self.axis]))


class Copy(Function):
    """A copy to another device and/or dtype (``.to``, ``.cpu()``, ``.double()``);
    the gradient travels back to the original device and dtype."""

    def __init__(self, device_type, dtype):
        self.device_type, self.dtype = device_type, dtype

    def forward(self, a):
        self.source = (backend.device_type_of(a), a.dtype)
        return backend.move(a, self.device_type).astype(self.dtype, copy=False)

    def backward(self, grad):
        return run(Copy(*self.source), grad)


class Repeat(Function):
    """NumPy's ``tile``: the tensor repeated ``sizes`` times along each dimension; each copy
    sends its gradient back, summed."""

    def __init__(self, sizes):
        self.sizes = sizes

    def forward(self, a):
        self.shape = (1,) * (len(self.sizes) - a.ndim) + a.shape
        return backend.array_module(a).tile(a.reshape(self.shape), self.sizes)

    def backward(self, grad):
        # (r0·s0, r1·s1, …) → (r0, s0, r1, s1, …), summed over the repeats r
        split = tuple(n for pair in zip(self.sizes, self.shape) for n in pair)
        return grad.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(self.shape)


class Clone(Function):
    """A copy in new memory; the gradient passes unchanged."""

    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return grad


class Overwrite(Function):
    """``copy_``, ``fill_``, ``uniform_``, ``normal_``: the old values are replaced by
    ``source`` (broadcast and cast to them).  The gradient goes to the source (back on its
    device, in its dtype); the old values get zero, as in PyTorch."""

    def forward(self, old, source):
        if hasattr(source, "dtype"):
            self.source_place = (backend.device_type_of(source), source.dtype)
        out = backend.array_module(old).empty_like(old)
        return put(out, ..., source)

    def backward(self, grad):
        xp = backend.array_module(grad)
        g_source = run(Copy(*self.source_place), grad) if self.needs_grad[1] else None
        return (xp.zeros_like(grad) if self.needs_grad[0] else None), g_source


def put(array, index, value):
    """``array[index] = value`` in place (value moved to the array's device, broadcast and cast),
    with PyTorch's error when the shapes do not fit; returns the array."""
    if hasattr(value, "dtype"):
        value = backend.move(value, backend.device_type_of(array))
    try:
        array[index] = value
    except ValueError:
        target, given = array[index].shape, getattr(value, "shape", None) or (len(value),)
        if index is Ellipsis:  # copy_: PyTorch says it as for broadcasting operands
            from ..tensor import broadcast_error
            raise RuntimeError(broadcast_error(target, given)) from None
        raise RuntimeError(f"The expanded size of the tensor ({target[-1] if target else 1}) must match the "
                           f"existing size ({given[-1] if given else 1}) at non-singleton dimension "
                           f"{max(len(target) - 1, 0)}.  Target sizes: {list(target)}.  Tensor sizes: "
                           f"{list(given)}") from None
    return array


def overwrite(old, source):
    return Overwrite()(old, source)


def assign(index):
    """``x[index] = value`` as a function of (x, value)."""
    def assigned(old, value):
        return SetItem(index)(old, value)
    assigned.in_place = lambda array, value: put(array, index, value)
    return assigned


# with nothing to record, these write straight into the array (see autograd.inplace.modify)
overwrite.in_place = lambda array, source: put(array, ..., source)


class SetItem(Function):
    """``x[index] = value`` as a node: x with the indexed part replaced.  The gradient of
    that part goes to ``value`` (summed back to its shape by the engine), the rest to x."""

    def __init__(self, index):
        self.index = index

    def forward(self, old, value):
        return put(old.copy(), self.index, value)

    def backward(self, grad):
        g_old = None
        if self.needs_grad[0]:
            g_old = backend.array_module(grad).copy(grad)
            g_old[self.index] = 0
        return g_old, (grad[self.index] if self.needs_grad[1] else None)


class CopySlices(Function):
    """The base of a view after an in-place change of the view: the old base with the
    view's part replaced.  The gradient of that part goes to the new values, the rest to
    the old base (PyTorch's node of the same name)."""

    def __init__(self, view_ops):
        self.view_ops = view_ops

    def name(self):
        return "CopySlices"  # PyTorch's name for this node has no "Backward"

    def forward(self, old_base, values):
        out = old_base.copy()
        take_view(self.view_ops, out)[...] = values
        return out

    def backward(self, grad):
        g_base = None
        if self.needs_grad[0]:
            g_base = backend.array_module(grad).copy(grad)
            take_view(self.view_ops, g_base)[...] = 0
        g_values = take_view(self.view_ops, grad) if self.needs_grad[1] else None
        return g_base, g_values
