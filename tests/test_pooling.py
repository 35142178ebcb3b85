"""Max and average pooling against PyTorch: every geometry (kernel, stride, padding, dilation,
ceil_mode, count_include_pad), batched and unbatched, values, gradients and second
derivatives; return_indices; adaptive average pooling; PyTorch's errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, strategies as st

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F
from helpers import check, check_second_order

geometry = st.fixed_dictionaries({
    "kernel_size": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "stride": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    "padding": st.tuples(st.integers(0, 1), st.integers(0, 1)),
    "ceil_mode": st.booleans()})


def _valid(args, h, w, dilation=(1, 1)):
    for k, p, d in zip(args["kernel_size"], args["padding"], dilation):
        if p > (d * (k - 1) + 1) // 2:
            return False
    stride = args["stride"] or args["kernel_size"]
    for n, k, s, p, d in zip((h, w), args["kernel_size"], stride, args["padding"], dilation):
        if (n + 2 * p - d * (k - 1) - 1) < 0:
            return False
    return True


def _image(shape, seed):
    """Distinct values: the maximum of a window is one position on both engines."""
    return np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) / np.prod(shape)


@given(args=geometry, dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), h=st.integers(2, 7),
       w=st.integers(2, 7), batched=st.booleans(), seed=st.integers(0, 100))
def test_max_pool2d(args, dilation, h, w, batched, seed):
    assume(_valid(args, h, w, dilation))
    x = _image((2, 3, h, w) if batched else (3, h, w), seed)
    check(lambda t: F.max_pool2d(t, dilation=dilation, **args), x,
          torch_fn=lambda t: TF.max_pool2d(t, dilation=dilation, **args))
    ours = F.max_pool2d(minigrad.tensor(x), dilation=dilation, return_indices=True, **args)[1]
    theirs = TF.max_pool2d(torch.tensor(x), dilation=dilation, return_indices=True, **args)[1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    check_second_order(lambda t: F.max_pool2d(t * t, dilation=dilation, **args), x,
                       torch_fn=lambda t: TF.max_pool2d(t * t, dilation=dilation, **args))


@given(args=geometry, count_include_pad=st.booleans(), h=st.integers(2, 7), w=st.integers(2, 7),
       batched=st.booleans(), seed=st.integers(0, 100))
def test_avg_pool2d(args, count_include_pad, h, w, batched, seed):
    assume(_valid(args, h, w))
    x = _image((2, 3, h, w) if batched else (3, h, w), seed)
    check(lambda t: F.avg_pool2d(t, count_include_pad=count_include_pad, **args), x,
          torch_fn=lambda t: TF.avg_pool2d(t, count_include_pad=count_include_pad, **args))
    check_second_order(lambda t: F.avg_pool2d(t * t, **args), x, torch_fn=lambda t: TF.avg_pool2d(t * t, **args))


@pytest.mark.parametrize("output_size", [1, 2, (3, 2), (5, 4), (None, 2)])
def test_adaptive_avg_pool2d(output_size):
    x = _image((2, 3, 5, 4), 0)
    check(lambda t: nn.AdaptiveAvgPool2d(output_size)(t), x,
          torch_fn=lambda t: torch.nn.AdaptiveAvgPool2d(output_size)(t))


def test_pooling_modules_and_errors_like_pytorch():
    x = minigrad.tensor(_image((1, 1, 4, 4), 1))
    assert nn.MaxPool2d(2)(x).shape == (1, 1, 2, 2) and nn.AvgPool2d(2, stride=1)(x).shape == (1, 1, 3, 3)
    assert repr(nn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="Output size is too small"):
        F.max_pool2d(minigrad.ones(1, 1, 1, 1), 2)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.avg_pool2d(minigrad.ones(4, 4), 2)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_max_pool2d_ties_nan_infinities_and_signed_zeros_like_pytorch(dtype):
    """PyTorch's rule, window by window: a value takes over if it is larger or NaN, so ties keep
    the first position (and its zero's sign), and with several NaNs the last one is chosen."""
    nan, inf = np.nan, np.inf
    windows = [[1.0, 1.0, 0.5, 1.0], [-0.0, 0.0, -1.0, -1.0], [0.0, -0.0, -1.0, -2.0], [nan, 2.0, nan, 1.0],
               [3.0, nan, 5.0, 4.0], [-inf, -inf, -inf, -inf], [inf, 1.0, inf, nan], [-1.0, -2.0, -3.0, -0.5]]
    # each window a 2×2 block of a (1, 2, 4, 4) image
    x = np.array(windows, dtype=dtype).reshape(2, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(1, 2, 4, 4)
    ours, ours_index = F.max_pool2d(minigrad.tensor(x), 2, return_indices=True)
    theirs, their_index = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(ours_index.numpy(), their_index.numpy())
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(np.signbit(ours.numpy()), np.signbit(theirs.numpy()))
