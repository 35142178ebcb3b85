"""Datasets and batches, as ``torch.utils.data``: ``Dataset`` (the base class the book
subclasses), ``TensorDataset``, ``Subset``, ``random_split``, the samplers and ``DataLoader``.

A ``DataLoader`` asks its sampler for indices (in order, or shuffled by a generator), groups
them into batches of ``batch_size``, fetches each item from the dataset and joins the items
with ``collate_fn``; the default one stacks tensors, NumPy arrays and numbers into tensors and
keeps the structure of tuples and dicts, as PyTorch's ``default_collate`` does.
"""
import collections.abc
import math
import numbers

import numpy as np

from .. import user_warnings


class Dataset:
    """A dataset is anything with ``__len__`` and ``__getitem__``; subclass and fill them in.

    Iterating with ``for item in dataset`` calls ``__getitem__(0)``, ``(1)``, … until
    the length is reached, as the book does.
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __len__(self):
        raise NotImplementedError("Subclasses of Dataset should implement __len__.")

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]


class TensorDataset(Dataset):
    """Item i is ``(t[i] for t in tensors)``; every tensor has the same first dimension."""

    def __init__(self, *tensors):
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Disjoint random ``Subset``s of the given lengths, or of fractions of the dataset that
    sum to 1 (rounded down, the remainder handed out one by one from the first, as PyTorch)."""
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(len(dataset) * fraction)) for fraction in lengths]
        for i in range(len(dataset) - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                user_warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.")
        lengths = counts
    if sum(lengths) != len(dataset):
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    order = _permutation(len(dataset), generator).tolist()
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, order[start:start + length]))
        start += length
    return subsets


def _permutation(n, generator):
    from .. import random
    return (generator if generator is not None else random.default_generator).permutation(n)


# --- samplers: which indices, in which order -------------------------------------------

class Sampler:
    """Yields dataset indices."""

    def __init__(self, data_source=None):
        self.data_source = data_source

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order each epoch (with ``replacement``: ``num_samples`` independent draws)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        if self.replacement:
            from .. import random
            generator = self.generator if self.generator is not None else random.default_generator
            return iter(generator.integers(0, n, self.num_samples).tolist())
        order = []
        while len(order) < self.num_samples:
            order.extend(_permutation(n, self.generator).tolist())
        return iter(order[:self.num_samples])

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last may be short)."""

    def __init__(self, sampler, batch_size, drop_last):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# --- collation: items into a batch ------------------------------------------------------

def default_collate(batch):
    """Join a list of items into a batch, as PyTorch does: tensors and NumPy arrays are stacked
    into one tensor with a new first dimension, Python floats become a float64 tensor, a batch
    led by an int a tensor of the type its numbers need (int64, or float32 with a float among
    them, bool for bools), strings stay a sequence, and tuples, lists and dicts are collated field by
    field (a tuple becomes a list, a named tuple stays one)."""
    from .. import creation
    from ..tensor import Tensor
    elem = batch[0]
    if isinstance(elem, Tensor):
        return creation.stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                            f"found {elem.dtype}")
        return creation.stack([creation.as_tensor(b) for b in batch], 0)
    if isinstance(elem, np.generic):
        return creation.tensor(np.array(batch))
    if isinstance(elem, numbers.Integral):  # (bools too) the batch's own type: [1, 2.5] is float, [True, 2] int
        return creation.tensor(list(batch))
    if isinstance(elem, numbers.Real):
        return creation.tensor(list(batch), dtype=np.float64)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([item[key] for item in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(item) != len(elem) for item in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(field) for field in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem)}")


class DataLoader:
    """Batches from a dataset: ``for x, y in DataLoader(dataset, batch_size=64, shuffle=True)``.

    ``shuffle`` draws a new order each epoch from ``generator`` (default: minigrad's global
    generator, so ``manual_seed`` makes it repeatable); ``drop_last`` leaves out a short last
    batch.  ``num_workers`` and ``pin_memory`` are accepted for PyTorch's programs: items are
    always loaded in this process (said once), and memory is not pinned.
    """

    _said = set()

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 generator=None, prefetch_factor=None, persistent_workers=False):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                             "and drop_last")
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.num_workers, self.pin_memory, self.generator = num_workers, pin_memory, generator
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        if num_workers > 0:
            self._say_once("workers", f"DataLoader: num_workers={num_workers} is accepted, but minigrad loads the "
                                      "items in this process")
        if pin_memory:
            self._say_once("pin", "DataLoader: pin_memory=True is accepted, but minigrad does not pin memory")

    @classmethod
    def _say_once(cls, key, message):
        if key not in cls._said:
            cls._said.add(key)
            user_warnings.warn(message)

    def __iter__(self):
        if self.batch_sampler is None:  # batch_size=None: items one by one
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        for indices in self.batch_sampler:
            yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self):
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)


def default_convert(item):
    """An item as ``batch_size=None`` hands it out, as PyTorch does: NumPy arrays and numbers
    become tensors, in dicts, lists and tuples too (a tuple becomes a list); everything else
    stays as it is."""
    from .. import creation
    if isinstance(item, np.ndarray) and item.dtype.kind in "biuf" or isinstance(item, np.generic) \
            and item.dtype.kind in "biuf":
        return creation.as_tensor(item)
    if isinstance(item, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in item.items()}
    if isinstance(item, tuple) and hasattr(item, "_fields"):  # a named tuple
        return type(item)(*(default_convert(value) for value in item))
    if isinstance(item, (list, tuple)):  # a tuple becomes a list, as in PyTorch
        return [default_convert(value) for value in item]
    return item
