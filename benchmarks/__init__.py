"""Measured speed of minigrad and PyTorch on the book's models."""

# Engine labels beside "minigrad" and "torch" (gans bench's --engine and the result files):
PLAIN = "minigrad-plain"  # minigrad with minigrad.accel's replacements detached (accel.detached)
GRAPH = "+graph"          # a label ending so ("minigrad+graph", "torch+graph") replays a CUDA graph
FLOOR = "numpy-by-hand"   # classifier-refined written by hand in NumPy: benchmarks/numpy_floor.py
