"""The same number of threads for both engines, in every command that runs one.

NumPy's BLAS and PyTorch each keep a pool of worker threads, sized by default to the
machine's cores.  For the book's small models two pools spinning against each other (or
against anything else running) slow an engine down many times over, so a timing taken
with the defaults says more about the machine's load than about the engine.  Every
``gans`` command therefore takes ``--threads N`` (default 1, as ``gans bench``) and gives
both engines that many threads before either starts working.
"""
import os
import sys

DEFAULT_THREADS = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def use_threads(count):
    """Give NumPy's BLAS and PyTorch ``count`` threads each, now and in child processes.

    The environment variables size the pools of libraries not yet loaded (and of child
    processes); ``threadpoolctl`` and ``torch.set_num_threads`` resize the ones already
    running.  Returns ``count``.
    """
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(count)
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=count)
    if "torch" in sys.modules:  # torch not loaded yet reads OMP_NUM_THREADS when it loads
        sys.modules["torch"].set_num_threads(count)
    return count


def current_threads():
    """The threads NumPy's BLAS uses now (what a run records when it was not told a count)."""
    from threadpoolctl import threadpool_info
    return max((pool["num_threads"] for pool in threadpool_info()), default=1)
