"""minigrad and PyTorch side by side: same start, same data, step-by-step differences.

    from comparisons import compare
    report = compare("mnist-gan", steps=500, dtype="float64")
    report.max_rel_param_diff, report.first_divergent_step
"""
from .compare import TOLERANCE, Report, compare
from .report import summary, write
