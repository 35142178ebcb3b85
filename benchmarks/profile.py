"""``python -m benchmarks.profile NAME [--device cuda] [--engine minigrad] [--steps N]``: where
one training iteration spends its time: cProfile's functions with the most time of their own.

On a GPU the step's time is mostly the host launching kernels, so the list shows which
operations launch the most (each CuPy kernel call appears as a function).
"""
import argparse
import cProfile
import pstats

from .harness import Workload


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("--engine", default="minigrad", help="minigrad or torch, with +graph to replay a CUDA graph")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    load = Workload(args.name, args.engine, args.device, args.dtype)
    load.run(5)  # warm-up: lazy imports, kernel compilation, allocator
    profile = cProfile.Profile()
    profile.enable()
    seconds = load.run(args.steps)
    profile.disable()
    print(f"{args.name} [{args.engine}, {args.device}, {args.dtype}]: {seconds / args.steps * 1e6:,.0f} µs per "
          f"iteration under the profiler ({args.steps} iterations); the profiler adds its own overhead")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
