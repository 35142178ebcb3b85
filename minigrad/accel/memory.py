"""Freed memory kept for the next step: two settings of glibc's malloc (Linux).

A training step allocates the same arrays every step and frees them again.  glibc gives a
freed block of 128 KB or more straight back to the operating system (it raises that limit to
the largest block freed so far, up to 32 MB), and the next step's block of the same size then
comes back as fresh pages, which the kernel fills with zeros on first touch, every step.
Told to serve blocks below ``HEAP_BLOCK_BYTES`` from its heap and to keep up to
``KEPT_FREE_BYTES`` of it free before giving memory back, glibc reuses the same pages step
after step.

These are settings of the process, not of minigrad: PyTorch's CPU tensors in the same process
get them too (so ``gans bench`` still times both engines under equal conditions), glibc's
own moving of the limit stops, each thread's arena may keep up to ``KEPT_FREE_BYTES`` free, and
``accel.detached()`` does not undo them.  They are left alone where the user has tuned glibc's
malloc (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``glibc.malloc`` in
``GLIBC_TUNABLES``), on other C libraries, and with ``MINIGRAD_ACCEL=0``.
"""
import ctypes
import os
import platform

from . import ENABLED

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (glibc's malloc.h)
HEAP_BLOCK_BYTES = 32 * 1024 * 1024          # blocks below it from the heap (older glibc's largest)
KEPT_FREE_BYTES = 64 * 1024 * 1024           # free heap kept before it is given back


def keep_freed_memory():
    """Apply the two settings; whether glibc took them."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(f"MALLOC_{name}_THRESHOLD_" in os.environ for name in ("MMAP", "TRIM")) \
            or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False  # the user's own choice
    mallopt = ctypes.CDLL(None).mallopt
    return mallopt(M_MMAP_THRESHOLD, HEAP_BLOCK_BYTES) == 1 and mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES) == 1


APPLIED = ENABLED and keep_freed_memory()  # (switched off, importing this changes nothing)
