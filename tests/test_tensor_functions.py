"""Tensor functions a learner reaches for after the book, against PyTorch: var/std, where,
masked_fill, gather, sort/topk, repeat, bmm, any/all, comparisons, contiguous; values,
gradients and (for the differentiable ones) second derivatives."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import minigrad
from helpers import broadcast_pairs, check, check_second_order, shapes, values

nonempty = shapes.filter(lambda s: len(s) >= 1)


@given(data=st.data(), shape=nonempty, keepdim=st.booleans(), correction=st.sampled_from([None, 0, 1, 2]))
def test_var_and_std(data, shape, keepdim, correction):
    a = data.draw(values(shape))
    a = np.where(np.abs(a) < 1e-100, 0.0, a)  # squares below 1e-308 are subnormal: both engines lose digits
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    count = shape[dim]
    if count - (1 if correction is None else correction) <= 0:
        return  # PyTorch gives inf/nan with a warning there
    check(lambda x: x.var(dim, keepdim=keepdim, correction=correction), a,
          torch_fn=lambda x: x.var(dim, keepdim=keepdim, correction=correction))
    # std is not differentiable where the values are all equal (std 0); near it, its gradient
    # is rounding divided by rounding, different in each engine (Hypothesis found [c, c, c])
    spread, size = np.ptp(a, axis=dim), np.abs(a).max(axis=dim)
    check(lambda x: x.std(dim, keepdim=keepdim, correction=correction), a,
          torch_fn=lambda x: x.std(dim, keepdim=keepdim, correction=correction),
          grad=bool(np.all(spread > 1e-6 * size)))
    if count > 1:
        check_second_order(lambda x: x.var(dim, keepdim=keepdim), a, torch_fn=lambda x: x.var(dim, keepdim=keepdim))


@given(data=st.data(), pair=broadcast_pairs)
def test_where_and_masked_fill(data, pair):
    shape_a, shape_b = pair.input_shapes
    a, b = data.draw(values(shape_a)), data.draw(values(shape_b))
    condition = a > 0
    check(lambda x, y: minigrad.where(minigrad.tensor(condition), x, y), a, b,
          torch_fn=lambda x, y: torch.where(torch.tensor(condition), x, y))
    check(lambda x: minigrad.where(minigrad.tensor(condition), x, 0.5), a,
          torch_fn=lambda x: torch.where(torch.tensor(condition), x, 0.5))
    check(lambda x: (x * 2).masked_fill(minigrad.tensor(condition), -1.0), a,
          torch_fn=lambda x: (x * 2).masked_fill(torch.tensor(condition), -1.0))
    check_second_order(lambda x, y: minigrad.where(minigrad.tensor(condition), x * x, y * y), a, b,
                       torch_fn=lambda x, y: torch.where(torch.tensor(condition), x * x, y * y))


@given(data=st.data(), shape=nonempty)
def test_gather_sort_topk(data, shape):
    n = int(np.prod(shape))
    a = np.random.default_rng(n).permutation(n).reshape(shape).astype(np.float64)  # no ties
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    index = np.random.default_rng(1).integers(0, shape[dim], size=shape)
    check(lambda x: x.gather(dim, minigrad.tensor(index)), a, torch_fn=lambda x: x.gather(dim, torch.tensor(index)))
    for descending in (False, True):
        check(lambda x: x.sort(dim, descending=descending)[0], a,
              torch_fn=lambda x: x.sort(dim, descending=descending)[0])
        np.testing.assert_array_equal(minigrad.tensor(a).sort(dim, descending=descending)[1].numpy(),
                                      torch.tensor(a).sort(dim, descending=descending)[1].numpy())
    k = data.draw(st.integers(0, shape[dim]))
    check(lambda x: x.topk(k, dim)[0], a, torch_fn=lambda x: x.topk(k, dim)[0])
    np.testing.assert_array_equal(minigrad.tensor(a).topk(k, dim, largest=False)[1].numpy(),
                                  torch.tensor(a).topk(k, dim, largest=False)[1].numpy())
    check_second_order(lambda x: x.gather(dim, minigrad.tensor(index)) ** 2, a,
                       torch_fn=lambda x: x.gather(dim, torch.tensor(index)) ** 2)


@given(data=st.data(), shape=shapes)
def test_repeat_any_all_comparisons_contiguous(data, shape):
    a = data.draw(values(shape))
    sizes = tuple(data.draw(st.lists(st.integers(1, 3), min_size=max(len(shape), 1), max_size=len(shape) + 1)))
    check(lambda x: x.repeat(*sizes), a, torch_fn=lambda x: x.repeat(*sizes))
    check_second_order(lambda x: x.repeat(*sizes) ** 2, a, torch_fn=lambda x: x.repeat(*sizes) ** 2)
    ours, theirs = minigrad.tensor(a), torch.tensor(a)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        np.testing.assert_array_equal(getattr(ours, name)(0.5).numpy(), getattr(theirs, name)(0.5).numpy())
    assert (ours > 0).any().item() == (theirs > 0).any().item()
    assert (ours > -5).all().item() == (theirs > -5).all().item()
    if shape:
        np.testing.assert_array_equal((ours > 0).any(0).numpy(), (theirs > 0).any(0).numpy())
    transposed = ours.T if ours.ndim == 2 else ours
    assert np.array_equal(transposed.contiguous().numpy(), transposed.numpy())
    assert transposed.contiguous().array.flags.c_contiguous


def test_bmm_and_its_errors():
    a, b = np.random.default_rng(0).standard_normal((2, 3, 4)), np.random.default_rng(1).standard_normal((2, 4, 5))
    check(minigrad.bmm, a, b, torch_fn=torch.bmm)
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        minigrad.bmm(minigrad.ones(3, 4), minigrad.ones(2, 4, 5))
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        minigrad.where(minigrad.ones(2), minigrad.ones(2), minigrad.zeros(2))


@pytest.mark.parametrize("make", ["zeros", "ones", "empty", "full", "zeros_like", "eye"])
def test_new_tensors_are_made_in_their_own_dtype_at_once(make):
    """A float32 tensor of 4 MB is allocated as 4 MB (not as float64, then cast)."""
    import tracemalloc
    calls = {"zeros": lambda: minigrad.zeros(1000, 1000), "ones": lambda: minigrad.ones(1000, 1000),
             "empty": lambda: minigrad.empty(1000, 1000), "full": lambda: minigrad.full((1000, 1000), 0.5),
             "zeros_like": lambda: minigrad.zeros_like(like), "eye": lambda: minigrad.eye(1000)}
    like = minigrad.ones(1000, 1000)
    tracemalloc.start()
    t = calls[make]()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert t.dtype == np.float32 and t.shape == (1000, 1000)
    assert peak < 1.1 * 4e6
    if make != "empty":
        expected = {"zeros": 0, "ones": 1, "full": 0.5, "zeros_like": 0}.get(make)
        assert np.array_equal(t.numpy(), np.eye(1000) if make == "eye" else np.full((1000, 1000), expected))


def test_random_tensors_keep_their_streams():
    """rand and randn draw float64 from the generator and round, as before: seeded values stay."""
    minigrad.manual_seed(3)
    values = minigrad.rand(5).numpy()
    np.testing.assert_array_equal(values, np.random.default_rng(3).uniform(0, 1, 5).astype(np.float32))


def test_masked_fill_gather_fill_and_assignment_behave_as_pytorch():
    """Dtypes, broadcasting and errors where PyTorch has them; each error's text is PyTorch's."""
    def both(fn):
        out = []
        for engine in (minigrad, torch):
            try:
                out.append(fn(engine))
            except RuntimeError as error:
                out.append(str(error))
        return out
    ours, theirs = both(lambda e: e.tensor([1, 2, 3]).masked_fill(e.tensor([True, False, True]), 1.7))
    assert ours.dtype == np.int64 and ours.tolist() == theirs.tolist() == [1, 2, 1]
    ours, theirs = both(lambda e: e.ones(3).masked_fill(e.ones(2, 3, dtype=e.bool), 0.0))
    assert tuple(ours.shape) == tuple(theirs.shape) == (2, 3)
    for fn in (lambda e: e.ones(2, 3).gather(1, e.tensor([0, 1])),
               lambda e: e.ones(2, 3).gather(1, e.tensor([[0], [5]])),
               lambda e: e.ones(2, 3).gather(1, e.tensor([[0.0]])),
               lambda e: e.zeros(3).fill_(e.ones(2)),
               lambda e: e.zeros(3).copy_(e.ones(2)),
               lambda e: e.zeros(3).__setitem__(slice(0, 2), e.ones(3))):
        ours, theirs = both(fn)
        assert isinstance(ours, str) and ours == theirs
    i = minigrad.zeros(3, dtype=minigrad.int64)
    i[0] = 2.9  # assignment casts, as PyTorch's does
    assert i.tolist() == [2, 0, 0] and i._version == 1


def test_assignment_outside_the_graph_writes_in_place_without_a_copy():
    import tracemalloc
    big = minigrad.zeros(1000, 1000)
    storage = big.array
    tracemalloc.start()
    big[3, 4] = 1.0
    big.fill_(2.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert big.array is storage and big[3, 4].item() == 2.0 and big._version == 2
    assert peak < 1e5  # a copy of the 4 MB tensor would show here
