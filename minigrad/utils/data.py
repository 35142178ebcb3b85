"""``Dataset``: the base class the book subclasses for MNIST and CelebA."""


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
