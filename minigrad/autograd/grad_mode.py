"""Grad mode: whether operations record the graph (``no_grad``, ``enable_grad``,
``set_grad_enabled``, ``inference_mode``), as context managers and decorators."""
import functools
import inspect

enabled = True     # read by every Function call
inference = False  # inside inference_mode()


def is_grad_enabled():
    """True unless inside ``no_grad()`` (or ``set_grad_enabled(False)``)."""
    return enabled


class _GradMode:
    """Switch graph recording to ``mode`` for a ``with`` block or, as a decorator, for each
    call of a function (each resumption of a generator); nothing changes before then."""

    mode = False

    def __enter__(self):
        global enabled
        self.previous, enabled = enabled, self.mode
        return self

    def __exit__(self, *exc):
        global enabled
        enabled = self.previous

    def clone(self):
        return type(self)()

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def generator(*args, **kwargs):
                steps = func(*args, **kwargs)
                with self.clone():
                    value = next(steps)
                while True:
                    sent = yield value
                    try:
                        with self.clone():
                            value = steps.send(sent)
                    except StopIteration as done:
                        return done.value
            return generator

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper


class _NoArgumentMode(_GradMode):
    """``@no_grad`` works without parentheses too, as in PyTorch."""

    def __new__(cls, func=None):
        self = super().__new__(cls)
        return self if func is None else self(func)


class no_grad(_NoArgumentMode):
    """Operations inside do not record a graph (for evaluation and optimiser updates):
    ``with no_grad():``, ``@no_grad()`` or ``@no_grad``."""

    mode = False


class enable_grad(_NoArgumentMode):
    """Record the graph again inside a ``no_grad`` block."""

    mode = True


class inference_mode(_GradMode):
    """PyTorch's faster ``no_grad`` for pure inference; for this engine the two are the same.
    ``inference_mode(False)`` leaves grad mode as it is."""

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):  # @inference_mode without parentheses
            self.switch = True
            return self(mode)
        return self

    def __init__(self, mode=True):
        self.switch = bool(mode)

    def __enter__(self):
        global enabled, inference
        self.previous, self.previous_inference = enabled, inference
        if self.switch:
            enabled, inference = False, True
        return self

    def __exit__(self, *exc):
        global enabled, inference
        enabled, inference = self.previous, self.previous_inference

    def clone(self):
        return inference_mode(self.switch)


def is_inference_mode_enabled():
    return inference


class set_grad_enabled(_GradMode):
    """Switch graph recording on or off: at once (``set_grad_enabled(False)``), for a block
    (``with set_grad_enabled(False):``) or for a function (as a decorator)."""

    def __init__(self, mode):
        global enabled
        self.mode = bool(mode)
        self.previous, enabled = enabled, self.mode

    def __enter__(self):
        return self  # already switched by the constructor, as in PyTorch

    def clone(self):
        return _Switch(self.mode)

    def __call__(self, func):
        global enabled
        enabled = self.previous  # used as a decorator: only the calls are switched
        return super().__call__(func)


class _Switch(_GradMode):
    def __init__(self, mode):
        self.mode = mode
