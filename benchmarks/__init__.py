"""Measured speed of minigrad and PyTorch on the book's models."""
