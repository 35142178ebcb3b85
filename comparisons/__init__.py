"""minigrad and PyTorch side by side: same start, same data, step-by-step differences."""
