"""Pooling over windows of an image: the largest value (max pooling) or the mean (average
pooling) of each window, as ``torch.nn.functional.max_pool2d`` and ``avg_pool2d``.

Both read the input through the same windows: a window of kernel (kh, kw) every ``stride``
pixels, ``dilation`` apart, over the input padded by ``padding``.  Their gradients put each
output's gradient back where its window read (``Scatter``, summing where windows overlap), so
that they are linear in the gradient and differentiable again.
"""
import functools
import math

import numpy as np

from .. import backend
from ..autograd import Function, run
from .convolution import pair
from .shape import Scatter


def pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's rule: ⌊(size + 2p − d(k − 1) − 1)/s⌋ + 1 (⌈·⌉ with ceil_mode, where the last
    window must still start inside the input or its left padding)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


class Windows:
    """Where each window of a pooling reads: index arrays into the padded input."""

    def __init__(self, op, shape, kernel, stride, padding, dilation, ceil_mode):
        kernel, padding, dilation = pair(kernel), pair(padding, "padding"), pair(dilation, "dilation")
        stride = kernel if stride is None or stride == () else pair(stride, "stride")
        for k, p, d in zip(kernel, padding, dilation):
            if p > (d * (k - 1) + 1) // 2:
                raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, "
                                   f"kernel_size={k} and dilation={d}")
        *batch, h, w = shape
        out = tuple(pool_output_size(n, k, s, p, d, ceil_mode)
                    for n, k, s, p, d in zip((h, w), kernel, stride, padding, dilation))
        if min(out) <= 0:
            raise RuntimeError(f"Given input size: ({'x'.join(map(str, shape[-3:]))}). Calculated output size: "
                               f"({'x'.join(map(str, tuple(shape[-3:-2]) + out))}). Output size is too small")
        self.op, self.kernel, self.padding, self.out = op, kernel, padding, out
        # windows that do not overlap send each pixel at most one gradient: assigned, not summed
        self.disjoint = all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))
        # padded size: enough for every window (ceil_mode may read past the right padding)
        self.padded = tuple(max(n + 2 * p, (o - 1) * s + d * (k - 1) + 1)
                            for n, p, o, s, d, k in zip((h, w), padding, out, stride, dilation, kernel))
        self.shape, self.stride, self.dilation = tuple(shape), stride, dilation

    @functools.cached_property
    def rows_and_cols(self):
        """The rows and columns of the padded input read by window (i, j) at kernel offset
        (a, b), on the host: two index arrays of shape (Ho, Wo, kh·kw)."""
        (ho, wo), (kh, kw), (sh, sw), (dh, dw) = self.out, self.kernel, self.stride, self.dilation
        a, b = np.divmod(np.arange(kh * kw), kw)
        return (np.arange(ho)[:, None, None] * sh + a[None, None, :] * dh,
                np.arange(wo)[None, :, None] * sw + b[None, None, :] * dw)

    def pad(self, x, value):
        xp = backend.array_module(x)
        (ph, pw), (hp, wp) = self.padding, self.padded
        h, w = x.shape[-2:]
        if (hp, wp) == (h, w):  # no padding, and no window reaches past the input
            return x
        out = xp.full(x.shape[:-2] + (hp, wp), value, dtype=x.dtype)
        out[..., ph:ph + h, pw:pw + w] = x
        return out

    def views(self, padded):
        """For each kernel offset, in the order of ``rows_and_cols``, the pixel it reads in
        every window: a strided view (…, Ho, Wo) of the padded input."""
        (ho, wo), (kh, kw), (sh, sw), (dh, dw) = self.out, self.kernel, self.stride, self.dilation
        return [padded[..., a * dh:a * dh + sh * (ho - 1) + 1:sh, b * dw:b * dw + sw * (wo - 1) + 1:sw]
                for a in range(kh) for b in range(kw)]

    def position(self, k):
        """Where kernel offset k, an array with one entry per window (…, Ho, Wo), reads in each
        window: an index into the padded plane, flattened (row·Wp + column)."""
        xp = backend.array_module(k)
        (ho, wo), (kh, kw), (sh, sw), (dh, dw), wp = self.out, self.kernel, self.stride, self.dilation, self.padded[1]
        window_start = xp.arange(ho)[:, None] * (sh * wp) + xp.arange(wo) * sw
        offset_step = xp.asarray([a * dh * wp + b * dw for a in range(kh) for b in range(kw)])
        return window_start + offset_step[k]

    def on(self, x):
        """The windows' rows and columns on x's device."""
        device = backend.device_type_of(x)
        return tuple(backend.move(index, device) for index in self.rows_and_cols)

    def lead(self, xp, extra):
        """Index arrays for the batch and channel dimensions, to stand before rows and columns
        of ``extra`` more dimensions."""
        return tuple(xp.arange(n).reshape((-1,) + (1,) * (len(self.shape) - 3 - i + extra))
                     for i, n in enumerate(self.shape[:-2]))

    def unpad(self, grad):
        (ph, pw) = self.padding
        h, w = self.shape[-2:]
        return grad[..., ph:ph + h, pw:pw + w]


