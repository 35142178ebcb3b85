"""``detect_anomaly``: find the forward operation behind a NaN in backward."""
from .. import backend
from . import function


class _Detector:
    """Checks every node's input gradients for NaN; nodes created while it is on keep the
    stack of their forward call, so the error can say where the operation came from."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def check(self, fn, input_grads):
        if not self.check_nan:
            return
        for i, g in enumerate(input_grads):
            if g is None:
                continue
            array = g.array if isinstance(g, function.Tensor) else g
            xp = backend.array_module(array)
            if array.dtype.kind in "fc" and bool(xp.isnan(array).any()):
                where = "".join(fn.created_at[-4:]) if fn.created_at else \
                    "(the node was created before anomaly detection was turned on)\n"
                raise RuntimeError(f"Function '{fn.name()}' returned nan values in its {i}th output.\n"
                                   f"The forward call that created it:\n{where}")


class detect_anomaly:
    """``with detect_anomaly():`` — NaN gradients raise, naming the forward operation and
    where it was called; also a decorator."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self.previous = function.anomaly
        function.anomaly = _Detector(self.check_nan)
        return self

    def __exit__(self, *exc):
        function.anomaly = self.previous

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)
        return wrapper


def set_detect_anomaly(mode, check_nan=True):
    """Turn anomaly detection on or off for everything that follows."""
    function.anomaly = _Detector(check_nan) if mode else None


def is_anomaly_enabled():
    return function.anomaly is not None
