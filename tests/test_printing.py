"""Tensors print exactly as PyTorch prints them, with ``torch.`` read as ``minigrad.``.

Each case builds the same NumPy array in both engines and compares ``repr`` character for
character: 0-d to 3-d, below and above the 1000-element summarising threshold, every dtype
minigrad has, whole numbers, mixed magnitudes, tiny and huge values, inf/nan/-0.0, empty
tensors, requires_grad and grad_fn.
"""
import re
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad

DTYPES = ["float32", "float64", "float16", "int64", "int32", "bool", "uint8"]
SHAPES = [(), (1,), (5,), (40,), (3, 4), (3, 20), (2, 3, 4), (2, 3, 15), (1, 1, 7),
          (1001,), (2000,), (50, 50), (2, 600), (600, 2), (10, 11, 10), (1, 1, 1001), (7, 7, 30)]
EMPTY_SHAPES = [(0,), (0, 3), (2, 0), (3, 0, 2), (0, 0), (1, 0, 0)]


def float_values(kind, size, rng):
    """Values that exercise one of PyTorch's format choices."""
    if kind == "small":
        return rng.uniform(-2, 2, size)
    if kind == "whole":
        return rng.integers(-50, 50, size).astype(float)
    if kind == "whole_wide":  # whole numbers whose max/min > 1000: e-notation
        return rng.integers(-3000, 3000, size).astype(float) * rng.choice([1, 1000], size)
    if kind == "mixed":
        return rng.standard_normal(size) * 10.0 ** rng.uniform(-6, 10, size)
    if kind == "tiny":
        return rng.uniform(-1, 1, size) * 1e-7
    if kind == "huge":
        return rng.uniform(-1, 1, size) * 1e12
    if kind == "special":  # inf, -inf, nan and signed zeros among whole numbers
        return rng.choice([np.inf, -np.inf, np.nan, -0.0, 0.0, 1.0, 2.0, -7.0], size)
    if kind == "special_fractions":
        return rng.choice([np.inf, -np.inf, np.nan, -0.0, 0.5, 1234.5678, -3.25e-3], size)
    raise ValueError(kind)


FLOAT_KINDS = ["small", "whole", "whole_wide", "mixed", "tiny", "huge", "special", "special_fractions"]


def arrays(dtype, shape, rng):
    """Several arrays of one dtype and shape, each stressing a different printing rule."""
    size = int(np.prod(shape))
    if dtype.startswith("float"):
        with np.errstate(over="ignore"):  # float16: huge values become inf, in both engines
            return [float_values(kind, size, rng).astype(dtype).reshape(shape) for kind in FLOAT_KINDS]
    if dtype == "bool":
        return [rng.integers(0, 2, size).astype(bool).reshape(shape), np.ones(shape, bool)]
    if dtype == "uint8":
        return [rng.integers(0, 256, size).astype(dtype).reshape(shape), np.zeros(shape, dtype)]
    info = np.iinfo(dtype)
    return [rng.integers(-9, 9, size).astype(dtype).reshape(shape),
            rng.integers(info.min, info.max, size, dtype=dtype).reshape(shape)]


def torch_repr(t):
    return repr(t).replace("torch.", "minigrad.")


def without_grad_fn(text):
    """Drop the ``grad_fn=<...>`` suffix: the two engines name their backward functions
    differently (``MulBackward`` vs ``MulBackward0``)."""
    return re.sub(r",\s+grad_fn=<\w+>", "", text)


def assert_prints_like_torch(array):
    ours, theirs = minigrad.tensor(array), torch.from_numpy(array.copy())
    assert ours.dtype == array.dtype
    assert repr(ours) == torch_repr(theirs), f"\n{repr(ours)}\n!=\n{torch_repr(theirs)}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_repr_matches_torch_for_every_shape_and_dtype(shape, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{shape}{dtype}".encode()))
    for array in arrays(dtype, shape, rng):
        assert_prints_like_torch(array)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", EMPTY_SHAPES, ids=str)
def test_empty_tensors_name_their_size_and_dtype(shape, dtype):
    assert_prints_like_torch(np.zeros(shape, dtype))


@pytest.mark.parametrize("text, expected", [
    ("[1., 2000.]", "tensor([1.0000e+00, 2.0000e+03])"),   # whole numbers, max/min > 1000
    ("[1., 1e9]", "tensor([1.0000e+00, 1.0000e+09])"),
    ("[1e9]", "tensor([1.0000e+09])"),                       # max > 1e8
    ("[inf, 1., 2.]", "tensor([inf, 1., 2.])"),              # inf neither chooses nor widens
    ("[-0., 1.]", "tensor([-0., 1.])"),
    ("[nan, 0.5]", "tensor([   nan, 0.5000])"),
    ("[0., 0.]", "tensor([0., 0.])"),
    ("[]", "tensor([])"),
])
def test_known_prints(text, expected):
    values = eval(text, {"inf": float("inf"), "nan": float("nan")})
    assert repr(minigrad.tensor(values)) == expected == repr(torch.tensor(values))


