"""Ctrl-C and SIGTERM during training: stop after the current step, keeping the work.

The first signal only raises a flag; the training loop finishes its step, writes the
checkpoint and the log, and raises :class:`Interrupted`.  The handlers are then back to the
defaults, so a second Ctrl-C stops at once (a checkpoint being written is abandoned: it
goes to a temporary file, so the last complete one stays as it was).
"""
import signal
import threading

EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal number, as shells report it


class Interrupted(KeyboardInterrupt):
    """Training stopped on a signal after saving; ``step`` is the last one done and saved."""

    def __init__(self, signum, step, message):
        super().__init__(message)
        self.signum, self.step = signum, step

    @property
    def exit_status(self):
        return EXIT_STATUS[self.signum]


class StopRequests:
    """While the block runs, SIGINT and SIGTERM set :attr:`signum` instead of stopping the
    process (only in the main thread, where Python delivers signals)."""

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in EXIT_STATUS:
                self._previous[signum] = signal.signal(signum, self._request)
        return self

    def _request(self, signum, frame):
        self.signum = signum
        self._restore()  # a second signal acts at once

    def _restore(self):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __exit__(self, *exc_info):
        self._restore()
