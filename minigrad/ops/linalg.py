"""Matrix products: ``matmul`` (the ``@`` operator) and the fused ``linear`` layer."""
from .. import backend
from ..autograd import Function, sum_to_shape


def _shape_text(shape):
    return "x".join(str(n) for n in shape) if len(shape) != 1 else f"1x{shape[0]}"


class MatMul(Function):
    """a @ b with NumPy/PyTorch rules (1-D operands, batch broadcasting).

    d(a@b)/da = g @ bᵀ and d(a@b)/db = aᵀ @ g, computed with 1-D operands
    promoted to matrices and the batch dimensions summed back by the engine.
    """

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                               f"{a.ndim}D and {b.ndim}D")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            rows = a.shape[-2] if a.ndim > 1 else 1
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied "
                               f"({rows}x{a.shape[-1]} and {_shape_text(b.shape[-2:])})")
        if a.dtype != b.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a.dtype} != {b.dtype}")
        # each operand's gradient reads the other (kept only if that gradient is wanted);
        # the shapes are kept for the 1-D cases
        self.save_for_backward(a if self.wants(1) else None, b if self.wants(0) else None)
        self.a_shape, self.b_shape = a.shape, b.shape
        return backend.matmul(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        a_ndim, b_ndim = len(self.a_shape), len(self.b_shape)
        xp = backend.array_module(grad)
        # promote 1-D operands to matrices so one pair of formulas covers every case
        g2 = grad
        if b_ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        if a_ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        ga = gb = None
        if self.needs_grad[0]:
            ga = backend.matmul(g2, xp.swapaxes(b[:, None] if b_ndim == 1 else b, -1, -2))
            if a_ndim == 1:
                ga = ga.reshape(-1, self.a_shape[0]).sum(axis=0)
        if self.needs_grad[1]:
            gb = backend.matmul(xp.swapaxes(a[None, :] if a_ndim == 1 else a, -1, -2), g2)
            if b_ndim == 1:
                gb = gb.reshape(-1, self.b_shape[0]).sum(axis=0)
        return ga, gb


class Linear(Function):
    """y = x Wᵀ + b with W of shape (out_features, in_features), as ``torch.nn.Linear``.

    Fused into one node (instead of transpose, matmul, add) because it is the most
    common layer: backward is gx = g W, gW = gᵀ x, gb = Σ g over the batch.
    """

    def forward(self, x, weight, bias=None):
        if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            rows = 1 if x.ndim < 2 else x.size // max(x.shape[-1], 1)
            cols = x.shape[-1] if x.ndim else 1
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied "
                               f"({rows}x{cols} and {weight.shape[1]}x{weight.shape[0]})")
        if x.dtype != weight.dtype:
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {x.dtype} and {weight.dtype}")
        self.save_for_backward(x if self.wants(1) else None, weight if self.wants(0) else None)
        out = backend.matmul(x, weight.T)
        if bias is not None:
            if bias.shape[-1:] != out.shape[-1:] and bias.size != 1:
                raise RuntimeError(f"The expanded size of the tensor ({out.shape[-1]}) must match the existing size "
                                   f"({bias.shape[-1]}) at non-singleton dimension {out.ndim - 1}.  Target sizes: "
                                   f"{list(out.shape)}.  Tensor sizes: {list(bias.shape)}")
            out += bias
        return out

    def backward(self, grad):
        x, weight = self.saved_tensors
        gx = backend.matmul(grad, weight) if self.needs_grad[0] else None
        gw = gb = None
        if self.needs_grad[1]:
            g2, x2 = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
            if g2.shape[0] == 1:  # one example (the book's batch size): an outer product,
                gw = g2.T * x2    # faster than a k=1 matrix product, same bits
            else:
                gw = backend.matmul(g2.T, x2)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            gb = sum_to_shape(grad, grad.shape[-1:])
        return gx, gw, gb
