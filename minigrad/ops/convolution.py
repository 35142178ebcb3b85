"""Convolutions as single graph nodes: ``conv2d`` and ``conv_transpose2d``.

A convolution with weight W (M, C, kH, kW) over an image x (N, C, H, W) is a sum of
matrix products, one per kernel offset k = (i, j):

    y = Σ_k W[:, :, k] @ window_k(x)

where window_k(x) holds, for every output pixel, the input pixel that offset k reads.
Stacking the windows gives "im2col", a (C·kH·kW, pixels) matrix, and the convolution
becomes one product y = W₂ @ im2col(x) with W₂ = W.reshape(M, C·kH·kW): BLAS (or cuBLAS)
does the work.  Its adjoint, col2im, adds every column back onto the pixels its window
read.  The gradient of a convolution with respect to its input is a transposed
convolution and vice versa, so three products of ``Windows`` serve all four directions:

    correlate(x, W)   = W₂ @ im2col(x)        scatter(W, b) = col2im(W₂ᵀ @ b)
    weight_grad(x, b) = b @ im2col(x)ᵀ

    conv2d            forward  y = correlate(x, W)   backward  dx = scatter(W, g)     dW = weight_grad(x, g)
    conv_transpose2d  forward  y = scatter(W, x)     backward  dx = correlate(g, W)   dW = weight_grad(g, x)

The image is lowered once (``Windows.lower``) and reused by both products that read it:
conv2d keeps its input's lowering from forward for dW.  Everything is written against
the array module ``xp``, so NumPy and CuPy share it.
"""
import functools

from .. import backend
from ..autograd import Function, is_tensor


# --- sizes and argument checks -----------------------------------------------------------

def pair(value, name="kernel_size"):
    """An int or a 1- or 2-sequence as a pair of ints (PyTorch's ``_pair``)."""
    if isinstance(value, int):
        return (value, value)
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        return value
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * 2
    if len(value) != 2:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of 2 values to match "
                           f"the convolution dimensions, but got {name}={list(value)}")
    return value


