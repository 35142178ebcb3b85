"""Faster lowerings of a convolution than the op's im2col (``minigrad.ops.convolution.Windows``).

Each is a subclass of ``Windows`` with the same three products and the same numbers (the
tests run every convolution through each); ``windows`` picks one per geometry and device:

* ``PhaseWindows`` on the CPU, for a convolution with a stride: the op's im2col and col2im,
  copying each window as a block of the image split into phases, where its rows lie
  contiguous, the batch last.
* ``PhaseProducts`` where copying the image side kH·kW times, as im2col does, would copy
  more numbers than shifted copies of the other side (``lowering`` compares the two; the
  book's Conv2d(256, 3, 8, 2) and ConvTranspose2d(3, 256, 8, 2)): the image is not copied.
* ``Gathered`` on a GPU, where every copy per offset is a kernel launch: im2col as one
  indexed read through an index plan, col2im as one fixed-order sum per pixel through
  another, both made once per geometry and kept on the device.
"""
import functools

import numpy as np

from .. import backend
from ..ops import convolution
from ..ops.convolution import Windows
from . import replaces


# col2im's products are made this many numbers at a time (a few MB: ``PhaseWindows.channel_chunks``)
SCATTER_CHUNK_NUMBERS = 1 << 20


class PhaseWindows(Windows):
    """im2col and col2im as the engine's, reading each offset's window from the padded image
    split into sH·sW sub-images (space-to-depth), phase (r, t) holding
    pixels (Y·sH + r, X·sW + t).  Offset (i, j) then reads phase (i·dH mod sH, j·dW mod sW)
    from row ⌊i·dH/sH⌋ and column ⌊j·dW/sW⌋ on, with stride 1: its window is an (Ho, Wo)
    block of a phase image, whose rows lie contiguous in memory (in the padded image, with a
    stride above 1, a window's row reads every other number).  The batch goes last, in the
    phase images and in im2col's columns (Ho, Wo, N): with a batch of small images the copies
    then move runs of N numbers rather than of Wo (with one image nothing moves differently).
    Only the layouts differ from the engine's (``layout``, ``blank_layout``, ``image_of``,
    ``window``, ``columns``, ``widen``, ``narrow``), and col2im works in ``channel_chunks``."""

    def __init__(self, weight_shape, image_size, stride, padding, dilation, out_size):
        super().__init__(weight_shape, image_size, stride, padding, dilation, out_size)
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.kernel, self.stride, self.dilation, self.out_size
        (h, w), (ph, pw) = self.image_size, self.padding
        self.rows = (dh * (kh - 1)) // sh + ho               # phase-image rows that real outputs read
        self.phase_width = (dw * (kw - 1)) // sw + wo        # phase-image columns
        # one spare row: the runs of the last offsets (PhaseProducts) reach up to `phase_width` past `rows`
        self.phase_count, self.phase_size = sh * sw, (self.rows + 1) * self.phase_width
        # for each offset (i, j), in weight order: its phase and the row and column it starts at
        self.phase_offsets = [((i * dh) % sh * sw + (j * dw) % sw, (i * dh) // sh, (j * dw) // sw)
                              for i in range(kh) for j in range(kw)]
        # for every phase: where its real pixels sit in the phase images and in the image
        self.phase_slices = [(r * sw + t, phase_rows, phase_cols, image_rows, image_cols)
                             for r, phase_rows, image_rows in _phase_lines(h, ph, sh, self.rows)
                             for t, phase_cols, image_cols in _phase_lines(w, pw, sw, self.phase_width)]

    batch_last = True  # the phase images' layout: (C, phases, rows + 1, phase_width, N); else N first

    def layout(self, image):
        """(N, C, H, W) → phase images (C, phases, rows + 1, phase_width, N): padded, split into
        phases, the batch last (or first: ``batch_last``)."""
        phases = self.blank_layout(image.shape[0], image.dtype, image)
        for phase, phase_rows, phase_cols, image_rows, image_cols in self.phase_slices:
            self._batch_first(phases)[:, :, phase, phase_rows, phase_cols] = image[:, :, image_rows, image_cols]
        return phases

    def blank_layout(self, n, dtype, like):
        shape = (self.channels, self.phase_count, self.rows + 1, self.phase_width)
        return backend.array_module(like).zeros(shape + (n,) if self.batch_last else (n,) + shape, dtype=dtype)

    def image_of(self, phases):
        """The inverse of ``layout``, dropping the padding: → (N, C, H, W)."""
        xp = backend.array_module(phases)
        phases = self._batch_first(phases)
        image = xp.zeros(phases.shape[:2] + self.image_size, dtype=phases.dtype)
        for phase, phase_rows, phase_cols, image_rows, image_cols in self.phase_slices:
            image[:, :, image_rows, image_cols] = phases[:, :, phase, phase_rows, phase_cols]
        return image

    def _batch_first(self, phases):
        """The phase images as an (N, C, phases, rows + 1, phase_width) view."""
        return phases.transpose(4, 0, 1, 2, 3) if self.batch_last else phases

    def window(self, phases, k):
        """What offset k reads for every output pixel: a (C, Ho, Wo, N) block of the phases."""
        (phase, row, col), (ho, wo) = self.phase_offsets[k], self.out_size
        return phases[:, phase, row:row + ho, col:col + wo]

    def columns(self, n):
        return self.out_size + (n,)

    def channel_chunks(self, b):
        """A few channels at a time on the CPU: W₂ᵀ @ b has kH·kW numbers per output pixel and
        input channel, and a chunk of it is still in the cache when col2im adds it up (the same
        sums; BLAS may round a smaller product differently in the last bit).  On a GPU each add
        is a kernel launch: all at once."""
        c = self.channels
        if backend.is_gpu_array(b):
            return [(0, c)]
        step = max(1, SCATTER_CHUNK_NUMBERS // max(1, len(self.offsets) * b.shape[1]))  # (b.shape[1]: 0 for no images)
        return [(start, min(start + step, c)) for start in range(0, c, step)]

    def widen(self, a):
        """(N, M, Ho, Wo) → (M, Ho·Wo·N), lined up with the columns."""
        return a.transpose(1, 2, 3, 0).reshape(a.shape[1], -1)

    def narrow(self, b, n):
        """(M, Ho·Wo·N) → (N, M, Ho, Wo)."""
        xp = backend.array_module(b)
        return xp.ascontiguousarray(b.reshape((b.shape[0],) + self.out_size + (n,)).transpose(3, 0, 1, 2))


class PhaseProducts(PhaseWindows):
    """Products per phase that read the image's windows where they lie, for C > M.

    With *wide rows* (every output row computed ``phase_width`` = ⌊dW·(kW−1)/sW⌋ + Wo
    pixels wide) the window of offset k is simply its phase image read from number
    ``starts[k]`` on, so per phase p

        W_k @ window_k   = (W_k @ phase_p) read from starts[k] on     (``correlate``)
        b @ window_kᵀ    = (b moved starts[k] along) @ phase_pᵀ      (``weight_grad``)
        col2im(W_kᵀ @ b) = W_kᵀ @ (b moved starts[k] along)           (``scatter``)

    and the offsets of a phase stack into one product (``_weights_by_phase``, ``_moved``):
    sH·sW products instead of kH·kW.  The extra columns of each wide row are garbage:
    ``narrow`` drops them from results and ``widen`` pads operands with zeros there, so
    that they add nothing.  The products read whole phase images, one image at a time: the
    batch first (and ``window``, ``columns`` are not used).
    """

    batch_last = False

    def __init__(self, weight_shape, image_size, stride, padding, dilation, out_size):
        super().__init__(weight_shape, image_size, stride, padding, dilation, out_size)
        self.run = self.out_size[0] * self.phase_width      # columns of one image in a product
        # in the flat phase image with wide rows, offset k's window starts `starts[k]` numbers in
        self.starts = [row * self.phase_width + col for _, row, col in self.phase_offsets]
        self.by_phase = [(p, [k for k, offset in enumerate(self.phase_offsets) if offset[0] == p])
                         for p in range(self.phase_count)]
        self.by_phase = [(p, ks) for p, ks in self.by_phase if ks]

    def widen(self, a):
        """(N, M, Ho, Wo) → (M, N·Ho·phase_width), zeros in the extra columns of wide rows."""
        xp = backend.array_module(a)
        n, m, ho, wo = a.shape
        wide = xp.zeros((m, n, ho, self.phase_width), dtype=a.dtype)
        wide[:, :, :, :wo] = a.transpose(1, 0, 2, 3)
        return wide.reshape(m, n * self.run)

    def narrow(self, wide, n):
        """(M, N·Ho·phase_width) → (N, M, Ho, Wo): the extra columns dropped."""
        xp = backend.array_module(wide)
        ho, wo = self.out_size
        m = wide.shape[0]
        return xp.ascontiguousarray(wide.reshape(m, n, ho, self.phase_width)[:, :, :, :wo].transpose(1, 0, 2, 3))

    def lower(self, image):  # the products read the windows where they lie
        n, c = image.shape[:2]
        return self.layout(image).reshape(n, c, self.phase_count, self.phase_size)

    def correlate(self, phases, weight):
        """Per phase p: Z = W_p @ phase_p, every offset's M rows of it over the whole phase
        image; offset k's window is Z's columns from starts[k] on."""
        xp = backend.array_module(phases)
        m, n = weight.shape[0], phases.shape[0]
        out = xp.zeros((n, m, self.run), dtype=phases.dtype)
        for (p, ks), w in zip(self.by_phase, self._weights_by_phase(weight)):
            z = backend.matmul(w, phases[:, :, p]).reshape(n, len(ks), m, self.phase_size)
            for i, k in enumerate(ks):
                out += z[:, i, :, self.starts[k]:self.starts[k] + self.run]
        return out.transpose(1, 0, 2).reshape(m, n * self.run)

    def weight_grad(self, phases, b):
        xp = backend.array_module(phases)
        m, n = b.shape[0], phases.shape[0]
        grads = xp.empty((len(self.offsets), m, self.channels), dtype=b.dtype)
        for (p, ks), moved in zip(self.by_phase, self._moved(b, n)):
            product = backend.matmul(moved, phases[:, :, p].transpose(0, 2, 1)).sum(axis=0)    # (|ks|·M, C)
            grads[ks] = product.reshape(len(ks), m, self.channels)
        return grads.transpose(1, 2, 0).reshape((m, self.channels) + self.kernel)

    def scatter(self, weight, b, n):
        xp = backend.array_module(b)
        phases = xp.zeros((n, self.channels, self.phase_count, self.phase_size), dtype=b.dtype)
        for (p, ks), w, moved in zip(self.by_phase, self._weights_by_phase(weight), self._moved(b, n)):
            phases[:, :, p] = backend.matmul(w.T, moved)                                    # (N, C, phase_size)
        return self.image_of(phases.reshape(n, self.channels, self.phase_count, self.rows + 1, self.phase_width))

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


def _phase_lines(size, pad, stride, extent):
    """Along one dimension: for each phase r, the positions Y (< extent) of phase r's image
    that hold real pixels, and those pixels h = Y·stride + r − pad (0 ≤ h < size)."""
    for r in range(stride):
        first = (r - pad) % stride               # the first real pixel in phase r
        start = (first + pad - r) // stride      # ... and its position in the phase image
        count = min(-(-(size - first) // stride), extent - start)
        if count > 0:
            yield r, slice(start, start + count), slice(first, first + stride * (count - 1) + 1, stride)


class Gathered(Windows):
    """im2col as one indexed read, col2im as one fixed-order sum per pixel, through index
    plans made once per geometry and batch size and kept on the array's device."""

    def lower(self, image):
        xp = backend.array_module(image)
        return xp.take(self.padded(image).reshape(-1), self.plan(image.shape[0], _gather_plan, image))

    def scatter(self, weight, b, n):
        """Each padded pixel sums the im2col entries that land on it (``gather_sum``)."""
        m, c = weight.shape[0], self.channels
        values = backend.matmul(weight.reshape(m, -1).T, b).reshape(-1)
        padded = gather_sum(values, self.plan(n, _scatter_plan, values)).reshape((n, c) + self.padded_size)
        return backend.array_module(b).ascontiguousarray(self.unpad(padded))

    def plan(self, n, make, like):
        """The index plan that ``make`` builds for a batch of n, on ``like``'s device."""
        device = like.device.id if backend.is_gpu_array(like) else None
        return make(n, self.channels, self.padded_size, self.kernel, self.stride, self.dilation, self.out_size,
                    device)


def gather_sum(values, plan):
    """out[p] = Σ_j values[plan[p, j]] over the slots j with plan[p, j] ≥ 0, for a flat
    ``values`` and a (P, slots) ``plan`` (on a GPU: one kernel, ``accel.kernels``)."""
    xp = backend.array_module(values)
    return xp.where(plan >= 0, values[plan], 0).sum(axis=1)


def _on_device(index, device):
    """A plan made on the host, moved to GPU ``device`` (None: kept on the host)."""
    if device is None:
        return index
    cp = backend.module_for("cuda")
    with cp.cuda.Device(device):
        return cp.asarray(index)


@functools.lru_cache(maxsize=64)
def _gather_plan(n, channels, padded_size, kernel, stride, dilation, out_size, device):
    """im2col's plan: the flat index into the padded images of every entry of the
    (C·kH·kW, N·Ho·Wo) matrix."""
    (hp, wp), (kh, kw), (sh, sw), (dh, dw), (ho, wo) = padded_size, kernel, stride, dilation, out_size
    c = np.arange(channels).reshape(-1, 1, 1, 1, 1, 1)
    i, j = (np.arange(kh) * dh).reshape(1, -1, 1, 1, 1, 1), (np.arange(kw) * dw).reshape(1, 1, -1, 1, 1, 1)
    image = np.arange(n).reshape(1, 1, 1, -1, 1, 1)
    y, x = (np.arange(ho) * sh).reshape(1, 1, 1, 1, -1, 1), (np.arange(wo) * sw).reshape(1, 1, 1, 1, 1, -1)
    index = ((image * channels + c) * hp + y + i) * wp + x + j
    index = index.reshape(channels * kh * kw, n * ho * wo)
    return _on_device(index.astype(np.int32 if n * channels * hp * wp < 2 ** 31 else np.int64), device)


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
    return _on_device(plan, device)


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


LOWERINGS = {"im2col": Windows, "phase-windows": PhaseWindows, "phase-products": PhaseProducts,
             "gather": Gathered}
forced = None  # a name of LOWERINGS to use for every convolution (the tests try each)


def lowering(weight_shape, image_size, stride, dilation, out_size, device_type):
    """The lowering for a geometry: on a GPU gather; on the CPU products per phase where the
    copies they make of the M side (each offset's shifted copy of a phase image's worth of
    gradient, M·phase_size numbers per image and offset) are fewer than im2col's of the C
    side (C·Ho·Wo); else, with a stride, im2col from the phases; with none the engine's
    im2col (its windows' rows are contiguous already, and its batch-first columns spare a
    batch the transposes that the phases' batch-last ones need)."""
    if device_type == "cuda":
        return Gathered
    (others, channels), (kh, kw), (sh, sw), (dh, dw), (ho, wo) = (weight_shape[:2], weight_shape[2:], stride,
                                                                  dilation, out_size)
    phase_size = ((dh * (kh - 1)) // sh + ho + 1) * ((dw * (kw - 1)) // sw + wo)
    if others * phase_size < channels * ho * wo:
        return PhaseProducts
    return Windows if (sh, sw) == (1, 1) else PhaseWindows


@replaces(convolution, "windows")
def windows(weight_shape, image_size, stride, padding, dilation, out_size, device_type):
    return _made(forced, weight_shape, image_size, stride, padding, dilation, out_size, device_type)


@functools.lru_cache(maxsize=128)
def _made(forced_kind, weight_shape, image_size, stride, padding, dilation, out_size, device_type):
    """The lowering of one geometry, made once (they hold no data: a training step asks for the
    same few every time)."""
    kind = LOWERINGS[forced_kind] if forced_kind else lowering(weight_shape, image_size, stride, dilation,
                                                                out_size, device_type)
    return kind(weight_shape, image_size, stride, padding, dilation, out_size)
