"""``python -m benchmarks.profile NAME [--device cuda] [--engine minigrad] [--steps N]``: where
one training iteration spends its time: cProfile's functions with the most time of their own.

``python -m benchmarks.profile --calls [NAME ...]``: the host-side cost of one training step
of each experiment on each engine, counted rather than timed, so that it can be tracked on any
machine: the calls the profiler sees (Python functions, and the built-in and C functions they
call, each NumPy or PyTorch operation among them) and, on CUDA, the kernels launched.

On a GPU the step's time is mostly the host launching kernels, so the list shows which
operations launch the most (each CuPy kernel call appears as a function).
"""
import argparse
import cProfile
import gc
import json
import pstats
from datetime import date

from gans import experiments
from gans.options import add_threads_argument
from gans.threads import use_threads

from .harness import RESULTS, Workload, machine


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="experiments (--calls: default all)")
    parser.add_argument("--engine", default="minigrad", help="minigrad or torch, with +graph to replay a CUDA graph "
                        "(--calls: both engines)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--calls", action="store_true", help="count calls (and CUDA launches) per step: a table")
    parser.add_argument("--save", action="store_true", help="--calls: also write benchmarks/results/calls-*.json")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)  # the same for both engines, as gans bench: the timing printed compares
    if args.calls:
        return count_table(args.names or list(experiments.EXPERIMENTS), args.device, args.dtype, args.save)
    if len(args.names) != 1:
        parser.error("give one experiment to profile (or --calls for the table of all)")
    load = Workload(args.names[0], args.engine, args.device, args.dtype)
    load.run(5)  # warm-up: lazy imports, kernel compilation, allocator
    profile = cProfile.Profile()
    profile.enable()
    seconds = load.run(args.steps)
    profile.disable()
    print(f"{args.names[0]} [{args.engine}, {args.device}, {args.dtype}, {args.threads} thread(s)]: "
          f"{seconds / args.steps * 1e6:,.0f} µs per "
          f"iteration under the profiler ({args.steps} iterations); the profiler adds its own overhead")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)


def calls_per_step(name, engine, device="cpu", dtype="float32", steps=20):
    """Calls the profiler sees in one training step (the mean over ``steps``, after a warm-up)."""
    load = Workload(name, engine, device, dtype)
    load.run(3)
    # The collector runs when allocations say so, and the finalizers it runs (of earlier
    # workloads' objects) would count as calls of this step: collect first, then keep it off.
    gc.collect()
    gc.disable()
    profile = cProfile.Profile()
    try:
        profile.enable()
        load.run(steps)
        profile.disable()
    finally:
        gc.enable()
    return pstats.Stats(profile).total_calls / steps


def launches_per_step(name, engine, dtype="float32", steps=5):
    """CUDA kernels launched in one training step, counted by PyTorch's profiler (which sees
    the CUDA runtime's launches of every library in the process, CuPy's included)."""
    from torch.profiler import ProfilerActivity, profile
    load = Workload(name, engine, "cuda", dtype)
    load.run(3)
    with profile(activities=[ProfilerActivity.CUDA]) as trace:
        load.run(steps)
    return sum(1 for event in trace.events() if event.device_type.name == "CUDA") / steps


def count_table(names, device, dtype, save):
    rows = []
    print(f"{'experiment':<22}{'engine':<10}{'calls/step':>12}" + (f"{'launches/step':>15}" if device == "cuda" else ""))
    for name in names:
        for engine in ("minigrad", "torch"):
            row = {"experiment": name, "engine": engine, "calls_per_step": calls_per_step(name, engine, device, dtype)}
            if device == "cuda":
                row["launches_per_step"] = launches_per_step(name, engine, dtype)
            rows.append(row)
            print(f"{name:<22}{engine:<10}{row['calls_per_step']:>12,.0f}"
                  + (f"{row['launches_per_step']:>15,.0f}" if device == "cuda" else ""))
    if save:
        path = RESULTS / f"calls-{device}-{date.today().isoformat()}.json"
        path.write_text(json.dumps({"machine": machine(), "device": device, "dtype": dtype, "rows": rows}, indent=2)
                        + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    main()
