"""Operations that move values around without changing them: reshape, permute,
indexing, concatenation, and copies to another device or dtype."""
from .. import backend
from ..autograd import Function


class Reshape(Function):
    """view / reshape / flatten / squeeze / unsqueeze: the gradient is reshaped back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.input_shape = a.shape
        return a.reshape(self.shape)

    def backward(self, grad):
        return grad.reshape(self.input_shape)


class Permute(Function):
    def __init__(self, dims):
        self.dims = dims

    def forward(self, a):
        return a.transpose(self.dims)

    def backward(self, grad):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return grad.transpose(inverse)


class Expand(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        return backend.array_module(a).broadcast_to(a, self.shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape


class GetItem(Function):
    """x[index]; backward writes the gradient into zeros at the same places
    (summing where an integer-array index repeats a position)."""

    def __init__(self, index):
        self.index = index

    def forward(self, a):
        self.shape = a.shape
        return a[self.index]

    def backward(self, grad):
        xp = backend.array_module(grad)
        out = xp.zeros(self.shape, dtype=grad.dtype)
        if _has_array_index(self.index):
            backend.scatter_add(xp, out, self.index, grad)
        else:
            out[self.index] = grad
        return out


def _has_array_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "shape") or isinstance(p, list) for p in parts)


class Cat(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, *arrays):
        xp = backend.array_module(arrays[0])
        self.sizes = [a.shape[self.dim] for a in arrays]
        return xp.concatenate(arrays, axis=self.dim)

    def backward(self, grad):
        xp = backend.array_module(grad)
        bounds, total = [], 0
        for n in self.sizes[:-1]:
            total += n
            bounds.append(total)
        return tuple(xp.split(grad, bounds, axis=self.dim))


class Stack(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, *arrays):
        return backend.array_module(arrays[0]).stack(arrays, axis=self.dim)

    def backward(self, grad):
        xp = backend.array_module(grad)
        return tuple(xp.moveaxis(grad, self.dim, 0))


class Copy(Function):
    """A copy to another device and/or dtype (``.to``, ``.cpu()``, ``.double()``);
    the gradient travels back to the original device and dtype."""

    def __init__(self, device_type, dtype):
        self.device_type, self.dtype = device_type, dtype

    def forward(self, a):
        self.source = (backend.device_type_of(a), a.dtype)
        return backend.move(a, self.device_type).astype(self.dtype, copy=False)

    def backward(self, grad):
        device_type, dtype = self.source
        return backend.move(grad, device_type).astype(dtype, copy=False)
