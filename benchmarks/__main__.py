"""``python -m benchmarks [NAME ...] [options]`` (what ``gans bench`` runs).

NumPy's BLAS and PyTorch size their thread pools when they load, so the thread count
is set through the environment and, if it differs, the process starts itself again.
Both engines get the same number of threads: on a small machine two pools spinning
against each other slow both engines down many times over.
"""
import argparse
import os
import sys

from gans.threads import THREAD_VARIABLES



def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    from gans.cli import add_bench_arguments, bench_engines
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    add_bench_arguments(parser)
    args = parser.parse_args(argv)
    threads = str(args.threads)
    if any(os.environ.get(v) != threads for v in THREAD_VARIABLES):
        env = dict(os.environ, **{v: threads for v in THREAD_VARIABLES})
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks"] + argv, env)
    try:
        engines = bench_engines(args)
    except ValueError as err:
        parser.error(str(err))
    from .harness import run
    try:
        records = run(args.names, engines, args.device, args.dtype, args.seconds, args.data, args.json,
                      not args.no_save, not args.no_matmul, threads=args.threads)
    except (KeyError, ValueError, RuntimeError, OSError) as err:
        print(f"gans bench: error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gans bench: interrupted; nothing written", file=sys.stderr)
        return 130
    failed = [r for r in records if "error" in r]
    if failed:
        print(f"gans bench: error: {len(failed)} of the timings failed (the 'failed' rows above)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
