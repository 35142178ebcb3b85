"""Utilities with PyTorch's module names (``minigrad.utils.data``)."""
