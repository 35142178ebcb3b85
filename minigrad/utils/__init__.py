"""Utilities with PyTorch's module names (``minigrad.utils.data``)."""
from . import data  # noqa: F401  (minigrad.utils.data.DataLoader after a plain ``import minigrad``)
