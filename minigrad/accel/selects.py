"""Choosing between two values per element without a branch, on the CPU.

NumPy's ``where`` picks each element with a branch, and where the condition changes
unpredictably from one element to the next (the signs of a layer's activations) the
processor guesses wrong about half the time.  For LeakyReLU the same numbers come without
a branch:

- forward: LeakyReLU(x) = max(x, slope·x) when 0 < slope ≤ 1 (for x > 0, slope·x ≤ x;
  for x < 0, slope·x ≥ x; NaN, infinities and signed zeros come out as ``where`` gives
  them; with slope 0, ∞·0 would be NaN);
- backward: the gradient times a two-entry table, [slope, 1], looked up by x > 0
  (grad·1 is grad exactly).
"""
import numpy as np

from ..ops.elementwise import LeakyRelu
from . import replaces


def _floats_with_slope_in_0_1(op, a):
    return type(a) is np.ndarray and a.dtype.kind == "f" and 0 < op.slope <= 1


@replaces(LeakyRelu, "forward", _floats_with_slope_in_0_1)
def leaky_relu_as_maximum(op, a):
    op.save_for_backward(a)
    return np.maximum(a, a * op.slope)


def _floats(op, grad):
    return type(grad) is np.ndarray and grad.dtype.kind == "f"


@replaces(LeakyRelu, "backward", _floats)
def leaky_relu_backward_by_table(op, grad):
    a, = op.saved_tensors
    factors = np.array([op.slope, 1], dtype=grad.dtype)
    return grad * np.take(factors, np.asarray(a > 0).view(np.uint8))