@pytest.mark.parametrize("array", [
    np.array([1e-300, 1e300]), np.array([5e-324, 1.0]), np.array([12345678.0, 1.0]), np.array([-1e8, 3.0]),
    np.array([6e4, 1.0], np.float16), np.array([6e-8, 1.0], np.float16), np.array(-0.0), np.array(np.nan),
    np.array(-np.inf, np.float32), np.full((3, 5), np.nan), np.array([2**63 - 1, -2**63]), np.array(1e-5),
    np.array([99999.99995]), np.array([9.99995e-5, 1.0]), np.zeros((4, 2000), np.float32),
], ids=repr)
def test_edge_values(array):
    assert_prints_like_torch(array)


def test_empty_tensor_prints():
    for array in (np.zeros((0, 3), np.float32), np.zeros(0, np.int64), np.zeros((2, 0), bool)):
        assert_prints_like_torch(array)


def test_summarised_tensors_choose_their_format_from_the_edges():
    # The middle of a summarised tensor is not printed, so it does not choose the format.
    matrix = np.linspace(-1, 1, 2500, dtype=np.float32).reshape(50, 50)
    assert_prints_like_torch(matrix)
    assert "e-" not in repr(minigrad.tensor(matrix))
    hidden_tiny = np.ones(2000, np.float32)
    hidden_tiny[1000] = 1e-9
    assert_prints_like_torch(hidden_tiny)
    assert repr(minigrad.tensor(hidden_tiny)) == "tensor([1., 1., 1.,  ..., 1., 1., 1.])"


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape", [(), (3,), (40,), (2, 3), (2000,), (3, 0)], ids=str)
def test_requires_grad_and_grad_fn(shape, dtype):
    rng = np.random.default_rng(0)
    for array in arrays(dtype, shape, rng):
        ours = minigrad.tensor(array, requires_grad=True)
        theirs = torch.tensor(array, requires_grad=True)
        assert repr(ours) == torch_repr(theirs)
        assert without_grad_fn(repr(ours * 1)) == without_grad_fn(torch_repr(theirs * 1))
        assert "grad_fn=<" in repr(ours * 1)


def test_device_comes_before_dtype():
    """PyTorch's order (from torch/_tensor_str.py; checked here without a GPU)."""
    from minigrad.printing import tensor_repr
    assert tensor_repr(np.array([1.0, 2.0]), device="cuda:0") == \
        "tensor([1., 2.], device='cuda:0', dtype=minigrad.float64)"
    assert tensor_repr(np.zeros((0, 2), np.int64), device="cuda:0", requires_grad=True) == \
        "tensor([], device='cuda:0', size=(0, 2), dtype=minigrad.int64, requires_grad=True)"


def test_parameter():
    weight = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    assert repr(minigrad.nn.Parameter(minigrad.tensor(weight))) == torch_repr(torch.nn.Parameter(torch.tensor(weight)))


def test_default_dtype_float64():
    """With float64 the default, float64 goes unnamed and float32 is named, as in PyTorch."""
    old = minigrad.get_default_dtype(), torch.get_default_dtype()
    minigrad.set_default_dtype(minigrad.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for array in (np.ones(3), np.ones(3, np.float32), np.zeros((0, 2)), np.zeros(0, np.float32)):
            assert_prints_like_torch(array)
    finally:
        minigrad.set_default_dtype(old[0])
        torch.set_default_dtype(old[1])


SPECIALS = [np.inf, -np.inf, np.nan, -0.0, 0.0, 1.0, 1e-5, 3e9, -1234.5, 0.1]


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=12),
                  elements=st.one_of(st.sampled_from(SPECIALS), st.integers(-10**6, 10**6), st.floats())),
       st.sampled_from(["float32", "float64", "float16"]))
def test_repr_matches_torch_on_random_floats(array, dtype):
    with np.errstate(over="ignore"):
        assert_prints_like_torch(array.astype(dtype))


def test_the_sweep_reaches_every_format():
    """The sweep above really covers what it claims: sci, fixed and int mode, and summaries."""
    reprs = [repr(minigrad.tensor(a)) for a in arrays("float32", (1001,), np.random.default_rng(1))]
    assert any("e+" in r for r in reprs) and any("e-" in r for r in reprs)
    assert any(re.search(r"\d\.,", r) for r in reprs) and all("..." in r for r in reprs)
