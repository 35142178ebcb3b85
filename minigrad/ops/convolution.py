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

import numpy as np

from .. import backend, kernels
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
    dilation, at (Ho, Wo) output positions.  Output pixel (y, x) with kernel offset
    (i, j) reads padded pixel (y·sH + i·dH, x·sW + j·dW).

    Phases.  The padded image is split into sH·sW sub-images (space-to-depth), phase
    (r, t) holding pixels (Y·sH + r, X·sW + t).  Offset (i, j) then reads phase
    (i·dH mod sH, j·dW mod sW) from row ⌊i·dH/sH⌋ and column ⌊j·dW/sW⌋ on, with stride 1:
    its window is an (Ho, Wo) block of a phase image (``window``).

    Two ways to compute, chosen by which side has fewer channels:

    * C ≤ M (most layers): im2col copies the C·kH·kW window blocks into one matrix and
      one matrix product does the rest; col2im adds the blocks back, one add per offset.
    * C > M (the book's Conv2d(256, 3, 8, 2) and ConvTranspose2d(3, 256, 8, 2)): copying
      the 256-channel side kH·kW times would be most of the work, so it is not copied;
      the M side is moved instead.  With *wide rows* (every output row computed
      ``phase_width`` = ⌊dW·(kW−1)/sW⌋ + Wo pixels wide) the window of offset k is simply
      its phase image read from number ``starts[k]`` on, so per phase p
          W_k @ window_k   = (W_k @ phase_p) read from starts[k] on     (``correlate``)
          b @ window_kᵀ    = (b moved starts[k] along) @ phase_pᵀ      (``weight_grad``)
          col2im(W_kᵀ @ b) = W_kᵀ @ (b moved starts[k] along)           (``scatter``)
      and the offsets of a phase stack into one product (``_weights_by_phase``,
      ``_moved``): sH·sW products instead of kH·kW.  The extra columns of each wide row
      are garbage: ``narrow`` drops them from results and ``widen`` pads operands with
      zeros there, so that they add nothing (``gans bench``'s CelebA CNNs measure what it buys).

    (For im2col and col2im alone, copying blocks of the phases is about as fast as
    copying strided views of the padded image, so one layout serves both ways.)
    """

    def __init__(self, weight_shape, image_size, stride, padding, dilation, out_size, gather=None):
        self.others, self.channels = weight_shape[0], weight_shape[1]
        self.kernel, self.image_size = tuple(weight_shape[2:]), tuple(image_size)
        self.stride, self.padding, self.dilation = tuple(stride), tuple(padding), tuple(dilation)
        self.out_size = tuple(out_size)
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.kernel, self.stride, self.dilation, self.out_size
        (h, w), (ph, pw) = self.image_size, self.padding
        # gather ('cuda' on the GPU, or 'cpu'): im2col as one indexed read through an index plan
        # cached on that device, and col2im as one fixed-order sum per pixel through another
        # (kernels.gather_sum), since on a GPU every copy per offset or phase is a kernel launch
        self.gather = gather
        self.stack_windows = gather or self.channels <= self.others  # im2col/col2im, or work from the M side
        self.rows = (dh * (kh - 1)) // sh + ho               # phase-image rows that real outputs read
        self.phase_width = (dw * (kw - 1)) // sw + wo        # phase-image columns
        # one spare row: the runs of the last offsets reach up to `phase_width` numbers past `rows`
        self.phase_count, self.phase_size = sh * sw, (self.rows + 1) * self.phase_width
        # columns of the lowered matrices: Ho rows of Wo when im2col/col2im copy the windows,
        # Ho wide rows of `phase_width` when the products read the windows in place
        self.width = wo if self.stack_windows else self.phase_width
        self.run = ho * self.width
        # for each offset (i, j), in weight order: its phase and the row and column it starts at
        self.offsets = [((i * dh) % sh * sw + (j * dw) % sw, (i * dh) // sh, (j * dw) // sw)
                        for i in range(kh) for j in range(kw)]
        # in the flat phase image with wide rows, offset k's window starts `starts[k]` numbers in
        self.starts = [row * self.phase_width + col for _, row, col in self.offsets]
        self.by_phase = [(p, [k for k, offset in enumerate(self.offsets) if offset[0] == p])
                         for p in range(self.phase_count)]
        self.by_phase = [(p, ks) for p, ks in self.by_phase if ks]
        # for every phase: where its real pixels sit in the phase images and in the image
        self.phase_slices = [(r * sw + t, phase_rows, phase_cols, image_rows, image_cols)
                             for r, phase_rows, image_rows in _phase_lines(h, ph, sh, self.rows)
                             for t, phase_cols, image_cols in _phase_lines(w, pw, sw, self.phase_width)]

    # --- layouts ---------------------------------------------------------------------------
    def to_phases(self, image):
        """(N, C, H, W) → (N, C, phases, rows + 1, phase_width): padded and split into phases."""
        xp = backend.array_module(image)
        n, c = image.shape[:2]
        phases = xp.zeros((n, c, self.phase_count, self.rows + 1, self.phase_width), dtype=image.dtype)
        for phase, phase_rows, phase_cols, image_rows, image_cols in self.phase_slices:
            phases[:, :, phase, phase_rows, phase_cols] = image[:, :, image_rows, image_cols]
        return phases

    def from_phases(self, phases):
        """The inverse of ``to_phases``, dropping the padding: → (N, C, H, W)."""
        xp = backend.array_module(phases)
        n, c = phases.shape[:2]
        phases = phases.reshape(n, c, self.phase_count, self.rows + 1, self.phase_width)
        image = xp.zeros((n, c) + self.image_size, dtype=phases.dtype)
        for phase, phase_rows, phase_cols, image_rows, image_cols in self.phase_slices:
            image[:, :, image_rows, image_cols] = phases[:, :, phase, phase_rows, phase_cols]
        return image

    def window(self, phases, k):
        """What offset k reads for every output pixel: an (N, C, Ho, Wo) view of the phases."""
        (phase, row, col), (ho, wo) = self.offsets[k], self.out_size
        return phases[:, :, phase, row:row + ho, col:col + wo]

    def widen(self, a):
        """(N, M, Ho, Wo) → (M, N·Ho·width), zeros in the extra columns of wide rows: a
        gradient (or a transposed convolution's input) lined up with the windows' columns."""
        xp = backend.array_module(a)
        n, m, ho, wo = a.shape
        wide = xp.zeros((m, n, ho, self.width), dtype=a.dtype)
        wide[:, :, :, :wo] = a.transpose(1, 0, 2, 3)
        return wide.reshape(m, n * self.run)

    def narrow(self, wide, n):
        """(M, N·Ho·width) → (N, M, Ho, Wo): drop the extra columns of a product's result."""
        xp = backend.array_module(wide)
        ho, wo = self.out_size
        m = wide.shape[0]
        return xp.ascontiguousarray(wide.reshape(m, n, ho, self.width)[:, :, :, :wo].transpose(1, 0, 2, 3))

    # --- the three products ----------------------------------------------------------------------
    def lower(self, image):
        """What ``correlate`` and ``weight_grad`` need from an (N, C, H, W) image: its im2col
        matrix (C·kH·kW, N·Ho·Wo), one block copied per offset, or (C > M) just its phases."""
        xp = backend.array_module(image)
        if self.gather:
            return xp.take(self.padded(image).reshape(-1), self.plan(image.shape[0]))
        phases = self.to_phases(image)
        if not self.stack_windows:
            return phases
        n, c = image.shape[:2]
        cols = xp.empty((c, len(self.offsets), n) + self.out_size, dtype=image.dtype)
        for k in range(len(self.offsets)):
            cols[:, k] = self.window(phases, k).transpose(1, 0, 2, 3)
        return cols.reshape(c * len(self.offsets), n * self.run)

    def correlate(self, lowered, weight):
        """Σ_k W[:, :, k] @ window_k(image) = W₂ @ im2col(image): (M, N·Ho·width)."""
        m = weight.shape[0]
        if self.stack_windows:
            return backend.matmul(weight.reshape(m, -1), lowered)
        # per phase p: Z = W_p @ phase_p, every offset's M rows of it over the whole phase
        # image; offset k's window is Z's columns from starts[k] on
        xp = backend.array_module(lowered)
        n = lowered.shape[0]
        phases = lowered.reshape(n, self.channels, self.phase_count, self.phase_size)
        out = xp.zeros((n, m, self.run), dtype=lowered.dtype)
        for (p, ks), w in zip(self.by_phase, self._weights_by_phase(weight)):
            z = backend.matmul(w, phases[:, :, p]).reshape(n, len(ks), m, self.phase_size)
            for i, k in enumerate(ks):
                out += z[:, i, :, self.starts[k]:self.starts[k] + self.run]
        return out.transpose(1, 0, 2).reshape(m, n * self.run)

    def weight_grad(self, lowered, b):
        """b @ im2col(image)ᵀ for b of shape (M, N·Ho·width), as a weight (M, C, kH, kW)."""
        m = b.shape[0]
        if self.stack_windows:
            return backend.matmul(b, lowered.T).reshape((m, self.channels) + self.kernel)
        xp = backend.array_module(lowered)
        n = lowered.shape[0]
        phases = lowered.reshape(n, self.channels, self.phase_count, self.phase_size)
        grads = xp.empty((len(self.offsets), m, self.channels), dtype=b.dtype)
        for (p, ks), moved in zip(self.by_phase, self._moved(b, n)):
            product = backend.matmul(moved, phases[:, :, p].transpose(0, 2, 1)).sum(axis=0)    # (|ks|·M, C)
            grads[ks] = product.reshape(len(ks), m, self.channels)
        return grads.transpose(1, 2, 0).reshape((m, self.channels) + self.kernel)

    def scatter(self, weight, b, n):
        """col2im(W₂ᵀ @ b) for b of shape (M, N·Ho·width): the (N, C, H, W) image onto which
        every output pixel's window receives Σ_m W[m, :, k]·b[m] (overlaps summed)."""
        xp = backend.array_module(b)
        m, c = weight.shape[0], self.channels
        if self.gather:  # col2im: each padded pixel sums the window entries that land on it
            values = backend.matmul(weight.reshape(m, -1).T, b).reshape(-1)
            padded = kernels.gather_sum(values, self.plan(n, _scatter_plan)).reshape((n, c) + self.padded_size)
            return xp.ascontiguousarray(self.unpad(padded))
        phases = xp.zeros((n, c, self.phase_count, self.rows + 1, self.phase_width), dtype=b.dtype)
        if self.stack_windows:  # col2im: one add of an (N, C, Ho, Wo) block per offset
            blocks = backend.matmul(weight.reshape(m, -1).T, b).reshape((c, len(self.offsets), n) + self.out_size)
            for k in range(len(self.offsets)):
                self.window(phases, k)[...] += blocks[:, k].transpose(1, 0, 2, 3)
            return self.from_phases(phases)
        phases = phases.reshape(n, c, self.phase_count, self.phase_size)
        for (p, ks), w, moved in zip(self.by_phase, self._weights_by_phase(weight), self._moved(b, n)):
            phases[:, :, p] = backend.matmul(w.T, moved)                                    # (N, C, phase_size)
        return self.from_phases(phases)

    # --- helpers of the gather way ----------------------------------------------------------------
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

    def plan(self, n, make=None):
        """The index plan of im2col (``make=_gather_plan``, the default) or col2im
        (``_scatter_plan``) for a batch of n: made once per geometry and kept on the device."""
        device = backend.cp.cuda.Device().id if self.gather == "cuda" else None
        return (make or _gather_plan)(n, self.channels, self.padded_size, self.kernel, self.stride, self.dilation,
                                      self.out_size, device)

    # --- helpers of the C > M way ------------------------------------------------------------------
    def _weights_by_phase(self, weight):
        """For each phase, its offsets' W[:, :, k] stacked: (|offsets|·M, C), rows (k, m)."""
        m = weight.shape[0]
        per_offset = weight.reshape(m, self.channels, -1)
        return [per_offset[:, :, ks].transpose(2, 0, 1).reshape(len(ks) * m, self.channels)
                for _, ks in self.by_phase]

    def _moved(self, b, n):
        """For each phase, copies of b (M, N·Ho·width) moved along to each of its offsets'
        starts, stacked: (N, |offsets|·M, phase_size), [n, (k, m), u] = b[m, n, u − starts[k]]
        (zero outside).  Then Σ_u moved·phase = the window products, without copying windows."""
        xp = backend.array_module(b)
        m = b.shape[0]
        reach = max(self.starts)
        padded = xp.zeros((n, m, reach + self.phase_size), dtype=b.dtype)
        padded[:, :, reach:reach + self.run] = b.reshape(m, n, self.run).transpose(1, 0, 2)
        return [xp.stack([padded[:, :, reach - self.starts[k]:reach - self.starts[k] + self.phase_size]
                          for k in ks], axis=1).reshape(n, len(ks) * m, self.phase_size)
                for _, ks in self.by_phase]


@functools.lru_cache(maxsize=64)
def _gather_plan(n, channels, padded_size, kernel, stride, dilation, out_size, device):
    """The im2col index plan (see ``Windows.plan``), on GPU ``device`` or, for None, the host."""
    (hp, wp), (kh, kw), (sh, sw), (dh, dw), (ho, wo) = padded_size, kernel, stride, dilation, out_size
    c = np.arange(channels).reshape(-1, 1, 1, 1, 1, 1)
    i, j = (np.arange(kh) * dh).reshape(1, -1, 1, 1, 1, 1), (np.arange(kw) * dw).reshape(1, 1, -1, 1, 1, 1)
    image = np.arange(n).reshape(1, 1, 1, -1, 1, 1)
    y, x = (np.arange(ho) * sh).reshape(1, 1, 1, 1, -1, 1), (np.arange(wo) * sw).reshape(1, 1, 1, 1, 1, -1)
    index = ((image * channels + c) * hp + y + i) * wp + x + j
    index = index.reshape(channels * kh * kw, n * ho * wo)
    index = index.astype(np.int32 if n * channels * hp * wp < 2 ** 31 else np.int64)
    if device is None:
        return index
    with backend.cp.cuda.Device(device):
        return backend.cp.asarray(index)


@functools.lru_cache(maxsize=64)
def _scatter_plan(n, channels, padded_size, kernel, stride, dilation, out_size, device):
    """col2im's plan: for every position of the flat padded images, the im2col entries (flat
    indices into the (C·kH·kW, N·Ho·Wo) matrix) that land on it, in increasing order, −1
    filling each row up to the longest.  Summed in this fixed order, col2im gives the same
    numbers every run on the GPU too, where adding with atomics (``cupyx.scatter_add``) sums
    in whatever order the threads arrive.

    Rows and columns are independent: padded row y is read by the (kernel row i, output row
    oy) pairs with oy·sH + i·dH = y, and likewise for columns, so each position's entries are
    all pairs of its row's pairs and its column's pairs."""
    (ho, wo), columns = out_size, n * out_size[0] * out_size[1]
    dtype = np.int32 if channels * kernel[0] * kernel[1] * columns < 2 ** 31 else np.int64
    i, oy = _taps(padded_size[0], kernel[0], stride[0], dilation[0], ho, dtype)   # (Hp, ry)
    j, ox = _taps(padded_size[1], kernel[1], stride[1], dilation[1], wo, dtype)   # (Wp, rx)
    # axes (N, C, Hp, Wp, ry, rx): the last two are a position's slots
    i, oy, j, ox = i[:, None, :, None], oy[:, None, :, None], j[None, :, None, :], ox[None, :, None, :]
    image = np.arange(n, dtype=dtype).reshape(-1, 1, 1, 1, 1, 1)
    c = np.arange(channels, dtype=dtype).reshape(-1, 1, 1, 1, 1)
    entry = ((c * kernel[0] + i) * kernel[1] + j) * columns + (image * ho + oy) * wo + ox
    plan = np.where((i >= 0) & (j >= 0), entry, dtype(-1)).reshape(-1, i.shape[2] * j.shape[3])
    if device is None:
        return plan
    with backend.cp.cuda.Device(device):
        return backend.cp.asarray(plan)


def _taps(padded, kernel, stride, dilation, out, dtype):
    """Along one dimension: for each padded position, the (kernel tap, output position) pairs
    that read it, by increasing tap, as two (padded, slots) arrays; −1 in unused slots."""
    pairs = [[] for _ in range(padded)]
    for tap in range(kernel):
        for o in range(out):
            pairs[o * stride + tap * dilation].append((tap, o))
    slots = max(1, max(map(len, pairs)))
    taps, outs = np.full((padded, slots), -1, dtype=dtype), np.full((padded, slots), -1, dtype=dtype)
    for position, found in enumerate(pairs):
        for slot, (tap, o) in enumerate(found):
            taps[position, slot], outs[position, slot] = tap, o
    return taps, outs


def _phase_lines(size, pad, stride, extent):
    """Along one dimension: for each phase r, the positions Y (< extent) of phase r's image
    that hold real pixels, and those pixels h = Y·stride + r − pad (0 ≤ h < size)."""
    for r in range(stride):
        first = (r - pad) % stride               # the first real pixel in phase r
        start = (first + pad - r) // stride      # ... and its position in the phase image
        count = min(-(-(size - first) // stride), extent - start)
        if count > 0:
            yield r, slice(start, start + count), slice(first, first + stride * (count - 1) + 1, stride)


# --- the two operations ------------------------------------------------------------------------

@functools.lru_cache(maxsize=128)
def windows(weight_shape, image_size, stride, padding, dilation, out_size, gather):
    """The :class:`Windows` of one geometry, made once (they hold no data): a training step
    asks for the same few every time, and making one costs 10–25 µs of Python."""
    return Windows(weight_shape, image_size, stride, padding, dilation, out_size, gather)


def _gather_on(x):
    """The gather way on the GPU; on the CPU copying windows is faster (None)."""
    return "cuda" if backend.is_gpu_array(x) else None


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
                               _gather_on(x))
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
        g = windows.widen(grad)                             # (O, N·Ho·width)
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
                               _gather_on(x))
        self.x_wide = self.windows.widen(x)                 # (C_in, N·H·width), kept for dW
        out = self.windows.scatter(weight, self.x_wide, n)
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
                gw = windows.weight_grad(lowered, self.x_wide)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            gb = grad.sum(axis=(0, 2, 3))
        return gx, gw, gb
