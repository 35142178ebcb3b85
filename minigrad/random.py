"""minigrad's random number generator (``manual_seed``, ``rand``, ``randn``, initialisers).

One NumPy ``Generator`` makes every random number, on the host; values for CUDA
tensors are drawn there and copied over, so a seed gives the same numbers on every
device.  (PyTorch's generator is a different algorithm: the same seed gives other
numbers than ``torch.manual_seed``; copy weights through ``state_dict`` to compare.)
"""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Seed minigrad's generator; returns it, like ``torch.manual_seed``."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def seed():
    """Reseed from the operating system's entropy."""
    global _generator
    _generator = np.random.default_rng()


def get_rng_state():
    """The generator's state as a JSON-friendly dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state):
    _generator.bit_generator.state = state


def uniform(low, high, shape, dtype):
    return _generator.uniform(low, high, size=shape).astype(dtype, copy=False)


def normal(mean, std, shape, dtype):
    return _generator.normal(mean, std, size=shape).astype(dtype, copy=False)


def randint(low, high, shape):
    return _generator.integers(low, high, size=shape, dtype=np.int64)