def conv2d_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output size of a convolution: ⌊(size + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1.

    Ints give an int; pairs (H, W) give a pair.  E.g. the book's MNIST CNN: 28 → 12 → 5.
    """
    if isinstance(size, int):
        return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    return tuple(conv2d_output_size(*args) for args in zip(
        pair(size, "size"), pair(kernel_size), pair(stride, "stride"), pair(padding, "padding"),
        pair(dilation, "dilation")))


def conv_transpose2d_output_size(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Output size of a transposed convolution:
    (size − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1.

    The inverse of ``conv2d_output_size``; the book's CelebA generator: 11 → 28 → 62 → 128.
    """
    if isinstance(size, int):
        return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    return tuple(conv_transpose2d_output_size(*args) for args in zip(
        pair(size, "size"), pair(kernel_size), pair(stride, "stride"), pair(padding, "padding"),
        pair(output_padding, "output_padding"), pair(dilation, "dilation")))


def _check_arguments(stride, padding, dilation):
    if min(stride) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(padding) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")


def _check_inputs(op, x, weight, bias, transposed):
    """PyTorch's shape and dtype checks, with its messages; returns x with a batch dimension."""
    if x.ndim not in (3, 4):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to {op}, but got input of size: "
                           f"{list(x.shape)}")
    batched = x if x.ndim == 4 else x[None]
    if weight.ndim != 4:
        raise RuntimeError(f"Expected 4-dimensional weight for 4-dimensional input {list(batched.shape)}, "
                           f"but got {weight.ndim}-dimensional weight of size {list(weight.shape)} instead")
    given = "transposed=1" if transposed else "groups=1"
    # weight (O, C, kH, kW) for a convolution, (C, O, kH, kW) for a transposed one
    expected_channels, bias_size = (weight.shape[0], weight.shape[1]) if transposed else weight.shape[1::-1]
    if batched.shape[1] != expected_channels:
        raise RuntimeError(f"Given {given}, weight of size {list(weight.shape)}, expected input"
                           f"{list(batched.shape)} to have {expected_channels} channels, but got "
                           f"{batched.shape[1]} channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != bias_size):
        prefix = "Given transposed=1, weight" if transposed else "Given weight"
        raise RuntimeError(f"{prefix} of size {list(weight.shape)}, expected bias to be 1-dimensional with "
                           f"{bias_size} elements, but got bias of size {list(bias.shape)} instead")
    for name, other in (("weight", weight), ("bias", bias)):
        if other is not None and other.dtype != x.dtype:
            raise RuntimeError(f"Input type ({x.dtype}) and {name} type ({other.dtype}) should be the same")
    return batched


# --- the lowering -------------------------------------------------------------------------------

class Windows:
    """The kernel windows of one convolution, and the three products it is made of.

    Geometry: weight (M, C, kH, kW) over a (C, H, W) image with stride, padding and
    dilation, at (Ho, Wo) output positions.  Output pixel (y, x) with kernel offset (i, j)
    reads padded pixel (y·sH + i·dH, x·sW + j·dW), so offset k's window is a strided view
    of the padded image (``window``): im2col copies the C·kH·kW windows into one matrix,
    one matrix product does the rest, and col2im adds the blocks back, one add per offset.

    A product's operand or result ``b`` is an (M, N·Ho·Wo) matrix: ``widen`` makes one
    of an (N, M, Ho, Wo) array and ``narrow`` the other way.  (``minigrad.accel.convolution``
    has faster lowerings, subclasses of this one that give the same numbers.)
    """

    def __init__(self, weight_shape, image_size, stride, padding, dilation, out_size):
        self.others, self.channels = weight_shape[0], weight_shape[1]
        self.kernel, self.image_size = tuple(weight_shape[2:]), tuple(image_size)
        self.stride, self.padding, self.dilation = tuple(stride), tuple(padding), tuple(dilation)
        self.out_size = tuple(out_size)
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        # for each offset (i, j), in weight order: the padded pixel its window starts at
        self.offsets = [(i * dh, j * dw) for i in range(kh) for j in range(kw)]

    # --- layouts ---------------------------------------------------------------------------
    @property
    def padded_size(self):
        return tuple(size + 2 * pad for size, pad in zip(self.image_size, self.padding))

    def padded(self, image):
        """The (N, C, H, W) image with its zero padding: (N, C, H + 2pH, W + 2pW)."""
        if not any(self.padding):
            return image
        padded = backend.array_module(image).zeros(image.shape[:2] + self.padded_size, dtype=image.dtype)
        self.unpad(padded)[...] = image
        return padded

    def unpad(self, padded):
        (h, w), (ph, pw) = self.image_size, self.padding
        return padded[:, :, ph:ph + h, pw:pw + w]

    def layout(self, image):
        """The (N, C, H, W) image laid out for ``window`` to read: here with its padding."""
        return self.padded(image)

    def blank_layout(self, n, dtype, like):
        """Zeros in ``layout``'s layout for n images, on ``like``'s device (col2im adds into it)."""
        return backend.array_module(like).zeros((n, self.channels) + self.padded_size, dtype=dtype)

    def image_of(self, laid_out):
        """The (N, C, H, W) image back out of ``layout``'s layout."""
        return backend.array_module(laid_out).ascontiguousarray(self.unpad(laid_out))

    def window(self, padded, k):
        """What offset k reads for every output pixel: a (C, N, Ho, Wo) view of the padded image,
        its channels, then im2col's columns (``columns``)."""
        (row, col), (ho, wo), (sh, sw) = self.offsets[k], self.out_size, self.stride
        return padded[:, :, row:row + sh * (ho - 1) + 1:sh, col:col + sw * (wo - 1) + 1:sw].transpose(1, 0, 2, 3)

    def columns(self, n):
        """im2col's columns for n images, as a shape: (N, Ho, Wo), one per output pixel."""
        return (n,) + self.out_size

    def channel_chunks(self, b):
        """(start, stop) of the input channels ``scatter`` works on at a time: here all at once."""
        return [(0, self.channels)]

    def widen(self, a):
        """(N, M, Ho, Wo) → (M, N·Ho·Wo): a gradient (or a transposed convolution's input)
        lined up with the windows' columns."""
        return a.transpose(1, 0, 2, 3).reshape(a.shape[1], -1)

    def narrow(self, b, n):
        """(M, N·Ho·Wo) → (N, M, Ho, Wo): a product's result as an image."""
        xp = backend.array_module(b)
        return xp.ascontiguousarray(b.reshape((b.shape[0], n) + self.out_size).transpose(1, 0, 2, 3))

    # --- the three products ----------------------------------------------------------------------
    def lower(self, image):
        """What ``correlate`` and ``weight_grad`` need from an (N, C, H, W) image: its im2col
        matrix (C·kH·kW, N·Ho·Wo), one block copied per offset."""
        xp = backend.array_module(image)
        laid_out = self.layout(image)
        n, c = image.shape[:2]
        cols = xp.empty((c, len(self.offsets)) + self.columns(n), dtype=image.dtype)
        for k in range(len(self.offsets)):
            cols[:, k] = self.window(laid_out, k)
        return cols.reshape(c * len(self.offsets), -1)

    def correlate(self, lowered, weight):
        """Σ_k W[:, :, k] @ window_k(image) = W₂ @ im2col(image): (M, N·Ho·Wo)."""
        return backend.matmul(weight.reshape(weight.shape[0], -1), lowered)

    def weight_grad(self, lowered, b):
        """b @ im2col(image)ᵀ for b of shape (M, N·Ho·Wo), as a weight (M, C, kH, kW)."""
        m = b.shape[0]
        return backend.matmul(b, lowered.T).reshape((m, self.channels) + self.kernel)

    def scatter(self, weight, b, n):
        """col2im(W₂ᵀ @ b) for b of shape (M, N·Ho·Wo): the (N, C, H, W) image onto which
        every output pixel's window receives Σ_m W[m, :, k]·b[m] (overlaps summed), for the
        input channels of each of ``channel_chunks`` in turn."""
        m, offsets = weight.shape[0], len(self.offsets)
        laid_out = self.blank_layout(n, b.dtype, b)
        for start, stop in self.channel_chunks(b):
            blocks = backend.matmul(weight[:, start:stop].reshape(m, -1).T, b)
            blocks = blocks.reshape((stop - start, offsets) + self.columns(n))
            for k in range(offsets):
                self.window(laid_out, k)[start:stop] += blocks[:, k]
        return self.image_of(laid_out)


# --- the two operations ------------------------------------------------------------------------

@functools.lru_cache(maxsize=128)
def windows(weight_shape, image_size, stride, padding, dilation, out_size, device_type):
    """The :class:`Windows` of one geometry, made once (they hold no data): a training step asks
    for the same few every time.  (``device_type``, 'cpu' or 'cuda', is part of the key because
    ``minigrad.accel`` chooses other lowerings by it.)"""
    return Windows(weight_shape, image_size, stride, padding, dilation, out_size)


class Conv2d(Function):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` with groups = 1.

    y[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c], with stride, zero padding and dilation;
    weight (O, C, kH, kW), input (N, C, H, W) or unbatched (C, H, W).
    """

    def __init__(self, stride=1, padding=0, dilation=1):
        self.stride, self.padding = pair(stride, "stride"), pair(padding, "padding")
        self.dilation = pair(dilation, "dilation")
        _check_arguments(self.stride, self.padding, self.dilation)

    def forward(self, x, weight, bias=None):
        self.unbatched = x.ndim == 3
        self.save_for_backward(x if self.wants(1) else None, weight)
        x = _check_inputs("conv2d", x, weight, bias, transposed=False)
        n, c, h, w = x.shape
        kernel = weight.shape[2:]
        padded = (h + 2 * self.padding[0], w + 2 * self.padding[1])
        reach = tuple(d * (k - 1) + 1 for d, k in zip(self.dilation, kernel))  # the dilated kernel's extent
        if reach[0] > padded[0] or reach[1] > padded[1]:
            raise RuntimeError(f"Calculated padded input size per channel: ({padded[0]} x {padded[1]}). "
                               f"Kernel size: ({reach[0]} x {reach[1]}). "
                               "Kernel size can't be greater than actual input size")
        out_size = conv2d_output_size((h, w), kernel, self.stride, self.padding, self.dilation)
        self.windows = windows(weight.shape, (h, w), self.stride, self.padding, self.dilation, out_size,
                               backend.device_type_of(x))
        self.x_size = (h, w)
        self.lowered = self.windows.lower(x)                # kept: dW reads the same windows
        out = self.windows.narrow(self.windows.correlate(self.lowered, weight), n)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        return out[0] if self.unbatched else out

    def backward(self, grad):
        x, weight = self.saved_tensors
        if self.unbatched:
            grad = grad[None]
        if is_tensor(grad):  # recorded: the same gradients as convolutions of tensors
            return self.backward_recorded(grad, x, weight)
        windows = self.windows
        g = windows.widen(grad)                             # (O, columns): lined up with the windows
        gx = gw = gb = None
        if self.needs_grad[0]:                              # a transposed convolution of g
            gx = windows.scatter(weight, g, grad.shape[0])
            if self.unbatched:
                gx = gx[0]
        if self.needs_grad[1]:
            gw = windows.weight_grad(self.lowered, g)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            gb = grad.sum(axis=(0, 2, 3))
        return gx, gw, gb

    def backward_recorded(self, grad, x, weight):
        """dx is the transposed convolution of g with W (its output padding restores x's size),
        dW the correlation of x with g (see ``weight_gradient``), db = Σ g."""
        gx = gw = gb = None
        if self.needs_grad[0]:
            size = conv_transpose2d_output_size(tuple(grad.shape[2:]), tuple(weight.shape[2:]), self.stride,
                                                self.padding, 0, self.dilation)
            extra = tuple(want - got for want, got in zip(self.x_size, size))
            gx = ConvTranspose2d(self.stride, self.padding, extra, self.dilation)(grad, weight)
            gx = gx[0] if self.unbatched else gx
        if self.needs_grad[1]:
            gw = weight_gradient(x[None] if self.unbatched else x, grad, tuple(weight.shape[2:]), self.stride,
                                 self.padding, self.dilation)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            gb = grad.sum(axis=(0, 2, 3))
        return gx, gw, gb


def weight_gradient(x, g, kernel, stride, padding, dilation):
    """dW[o, c, i, j] = Σ_n Σ_p,q g[n, o, p, q]·x[n, c, p·stride + i·dilation, ...] (x padded):
    itself a convolution, of x's channels (the batch as channels) by g's, with stride and
    dilation swapped; cropped to the kernel's size.  Written with tensors, so recorded."""
    w = Conv2d(dilation, padding, stride)(x.transpose(0, 1), g.transpose(0, 1))
    return w[:, :, :kernel[0], :kernel[1]].transpose(0, 1)


class ConvTranspose2d(Function):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d`` with groups = 1.

    The gradient of ``conv2d`` with respect to its input, used as a layer: every input
    pixel x[n, c, y, x] adds x·W[c, :] onto the output window at (y·sH − pH, x·sW − pW).
    Weight (C_in, C_out, kH, kW); the output is ``conv_transpose2d_output_size`` big, with
    ``output_padding`` extra rows/columns at the bottom/right (a convolution with stride > 1
    maps several input sizes to the same output size; this picks one).
    """

    def __init__(self, stride=1, padding=0, output_padding=0, dilation=1):
        self.stride, self.padding = pair(stride, "stride"), pair(padding, "padding")
        self.output_padding, self.dilation = pair(output_padding, "output_padding"), pair(dilation, "dilation")
        _check_arguments(self.stride, self.padding, self.dilation)
        if min(self.output_padding) < 0:
            raise RuntimeError("negative output_padding is not supported")
        (oph, opw), (sh, sw), (dh, dw) = self.output_padding, self.stride, self.dilation
        if not (oph < sh or oph < dh) or not (opw < sw or opw < dw):
            raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                               f"output_padding_height: {oph} output_padding_width: {opw} stride_height: {sh} "
                               f"stride_width: {sw} dilation_height: {dh} dilation_width: {dw}")

    def forward(self, x, weight, bias=None):
        self.unbatched = x.ndim == 3
        self.save_for_backward(x if self.wants(1) else None, weight)
        x = _check_inputs("conv_transpose2d", x, weight, bias, transposed=True)
        n, c, h, w = x.shape
        out_size = conv_transpose2d_output_size((h, w), weight.shape[2:], self.stride, self.padding,
                                                self.output_padding, self.dilation)
        if min(out_size) <= 0:
            raise RuntimeError(f"Given input size per channel: ({h} x {w}). Calculated output size per channel: "
                               f"({out_size[0]} x {out_size[1]}). Output size is too small")
        # the convolution whose input gradient this is: from the output image to x's (h, w) grid
        self.windows = windows(weight.shape, out_size, self.stride, self.padding, self.dilation, (h, w),
                               backend.device_type_of(x))
        self.x_columns = self.windows.widen(x)              # lined up with the windows' columns, kept for dW
        out = self.windows.scatter(weight, self.x_columns, n)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        return out[0] if self.unbatched else out

    def backward(self, grad):
        x, weight = self.saved_tensors
        if self.unbatched:
            grad = grad[None]
        if is_tensor(grad):  # recorded: dx = conv2d(g, W), dW the correlation of g with x
            gx = gw = gb = None
            if self.needs_grad[0]:
                gx = Conv2d(self.stride, self.padding, self.dilation)(grad, weight)
                gx = gx[0] if self.unbatched else gx
            if self.needs_grad[1]:
                gw = weight_gradient(grad, x[None] if self.unbatched else x, tuple(weight.shape[2:]),
                                     self.stride, self.padding, self.dilation)
            if len(self.needs_grad) > 2 and self.needs_grad[2]:
                gb = grad.sum(axis=(0, 2, 3))
            return gx, gw, gb
        windows = self.windows
        gx = gw = gb = None
        if self.needs_grad[0] or self.needs_grad[1]:
            lowered = windows.lower(grad)                   # one lowering of g serves dx and dW
            if self.needs_grad[0]:                          # a convolution of g
                gx = windows.narrow(windows.correlate(lowered, weight), grad.shape[0])
                if self.unbatched:
                    gx = gx[0]
            if self.needs_grad[1]:
                gw = windows.weight_grad(lowered, self.x_columns)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            gb = grad.sum(axis=(0, 2, 3))
        return gx, gw, gb