class MaxPool2d(Function):
    """The largest value in each window; its gradient goes to that one position."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        self.args = (kernel_size, stride, padding, dilation, ceil_mode)

    def forward(self, x):
        _check_image("max_pool2d", x)
        xp = backend.array_module(x)
        windows = self.windows = Windows("max_pool2d", x.shape, *self.args)
        # stacked, so that each offset's values are contiguous and the loop runs on whole arrays
        first, *others = xp.stack(windows.views(windows.pad(x, -np.inf)))
        largest, chosen = first, xp.zeros(first.shape, dtype=np.int64)  # per window: value, offset
        for k, value in enumerate(others, 1):
            takes = (value > largest) | xp.isnan(value)  # PyTorch's rule: larger, or NaN
            largest = xp.where(takes, value, largest)
            chosen += takes * (k - chosen)               # where(takes, k, chosen) in integer arithmetic: faster
        self.positions = windows.position(chosen)  # where each maximum came from, in the flat padded plane
        return largest

    def backward(self, grad):
        windows = self.windows
        batch, plane = windows.shape[:-2], windows.padded[0] * windows.padded[1]
        index = windows.lead(backend.array_module(self.positions), 2) + (self.positions,)
        spread = run(Scatter(index, batch + (plane,), windows.disjoint), grad)
        return windows.unpad(spread.reshape(batch + windows.padded))

    def indices(self):
        """PyTorch's ``return_indices``: the position of each maximum in its (unpadded) plane."""
        (ph, pw), (_, wp), w = self.windows.padding, self.windows.padded, self.windows.shape[-1]
        rows = self.positions // wp
        return (rows - ph) * w + (self.positions - rows * wp - pw)


class AvgPool2d(Function):
    """The mean of each window (``count_include_pad``: padding counts as zeros, else only the
    input's pixels are counted; ``divisor_override`` divides by a fixed number)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        self.args = (kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        _check_image("avg_pool2d", x)
        windows = self.windows = Windows("avg_pool2d", x.shape, *self.args)
        first, *others = windows.views(windows.pad(x, 0))
        total = first.copy()
        for value in others:
            total += value
        self.divisor = backend.move(self._divisor(windows, x.dtype), backend.device_type_of(x))
        return total / self.divisor

    def _divisor(self, windows, dtype):
        if self.divisor_override:
            return np.asarray(self.divisor_override, dtype=dtype)
        (ph, pw), (h, w), (rows, cols) = windows.padding, windows.shape[-2:], windows.rows_and_cols
        inside = (rows >= ph) & (rows < ph + h) & (cols >= pw) & (cols < pw + w)
        if self.count_include_pad:  # the padding counts, what lies beyond it (ceil_mode) does not
            inside = (rows < h + 2 * ph) & (cols < w + 2 * pw)
        return inside.sum(axis=-1).astype(dtype)

    def backward(self, grad):
        """Each window's gradient, divided by its divisor, goes to every pixel it read."""
        windows = self.windows
        xp = backend.array_module(grad)
        share = xp.broadcast_to(xp.expand_dims(grad / self.divisor, -1), tuple(grad.shape) + (math.prod(windows.kernel),))
        rows, cols = windows.on(self.divisor)
        index = windows.lead(backend.array_module(rows), 3) + (rows, cols)
        return windows.unpad(run(Scatter(index, windows.shape[:-2] + windows.padded, windows.disjoint), share))


def _check_image(name, x):
    if x.ndim not in (3, 4):
        raise RuntimeError(f"{name}: Expected 3D or 4D (batch mode) tensor for input, but got: {list(x.shape)}")
