"""Normalisation layers as single graph nodes: layer norm and batch norm.

The arithmetic is in :mod:`minigrad.kernels` (NumPy on the CPU, one CUDA kernel per pass
on the GPU); these nodes check their input, flatten it to the kernels' layout and keep the
per-group mean and 1/std for backward.
"""
import math

from .. import kernels
from ..autograd import Function, is_tensor


class LayerNorm(Function):
    """Normalise over the last ``len(normalized_shape)`` dimensions, then scale and shift.

    x̂ = (x - mean) / sqrt(var + eps) with the biased variance, y = x̂·w + b.
    Backward, with N values per group and ĝ = g·w:
    dx = (N·ĝ - Σĝ - x̂·Σ(ĝ·x̂)) / (N·sqrt(var + eps)).
    """

    def __init__(self, normalized_shape, eps=1e-5):
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.m = math.prod(self.normalized_shape)  # values per group

    def forward(self, x, weight=None, bias=None):
        n = len(self.normalized_shape)
        if x.shape[x.ndim - n:] != self.normalized_shape:
            raise RuntimeError(f"Given normalized_shape={list(self.normalized_shape)}, expected input with "
                               f"shape [*, {', '.join(map(str, self.normalized_shape))}], "
                               f"but got input of size{list(x.shape)}")
        self.save_for_backward(x, weight)
        self.x_shape = x.shape
        out, self.mean, self.rstd = kernels.layer_norm(self._rows(x), _flat(weight), _flat(bias), self.eps)
        return out.reshape(x.shape)

    def backward(self, grad):
        x, weight = self.saved_tensors
        mean, rstd = self.mean, self.rstd
        if is_tensor(grad):  # recorded: the statistics are functions of x, computed again in the graph
            _, mean, rstd = kernels.layer_norm(self._rows(x), None, None, self.eps)
        gx, gw, gb = kernels.layer_norm_backward(self._rows(grad), self._rows(x), _flat(weight),
                                                 mean, rstd, self.needs_grad)
        shape = self.normalized_shape
        return (None if gx is None else gx.reshape(self.x_shape), None if gw is None else gw.reshape(shape),
                None if gb is None else gb.reshape(shape))

    def _rows(self, array):
        """(rows, m): one row per normalised group."""
        return array.reshape(math.prod(array.shape[:array.ndim - len(self.normalized_shape)]), self.m)


def _flat(array):
    return None if array is None else array.reshape(-1)


class BatchNorm(Function):
    """Normalise each channel (dimension 1) over the batch and every position, then scale
    and shift, as ``torch.nn.functional.batch_norm``.

    Training: x̂ = (x − mean) / sqrt(var + eps) with the batch's mean and *biased*
    variance over the M = N·H·W values of each channel, and the running estimates move
    towards the batch's: running = (1 − momentum)·running + momentum·batch, using the
    *unbiased* variance var·M/(M − 1) (PyTorch's convention).  Evaluation: the running
    mean and variance are used instead and nothing is updated.

    Backward, with α = w/sqrt(var + eps): training dx = α·(g − Σg/M − x̂·Σ(g·x̂)/M),
    evaluation dx = g·α; dw = Σ g·x̂, db = Σ g.
    """

    def __init__(self, training, momentum=0.1, eps=1e-5, running_mean=None, running_var=None):
        self.training, self.momentum, self.eps = training, momentum, eps
        self.running_mean, self.running_var = running_mean, running_var  # arrays, updated in place

    def forward(self, x, weight=None, bias=None):
        if self.training and x.size // max(x.shape[1], 1) <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input size "
                             f"minigrad.Size({list(x.shape)})")
        self.save_for_backward(x, weight)
        out, self.mean, self.rstd = kernels.batch_norm(x, weight, bias, self.eps, self.running_mean,
                                                       self.running_var, self.momentum, self.training)
        return out

    def backward(self, grad):
        x, weight = self.saved_tensors
        mean, rstd = self.mean, self.rstd
        if is_tensor(grad) and self.training:  # recorded: the batch statistics are functions of x
            _, mean, rstd = kernels.batch_norm(x, None, None, self.eps, None, None, 0.0, True)
        gx, gw, gb = kernels.batch_norm_backward(grad, x, weight, mean, rstd, self.training,
                                                 self.needs_grad[0])
        return gx, (gw if self.needs_grad[1] else None), (gb if self.needs_grad[2] else None)
