"""Dimension arguments, dtypes and empty tensors, against PyTorch: reductions over ``dim=()``,
repeated and out-of-range dims (the same error type and message), the dtype ``cat`` and
``stack`` promote to, integer sums, and reductions and softmax of empty tensors."""
import warnings

import numpy as np
import pytest
import torch

import minigrad
from helpers import check

F32, F64 = np.float32, np.float64


def outcome(lib, fn, arrays, device):
    """What ``fn(lib, *tensors)`` gives: shape, dtype and values (of each part of a tuple),
    or the error's type and first line.  A NumPy RuntimeWarning counts as an error: PyTorch
    gives none in these cases."""
    tensors = [minigrad.tensor(a, device=device) if lib is minigrad else torch.tensor(a) for a in arrays]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            out = fn(lib, *tensors)
    except Exception as err:
        return type(err).__name__, str(err).splitlines()[0]
    return described(out)


def described(out):
    if isinstance(out, tuple):  # max(dim): (values, indices)
        return tuple(described(part) for part in out)
    values = np.asarray(out.cpu() if lib_of(out) is minigrad else out.detach())
    return tuple(out.shape), str(out.dtype).replace("torch.", ""), np.array2string(values.astype(F64), precision=6)


def lib_of(t):
    return minigrad if isinstance(t, minigrad.Tensor) else torch


def same_as_torch(fn, *arrays, device="cpu"):
    ours, theirs = outcome(minigrad, fn, arrays, device), outcome(torch, fn, arrays, "cpu")
    assert ours == theirs


ARANGE = np.arange(6, dtype=F32).reshape(2, 3)


# --- 1. dim=() reduces every dimension (sum, mean, var, std), as dim=None does -----------

@pytest.mark.filterwarnings(r"ignore:(var|std)\(\). degrees of freedom:UserWarning")  # PyTorch's, of a 0-d tensor
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dims", [(), []])
@pytest.mark.parametrize("op", ["sum", "mean", "var", "std"])
def test_empty_dims_reduce_every_dimension(op, dims, keepdim, device):
    same_as_torch(lambda lib, x: getattr(x, op)(dim=dims, keepdim=keepdim), ARANGE, device=device)
    same_as_torch(lambda lib, x: getattr(x, op)(dim=dims, keepdim=keepdim), np.array(3.0, F32), device=device)
    # gradients as of dim=None: PyTorch's own var/std backward of dim=() divides by N - 1 = 0 (inf)
    check(lambda x: getattr(x, op)(dim=dims, keepdim=keepdim), np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]]),
          torch_fn=lambda x: getattr(x, op)(dim=None, keepdim=keepdim))


@pytest.mark.parametrize("op", ["any", "all"])  # PyTorch's any/all read dim=() as no dimension
def test_any_all_with_empty_dims_reduce_nothing(op, device):
    same_as_torch(lambda lib, x: getattr(x, op)(dim=()), ARANGE, device=device)


# --- 2. a dim named twice is an error, not reduced twice ------------------------------

@pytest.mark.parametrize("dims", [(0, 0), (-2, 0), (1, -1)])
@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "any", "all", "squeeze"])
def test_repeated_dims_are_an_error(op, dims, device):
    same_as_torch(lambda lib, x: getattr(x, op)(dims), np.ones((2, 3), F32), device=device)
    same_as_torch(lambda lib, x: getattr(x, op)((0, -1)), np.array(1.0, F32), device=device)


# --- 3. out-of-range dims: PyTorch's IndexError, not wrapped around ----------------------

CUBE, SCALAR = np.ones((2, 3, 4), F32), np.array(2.0, F32)
INVALID_DIMS = {  # per op, calls and what they are given (in range too, to see the dims counted right)
    "cat": [(lambda lib, x: lib.cat([x, x], 2), ARANGE), (lambda lib, x: lib.cat([x, x], -3), ARANGE),
            (lambda lib, x: lib.cat([x, x], 1), np.ones(2, F32)), (lambda lib, x: lib.cat([x, x[0]], 1), ARANGE),
            (lambda lib, x: lib.cat([x, x], -1), ARANGE)],
    "stack": [(lambda lib, x: lib.stack([x, x], 3), ARANGE), (lambda lib, x: lib.stack([x, x], -4), ARANGE),
              (lambda lib, x: lib.stack([x, x], 2), ARANGE), (lambda lib, x: lib.stack([x, x], -3), ARANGE)],
    "flatten": [(lambda lib, x: x.flatten(3), CUBE), (lambda lib, x: x.flatten(-4), CUBE),
                (lambda lib, x: x.flatten(0, 3), CUBE), (lambda lib, x: x.flatten(2, 1), CUBE),
                (lambda lib, x: x.flatten(-1, 0), CUBE), (lambda lib, x: x.flatten(1), SCALAR),
                (lambda lib, x: x.flatten(-1), SCALAR)],
    "movedim": [(lambda lib, x: x.movedim(0, 3), CUBE), (lambda lib, x: x.movedim(3, 0), CUBE),
                (lambda lib, x: x.movedim(-4, 0), CUBE), (lambda lib, x: x.movedim(0, 1), SCALAR),
                (lambda lib, x: x.movedim(0, 0), SCALAR), (lambda lib, x: x.movedim((0, 1), (2, 0)), CUBE),
                (lambda lib, x: x.movedim((0, -3), (1, 2)), CUBE), (lambda lib, x: x.movedim((0, 1), (1, 1)), CUBE),
                (lambda lib, x: x.movedim((0, 1), (1,)), CUBE)],
    "permute": [(lambda lib, x: x.permute(0, 1), CUBE), (lambda lib, x: x.permute(0, 1, 3), CUBE),
                (lambda lib, x: x.permute(0, 1, -4), CUBE), (lambda lib, x: x.permute(0, 1, 1), CUBE),
                (lambda lib, x: x.permute(0, 1, -2), CUBE), (lambda lib, x: x.permute(-1, 0, 1), CUBE)],
    "transpose": [(lambda lib, x: x.transpose(0, 3), CUBE), (lambda lib, x: x.transpose(-4, 0), CUBE),
                  (lambda lib, x: x.transpose(0, -1), SCALAR), (lambda lib, x: x.transpose(0, 1), SCALAR)],
    "squeeze and unsqueeze": [(lambda lib, x: x.squeeze((0, 3)), CUBE), (lambda lib, x: x.squeeze((0, -3)), CUBE),
                              (lambda lib, x: x.squeeze(()), np.ones((1, 2, 1), F32)),
                              (lambda lib, x: x.unsqueeze(4), CUBE), (lambda lib, x: x.unsqueeze(-5), CUBE),
                              (lambda lib, x: x.unsqueeze(-1), SCALAR)],
    "max, argmax, softmax": [(lambda lib, x: x.max(2), ARANGE), (lambda lib, x: x.argmax(-3), ARANGE),
                             (lambda lib, x: x.softmax(2), ARANGE), (lambda lib, x: x.max(-1), np.ones((2, 0), F32))],
}


