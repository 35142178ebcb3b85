"""A training run's folder: never silently replaced, never written by two processes at once.

A folder that already holds a run (its ``config.json`` or a checkpoint) is continued with
``resume`` or replaced with ``overwrite``; otherwise training refuses to start, so that a
second ``gans train classifier`` cannot wipe the first one's results.  While a run trains,
it holds a lock on ``RUN/.lock`` (an ``flock``, released by the operating system even when
the process is killed), and the lock file names the process that holds it.
"""
import json
import os
import shutil
from pathlib import Path

from . import checkpoint

LOCK = ".lock"
RUN_FILES = ("config.json", "checkpoint.npz", checkpoint.previous_path("checkpoint.npz").name)
# everything a training run writes: what --overwrite deletes (and nothing else)
RUN_OUTPUTS = RUN_FILES + ("metrics.json", "losses.csv", "loss.png", "samples.png", "grad_stats.csv",
                           "grad_stats.png")


class RunFolderError(ValueError):
    """The folder cannot be used as asked; the message says why and what to do."""


def check(folder, resume=False, overwrite=False):
    """Refuse, before anything is written, a folder that holds a run unless asked to
    ``resume`` or ``overwrite`` it, and a folder of other files (training would mix its
    files with them)."""
    folder = Path(folder)
    if resume and overwrite:
        raise RunFolderError("--resume continues the run in the folder and --overwrite replaces it: give one")
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{folder} is a file, not a run folder")
    if not folder.is_dir():
        return
    folders = [name for name in RUN_OUTPUTS if (folder / name).is_dir()]
    if folders:
        raise RunFolderError(f"{folder}: {folders[0]} is a folder; a run keeps a file there")
    if resume:
        return
    holds_run = any((folder / name).exists() for name in RUN_FILES)
    if holds_run and not overwrite:
        raise RunFolderError(f"{folder} already holds a run{_describe(folder)}; --resume continues it, "
                             "--overwrite replaces it, --out DIR trains into another folder")
    others = [p.name for p in folder.iterdir() if p.name != LOCK and not _is_unfinished_write(p)]
    if others and not holds_run:
        raise RunFolderError(f"{folder} holds files but no run ({', '.join(sorted(others)[:3])}"
                             f"{', ...' if len(others) > 3 else ''}): train into an empty or new folder (--out DIR)")


def _describe(folder):
    try:
        config = json.loads((folder / "config.json").read_text())
        return f" ({config['experiment']} on {config['engine']}, {config['steps']} steps)"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


class RunFolder:
    """The folder, locked for this process while the block runs; with ``overwrite``,
    everything of the earlier run is deleted once the lock is held."""

    def __init__(self, folder, overwrite=False):
        self.folder = Path(folder)
        self.overwrite = overwrite
        self._lock = None

    def __enter__(self):
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock = acquire_lock(self.folder)
        except OSError as err:
            raise RunFolderError(f"cannot train into {self.folder}: {err.strerror or err}") from None
        for entry in self.folder.iterdir():
            # with --overwrite, all the old run wrote; in any case what a killed write left behind
            if (self.overwrite and entry.name in RUN_OUTPUTS) or _is_unfinished_write(entry):
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        return self

    def __exit__(self, *exc_info):
        self._lock.close()  # closing the file releases the flock

    def path(self, name):
        return self.folder / name


def _is_unfinished_write(entry):
    """A temporary file of ``atomic_output`` (``.NAME.XXXX.tmp``) that was never renamed."""
    return entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file()


def acquire_lock(folder):
    """An exclusive lock on ``folder/.lock``, holding this process's PID; a folder locked by
    another process raises :class:`RunFolderError` naming it."""
    import fcntl
    lock = open(Path(folder) / LOCK, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise RunFolderError(f"{folder} is being written by another gans process (PID {holder}); "
                             "wait for it to finish, or choose another --out") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock
