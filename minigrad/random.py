"""minigrad's random number generator (``manual_seed``, ``rand``, ``randn``, initialisers).

One NumPy ``Generator`` makes every random number, on the host; values for CUDA
tensors are drawn there and copied over, so a seed gives the same numbers on every
device.  (PyTorch's generator is a different algorithm: the same seed gives other
numbers than ``torch.manual_seed``; copy weights through ``state_dict`` to compare.)
"""
import numpy as np


class Generator:
    """A random number generator of its own (``torch.Generator``), e.g. for a DataLoader's
    shuffling: ``Generator().manual_seed(0)``.  It wraps a NumPy ``Generator``."""

    def __init__(self, device="cpu"):
        self.device = device
        self.seed()

    def manual_seed(self, seed):
        self._seed = int(seed)
        self.numpy = np.random.default_rng(self._seed)
        return self

    def seed(self):
        self._seed = int(np.random.SeedSequence().entropy % 2 ** 63)
        self.numpy = np.random.default_rng(self._seed)
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The state as a JSON-friendly dict (PyTorch gives a byte tensor; this is NumPy's)."""
        return self.numpy.bit_generator.state

    def set_state(self, state):
        self.numpy.bit_generator.state = state
        return self

    # what the engine draws from a generator
    def permutation(self, n):
        return self.numpy.permutation(n)

    def integers(self, low, high, size):
        return self.numpy.integers(low, high, size=size, dtype=np.int64)


default_generator = Generator()  # what manual_seed seeds and every random tensor draws from


def manual_seed(seed):
    """Seed minigrad's generator; returns it, like ``torch.manual_seed``."""
    return default_generator.manual_seed(seed)


def seed():
    """Reseed from the operating system's entropy."""
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    """The generator's state as a JSON-friendly dict (for checkpoints)."""
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def uniform(low, high, shape, dtype):
    return default_generator.numpy.uniform(low, high, size=shape).astype(dtype, copy=False)


def normal(mean, std, shape, dtype):
    return default_generator.numpy.normal(mean, std, size=shape).astype(dtype, copy=False)


def randint(low, high, shape):
    return default_generator.integers(low, high, shape)
