"""minigrad.utils.data against torch.utils.data: the same batches from the same dataset,
PyTorch's collation of tensors, arrays, numbers, strings, tuples and dicts, its split
lengths and its errors; shuffling is a new permutation each epoch, repeatable by seed."""
import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tdata
from hypothesis import given, strategies as st

import minigrad
import minigrad.utils.data as mdata
from helpers import to_numpy


def same(ours, theirs, path="batch"):
    """Equal structure, types (tensor, list, dict, string) and values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, minigrad.Tensor), f"{path}: {type(ours).__name__}, PyTorch gives a tensor"
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), f"{path}: {ours.dtype} vs {theirs.dtype}"
        np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs), err_msg=path)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys(), path
        for key in theirs:
            same(ours[key], theirs[key], f"{path}[{key!r}]")
    elif isinstance(theirs, (list, tuple)) and not isinstance(theirs, str):
        assert type(ours) is type(theirs) or (isinstance(ours, tuple) and isinstance(theirs, tuple)), \
            f"{path}: {type(ours).__name__} vs {type(theirs).__name__}"
        assert len(ours) == len(theirs), path
        for i, (o, t) in enumerate(zip(ours, theirs)):
            same(o, t, f"{path}[{i}]")
    else:
        assert ours == theirs, path


Point = collections.namedtuple("Point", "x y")
ITEMS = {
    "numbers": lambda i: (i, float(i) / 2, i % 2 == 0),
    "arrays": lambda i: np.full((2, 3), i, dtype=np.float32),
    "strings": lambda i: (f"item {i}", np.int64(i)),
    "dicts": lambda i: {"image": np.ones(4) * i, "label": i, "tags": [i, i + 1]},
    "named": lambda i: Point(float(i), i),
}


@pytest.mark.parametrize("kind", ITEMS)
@given(n=st.integers(1, 12), batch_size=st.integers(1, 5), drop_last=st.booleans())
def test_batches_equal_pytorchs(kind, n, batch_size, drop_last):
    items = [ITEMS[kind](i) for i in range(n)]
    ours = list(mdata.DataLoader(items, batch_size=batch_size, drop_last=drop_last))
    theirs = list(tdata.DataLoader(items, batch_size=batch_size, drop_last=drop_last))
    assert len(ours) == len(theirs) == len(mdata.DataLoader(items, batch_size=batch_size, drop_last=drop_last))
    same(ours, theirs)


def test_tensor_dataset_subset_and_a_books_dataset():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)

    class Books(mdata.Dataset):  # the book's style: a Dataset subclass returning tuples
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return minigrad.tensor(x[i]), int(y[i])
    for dataset in (mdata.TensorDataset(minigrad.tensor(x), minigrad.tensor(y)), Books()):
        batches = list(mdata.DataLoader(dataset, batch_size=4))
        theirs = list(tdata.DataLoader(tdata.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4))
        same(batches, theirs)
    subset = mdata.Subset(mdata.TensorDataset(minigrad.tensor(x)), [3, 1])
    assert len(subset) == 2 and subset[0][0].tolist() == [6.0, 7.0]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        mdata.TensorDataset(minigrad.ones(3), minigrad.ones(4))


@pytest.mark.filterwarnings("ignore:Length of split")
@given(n=st.integers(1, 40), fractions=st.sampled_from([[0.5, 0.5], [0.8, 0.2], [0.33, 0.33, 0.34], [0.1, 0.9]]))
def test_random_split_lengths_equal_pytorchs_and_parts_are_disjoint(n, fractions):
    ours = mdata.random_split(range(n), fractions, generator=minigrad.Generator().manual_seed(1))
    theirs = tdata.random_split(range(n), fractions, generator=torch.Generator().manual_seed(1))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    indices = [i for part in ours for i in part]
    assert sorted(indices) == list(range(n))
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        mdata.random_split(range(n), [n + 1])


def test_shuffle_is_a_new_permutation_each_epoch_and_repeatable_by_seed():
    data = list(range(50))
    loader = mdata.DataLoader(data, batch_size=7, shuffle=True, generator=minigrad.Generator().manual_seed(3))
    first = [i for batch in loader for i in batch.tolist()]
    second = [i for batch in loader for i in batch.tolist()]
    assert sorted(first) == sorted(second) == data and first != second and first != data
    again = mdata.DataLoader(data, batch_size=7, shuffle=True, generator=minigrad.Generator().manual_seed(3))
    assert [i for batch in again for i in batch.tolist()] == first
    minigrad.manual_seed(5)
    global_first = [i for b in mdata.DataLoader(data, batch_size=50, shuffle=True) for i in b.tolist()]
    minigrad.manual_seed(5)
    assert [i for b in mdata.DataLoader(data, batch_size=50, shuffle=True) for i in b.tolist()] == global_first


def test_errors_and_accepted_options_like_pytorch():
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        mdata.DataLoader([1, 2], sampler=mdata.SequentialSampler([1, 2]), shuffle=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        mdata.DataLoader([1, 2], batch_size=0)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        list(mdata.DataLoader([[1, 2], [3]], batch_size=2))
    with pytest.warns(UserWarning, match="loads the items in this process"):
        mdata.DataLoader._said.discard("workers")
        loader = mdata.DataLoader(list(range(6)), batch_size=3, num_workers=2)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]]
    assert [b for b in mdata.DataLoader([1, 2, 3], batch_size=None)] == [1, 2, 3]