@pytest.mark.parametrize("op", list(INVALID_DIMS))
def test_dims_out_of_range_and_invalid(op, device):
    for fn, array in INVALID_DIMS[op]:
        same_as_torch(fn, array, device=device)


def test_movedim_and_flatten_values_and_gradients():
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    check(lambda x: x.movedim((0, 1), (2, 0)), a)
    check(lambda x: x.movedim(-1, 0), a)
    check(lambda x: x.flatten(1, 2), a)


# --- 4. cat and stack promote dtypes as PyTorch does, not as NumPy ------------------------

PAIRS = [(F32, np.int64), (np.float16, F32), (np.int64, np.float16), (np.int32, np.int64), (np.bool_, np.int64),
         (np.bool_, np.int32), (np.uint8, np.bool_), (np.uint8, np.int32), (F64, F32), (np.bool_, np.bool_)]


@pytest.mark.parametrize("join", ["cat", "stack"])
def test_cat_and_stack_promote_like_torch(join, device):
    for first, second in PAIRS:
        a, b = np.array([[1, 0]], dtype=first), np.array([[1, 1]], dtype=second)
        same_as_torch(lambda lib, x, y: getattr(lib, join)([x, y], 1), a, b, device=device)
        same_as_torch(lambda lib, x, y, z: getattr(lib, join)([x, y, z]), a, b, a.astype(np.int32), device=device)


@pytest.mark.parametrize("join", ["cat", "stack"])
def test_gradients_of_a_promoted_join_come_back_in_each_dtype(join, device):
    values = {F32: np.array([0.5, -1.0], F32), np.float16: np.array([2.0, 3.0], np.float16)}
    grads = []
    for lib, make in ((minigrad, lambda a, **kw: minigrad.tensor(a, device=device, **kw)), (torch, torch.tensor)):
        low, high = (make(values[d], requires_grad=True) for d in (np.float16, F32))
        ints = make(np.array([1, 2]))
        out = getattr(lib, join)([low, ints, high])
        (out * make(np.arange(6, dtype=F32).reshape(out.shape))).sum().backward()
        grads.append([(str(g.dtype).replace("torch.", ""), np.asarray(g.cpu()).tolist()) for g in (low.grad, high.grad)])
        assert str(out.dtype).replace("torch.", "") == "float32"
    assert grads[0] == grads[1]


# --- 5. integer and bool sums are int64; the mean of integers is an error ------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32, np.int64, np.bool_])
def test_integer_and_bool_sums_are_int64(dtype, device):
    a = np.array([[200, 100, 1]], dtype=np.int64).astype(dtype)
    same_as_torch(lambda lib, x: x.sum(), a, device=device)
    same_as_torch(lambda lib, x: x.sum(1, keepdim=True), a, device=device)
    same_as_torch(lambda lib, x: x.sum(dim=()), a, device=device)
    same_as_torch(lambda lib, x: x.mean(), a, device=device)


# --- 6. empty tensors ------------------------------------------------------------------

EMPTY = [np.ones(0, F32), np.ones((2, 0), F32), np.ones((0, 3), F32)]


@pytest.mark.parametrize("ops", [("softmax",), ("log_softmax",), ("max",), ("min",), ("argmax",), ("argmin",),
                                 ("sum", "mean")])
def test_reductions_and_softmax_of_empty_tensors(ops, device):
    for op in ops:
        for a in EMPTY:
            if op not in ("softmax", "log_softmax"):  # over everything
                same_as_torch(lambda lib, x: getattr(x, op)(), a, device=device)
            for dim in range(-a.ndim, a.ndim):
                same_as_torch(lambda lib, x: getattr(x, op)(dim), a, device=device)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_gradients_through_empty_tensors():
    check(lambda x: x.softmax(1), np.ones((2, 0)))
    check(lambda x: x.log_softmax(0), np.ones((2, 0)))
    check(lambda x: x.mean(1), np.ones((2, 0)))
    check(lambda x: x.sum(), np.ones((0, 3)))
