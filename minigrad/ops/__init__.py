"""Differentiable operations, grouped by family; each is one ``Function`` subclass
with its forward and backward side by side."""
