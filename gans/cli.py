"""``gans``: run the book's experiments from the command line.

    gans list
    gans train mnist-gan [--engine minigrad|torch] [--device cpu|cuda] [--epochs N] ...
    gans generate runs/mnist-gan-minigrad --interpolate --out interpolation.png
    gans data mnist --from PATH | --download
    gans data celeba --from img_align_celeba.zip | --synthetic N
    gans appendix d --out appendix-d.png
    gans graph mnist-gan --out graph.svg [--part D|G] [--values]
    gans eval runs/mnist-gan-minigrad [--n 10000] [--json PATH] | --images FILE.npy
"""
import argparse
import json
import sys
from pathlib import Path

from benchmarks import GRAPH, PLAIN

from . import checkpoint, experiments
from .interrupt import Interrupted
from .options import (add_threads_argument, check_output, non_negative_int, path, positive_float,
                      positive_int, seed)
from .threads import use_threads


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.error("give a command: list, train, generate, data, compare, eval, bench, appendix or graph")
    if getattr(args, "threads", None) and args.command != "bench":  # bench starts its own process
        use_threads(args.threads)
    try:
        return args.run(args) or 0
    except Interrupted as stopped:
        print(f"gans {args.command}: {stopped}", file=sys.stderr)
        return stopped.exit_status
    except KeyboardInterrupt:
        print(f"gans {args.command}: interrupted", file=sys.stderr)
        return 130
    except (KeyError, ValueError, RuntimeError, OSError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"gans {args.command}: error: {message}", file=sys.stderr)
        return 2


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (``gans train: error: argument --epochs: must be at least
    1, got -1``) pointing at ``--help``, instead of the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default, where it has one worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS) and "default" not in text
        if shown and action.option_strings and action.nargs != 0:
            text += " (default: %(default)s)"
        return text


def build_parser():
    parser = Parser(prog="gans", description="The GANs of 'Make Your First GAN With PyTorch', on minigrad or PyTorch.",
                    formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.add_parser = _with_formatter(commands.add_parser)

    p = commands.add_parser("list", help="the experiments, with chapter and description")
    p.set_defaults(run=cmd_list)

    p = commands.add_parser("train", help="train an experiment into a run folder")
    p.add_argument("name", help="experiment name (see 'gans list')")
    add_engine_arguments(p, dtype_default=None, dtype_help="(default: float32; a resumed run keeps its own)")
    p.add_argument("--epochs", type=positive_int, help="passes over the data (default: the book's; MNIST GANs on "
                   f"the embedded subset: {experiments.SUBSET_GAN_EPOCHS})")
    p.add_argument("--limit", type=positive_int, help="use only the first N training examples (default: all)")
    p.add_argument("--seed", type=seed, help="seeds Python, NumPy, minigrad, torch and CuPy (default: 0; a "
                   "resumed run keeps its own)")
    p.add_argument("--data", type=path, help="MNIST folder/CSV or CelebA HDF5 file (default: cache, then embedded)")
    p.add_argument("--out", type=path, help="run folder (default: runs/NAME-ENGINE)")
    p.add_argument("--resume", action="store_true", help="continue the run in the folder from its checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace the run in the folder (it is deleted first)")
    p.add_argument("--checkpoint-every", type=positive_int, metavar="STEPS",
                   help="write the checkpoint every STEPS steps (default: by time, see --checkpoint-minutes)")
    p.add_argument("--checkpoint-minutes", type=positive_float, default=checkpoint.DEFAULT_MINUTES, metavar="M",
                   help="at most every M minutes of training, and always at the end and on Ctrl-C")
    p.add_argument("--log-every", type=positive_int, metavar="N", help="steps between rows of losses.csv (default: "
                   "the book's 10; a resumed run keeps its own)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print all of metrics.json at the end, not the summary")
    p.add_argument("--cuda-graph", action="store_true",
                   help="capture the training step once as a CUDA graph and replay it (CUDA; eager on the CPU)")
    p.add_argument("--eval-samples", type=non_negative_int, default=2000,
                   help="MNIST GANs: samples scored at the end (mode coverage, FID, ...); 0 skips")
    p.add_argument("--grad-stats", type=non_negative_int, nargs="?", const=0, metavar="K",
                   help="write per-layer gradient and weight norms every K steps to grad_stats.csv/.png "
                        "(K defaults to --log-every)")
    for flag, what in (("leaky-relu", "LeakyReLU(0.02) instead of Sigmoid"), ("layer-norm", "LayerNorm(200)"),
                       ("bce", "BCE loss instead of MSE"), ("adam", "Adam instead of SGD")):
        p.add_argument(f"--{flag}", action="store_true", help=f"classifier refinement (ch. 3): {what}")
    add_threads_argument(p)
    p.set_defaults(run=cmd_train)

    p = commands.add_parser("generate", help="images from a trained GAN, and the seed experiments of ch. 7",
                            description="Images from a trained GAN as a grid at native size (one image pixel = "
                            "one file pixel, as torchvision's save_image), with the titled figure beside it "
                            "(grid.png: grid-figure.png); or as an array (.npy) that 'gans eval --images' reads.")
    p.add_argument("run_dir", type=path, help="a trained GAN's run folder")
    p.add_argument("--n", type=int, help="number of samples (default 16; --interpolate draws 12, "
                   "--seed-arithmetic 3)")
    p.add_argument("--label", type=int, help="digit 0..9 to draw (conditional GAN; default: a random digit per "
                   "sample, and 0 for the seed experiments, which keep one label)")
    p.add_argument("--interpolate", action="store_true", help="walk from one seed to another")
    p.add_argument("--seed-arithmetic", choices=["sum", "difference", "product"],
                   help="G(seed1 + seed2), G(seed1 - seed2) or G(seed1 × seed2)")
    p.add_argument("--seed", type=seed, default=0, help="seeds G's noise (and random labels)")
    p.add_argument("--engine", choices=["minigrad", "torch"], help="default: the engine that trained it")
    p.add_argument("--nrow", type=int, help="images per row of the grid (default 8; 4 with --interpolate, the "
                   "book's 3×4; 3 with --seed-arithmetic)")
    p.add_argument("--padding", type=int, default=2, help="pixels between and around the images (default 2)")
    p.add_argument("--pad-value", type=float, default=1.0, help="grey level of the padding, 0 black .. 1 white "
                   "(default 1: white lines between MNIST's black backgrounds; torchvision's default is 0)")
    p.add_argument("--normalize", action="store_true", help="stretch the images' min..max to black..white "
                   "(default off: G's outputs are already in 0..1)")
    p.add_argument("--out", type=path, required=True, help="FILE.png: the grid (and FILE-figure.png, titled); FILE.jpg or "
                   ".jpeg: the grid as JPEG (and FILE-figure.png); FILE.npy: the images as a float array, "
                   "N×28×28 in [0, 1] for MNIST, that 'gans eval --images' scores")
    add_threads_argument(p)
    p.set_defaults(run=cmd_generate)

    p = commands.add_parser("data", help="import or prepare data sets")
    p.add_argument("dataset", choices=["mnist", "celeba"], help="which data set")
    p.add_argument("--from", type=path, dest="source", help="MNIST: folder of IDX/CSV files; CelebA: img_align_celeba.zip")
    p.add_argument("--download", action="store_true", help="MNIST: fetch the original files (checksummed)")
    p.add_argument("--synthetic", type=positive_int, metavar="N", help="CelebA: write N synthetic face-like images")
    p.add_argument("--limit", type=positive_int, default=20000, help="CelebA: images to take from the zip (book: 20000)")
    p.add_argument("--overwrite", action="store_true", help="replace data already imported or made there")
    p.add_argument("--out", type=path, help="MNIST: the folder to write into; CelebA: the HDF5 file to write "
                   "(default: the data cache, $MINIGRAD_GANS_DATA)")
    p.set_defaults(run=cmd_data)

    p = commands.add_parser("compare", help="minigrad vs PyTorch step by step from the same start")
    p.add_argument("name", help="experiment name (see 'gans list')")
    p.add_argument("--steps", type=positive_int, default=100, help="training steps on each engine")
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"], help="both engines' dtype")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where both engines run")
    p.add_argument("--seed", type=seed, default=0, help="the one seed both engines start from")
    p.add_argument("--every", type=positive_int, default=1, help="compare every K steps")
    p.add_argument("--data", type=path, help="MNIST folder/CSV or CelebA HDF5 file (default: cache, then embedded)")
    p.add_argument("--limit", type=positive_int, help="use only the first N training examples (default: all)")
    p.add_argument("--cross-device", action="store_true", help="minigrad on the CPU against minigrad on CUDA")
    p.add_argument("--out", type=path, help="folder for report.json/png and samples.png (default: runs/compare-NAME)")
    p.add_argument("--json", type=path, help="also write the report here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_threads_argument(p)
    p.set_defaults(run=cmd_compare)

    p = commands.add_parser("eval", help="score a trained run, or any array of digit images, with the evaluator")
    p.add_argument("run_dir", type=path, nargs="?", help="a run folder (MNIST GAN or classifier)")
    p.add_argument("--images", type=path, help="instead of a run: a .npy file of N×784 or N×28×28 images in [0, 1]")
    p.add_argument("--n", type=positive_int, help="GAN samples to score (default 10000), or the first N of "
                   "--images (default: all)")
    p.add_argument("--data", type=path, help="MNIST folder for the real digits (default: full MNIST if present)")
    p.add_argument("--engine", choices=["minigrad", "torch"], help="default: the run's engine (images: torch)")
    p.add_argument("--json", type=path, help="also write the scores here")
    add_threads_argument(p)
    p.set_defaults(run=cmd_eval)

    p = commands.add_parser("bench", help="time one training iteration on minigrad and PyTorch, side by side")
    add_bench_arguments(p)
    p.set_defaults(run=cmd_bench)

    p = commands.add_parser("appendix", help="the appendix demonstrations (B: pixel likelihood, D: x·y game)")
    p.add_argument("which", choices=["b", "d"], help="b: a pixel's likelihood; d: gradient steps on x·y")
    p.add_argument("--out", type=path, required=True, help="the picture: .png, .pdf or .svg")
    p.set_defaults(run=cmd_appendix)

    p = commands.add_parser("graph", help="draw one training step's computation graph, loss to every parameter")
    p.add_argument("name", help="experiment name (see 'gans list')")
    p.add_argument("--out", type=path, required=True, help=".svg, .png, .pdf or .dot file")
    p.add_argument("--part", choices=["D", "G"], help="GANs: D's step on a real example, or G's step "
                   "through D (default)")
    p.add_argument("--values", action="store_true", help="show tensor values (norms for big ones)")
    p.add_argument("--engine", choices=["minigrad"], default="minigrad", help="graphs are drawn from minigrad's")
    p.add_argument("--seed", type=seed, default=0, help="seeds the weights and the example drawn")
    add_threads_argument(p)
    p.set_defaults(run=cmd_graph)
    return parser


def add_bench_arguments(p):
    """The options of ``gans bench`` (shared with ``python -m benchmarks``)."""
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments (default: all)")
    p.add_argument("--engine", default="minigrad,torch", help="comma-separated engines: minigrad, torch, and "
                   f"{PLAIN} (minigrad with minigrad.accel's replacements detached)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where both engines run")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="both engines' dtype")
    p.add_argument("--seconds", type=positive_float, default=3.0, help="time budget per experiment")
    p.add_argument("--data", type=path, help="MNIST folder/CSV or CelebA HDF5 file")
    p.add_argument("--json", type=path, help="also write the records here")
    p.add_argument("--no-save", action="store_true", help="don't write benchmarks/results/")
    p.add_argument("--no-matmul", action="store_true", help="skip the chapter 4 matrix-product demo")
    p.add_argument("--cuda-graph", action="store_true",
                   help="also time each engine replaying its training step captured as a CUDA graph")
    add_threads_argument(p)


def bench_engines(args):
    """The engine labels ``gans bench`` times, e.g. ['minigrad', 'torch'] (with ``--cuda-graph``
    also 'minigrad+graph', 'torch+graph'); ValueError for an unknown engine, or a CUDA run
    that this machine cannot do."""
    engines = [e.strip() for e in args.engine.split(",") if e.strip()]
    if not engines:
        raise ValueError("--engine names no engine; use minigrad,torch or one of them")
    if args.json:
        check_output(args.json, "--json", [".json"])
    for e in engines:
        if e not in ("minigrad", "torch", PLAIN):
            raise ValueError(f"unknown engine {e!r} in --engine; use minigrad,torch (or {PLAIN})")
    if args.cuda_graph and args.device != "cuda":
        raise ValueError("--cuda-graph times CUDA graph replays; it needs --device cuda")
    if args.cuda_graph and "minigrad" in engines:
        from minigrad import accel
        if not accel.ENABLED:
            raise ValueError("--cuda-graph: minigrad captures CUDA graphs with minigrad.accel, which is off "
                             "(MINIGRAD_ACCEL=0)")
    if args.device == "cuda":
        if "minigrad" in engines or PLAIN in engines:
            try:
                from minigrad import backend
                backend.require_cuda()
            except RuntimeError as err:
                raise ValueError(str(err)) from None
        if "torch" in engines:
            import torch
            if not torch.cuda.is_available():
                raise ValueError("CUDA was requested but PyTorch sees no CUDA GPU (torch.cuda.is_available() "
                                 "is False)")
    if args.cuda_graph:  # each engine eager and replaying its captured step (capture is minigrad.accel's)
        engines = [label for e in engines for label in ((e,) if e == PLAIN else (e, e + GRAPH))]
    return engines


def add_engine_arguments(p, dtype_default="float32", dtype_help=""):
    p.add_argument("--engine", default="minigrad", choices=["minigrad", "torch"], help="which engine trains")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where it trains")
    p.add_argument("--dtype", default=dtype_default, choices=["float32", "float64"], help=dtype_help)


def _with_formatter(add_parser):
    """Subcommands get the help formatter that shows defaults."""
    return lambda *args, **kwargs: add_parser(*args, formatter_class=HelpFormatter, **kwargs)


def cmd_list(args):
    width = max(len(n) for n in experiments.EXPERIMENTS)
    for name, x in experiments.EXPERIMENTS.items():
        print(f"{name:<{width}}  ch. {x.chapter:<3} {x.summary}")


def cmd_train(args):
    from .training import train
    experiment = experiments.get(args.name)
    options = {k: True for k in ("leaky_relu", "layer_norm", "bce", "adam") if getattr(args, k)}
    if options and experiment.name not in ("classifier", "classifier-refined"):
        raise ValueError("--leaky-relu/--layer-norm/--bce/--adam refine the classifier experiment only")
    if args.limit is not None and experiment.data == "pattern":
        raise ValueError(f"--limit chooses training examples; {args.name} makes its own (the 1010 pattern)")
    out = args.out or str(Path("runs") / f"{args.name}-{args.engine}")
    try:
        metrics = train(args.name, args.engine, args.device, args.dtype, args.epochs, args.limit, args.seed,
                        args.data, out, args.resume, args.overwrite, args.checkpoint_every, args.checkpoint_minutes,
                        args.log_every, options, progress=not args.quiet, eval_samples=args.eval_samples,
                        cuda_graph=args.cuda_graph, threads=args.threads,
                        grad_stats_every=args.grad_stats,
                        echo=lambda note: print(note, file=sys.stderr))
    except Interrupted as stopped:
        raise Interrupted(stopped.signum, stopped.step, f"{stopped}; resume with: {resume_command(args, out)}") \
            from None
    if args.json:
        print(json.dumps({k: v for k, v in metrics.items() if k != "confusion_matrix"}, indent=2))
    else:
        print(training_summary(metrics))


def resume_command(args, out):
    """The command line that continues this run where it stopped."""
    words = ["gans", "train", args.name, "--resume", "--out", out]
    for flag, value, default in (("--engine", args.engine, "minigrad"), ("--device", args.device, "cpu"),
                                 ("--threads", args.threads, 1)):
        if value != default:
            words += [flag, str(value)]
    return " ".join(words + ["--cuda-graph"] * args.cuda_graph)


def training_summary(m):
    """A few lines on a finished run: what ran, how fast, the final numbers, where the files are."""
    plain = m["engine"] == "minigrad" and not m.get("minigrad_accel", True)
    lines = [f"{m['experiment']} on {m['engine']} ({m['device']}, {m['dtype']}, {m['threads']} thread(s) per engine"
             f"{', without minigrad.accel' if plain else ''}): {m['steps']} steps, "
             f"{1000 * m['seconds_per_step']:.3g} ms/step"]
    finals = [f"{k[len('final_'):]} {v:.4g}" for k, v in m.items() if k.startswith("final_")]
    if finals:
        lines.append(f"  final (last logged step): {', '.join(finals)}")
    if "test_accuracy" in m:
        lines.append(f"  test accuracy: {m['test_accuracy']:.4f} on {m['test_examples']} images")
    if "mode_coverage" in m:
        lines.append(f"  scored on {m['eval_samples']} samples: mode coverage {m['mode_coverage']}/10, "
                     f"FID {m['fid']:.4g}")
    lines.append(f"  checkpoint: {_size(m['checkpoint_bytes'])}, written {m['checkpoint_writes']} time(s), "
                 f"{m['checkpoint_seconds_each']:.2g} s each")
    lines.append(f"  run folder: {m['run_folder']} (metrics.json has everything)")
    return "\n".join(lines)


def _size(count):
    """A byte count as people read it: 6.6 kB, 560 MB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"


def cmd_generate(args):
    from .generate import generate
    made = generate(args.run_dir, args.out, args.n, args.label, args.interpolate, args.seed_arithmetic, args.seed,
                    args.engine, args.nrow, args.padding, args.normalize, args.pad_value)
    print(f"wrote {', '.join(str(f) for f in made.files)}: {made.title}")


def cmd_data(args):
    from . import data
    sources = [flag for flag, given in (("--from", args.source), ("--download", args.download),
                                        ("--synthetic", args.synthetic)) if given]
    if len(sources) > 1:
        raise ValueError(f"{' and '.join(sources)}: give one source")
    if args.dataset == "mnist" and args.synthetic:
        raise ValueError("--synthetic makes CelebA-like faces; MNIST comes --from a folder or by --download")
    if args.dataset == "celeba" and args.download:
        raise ValueError("CelebA cannot be downloaded here: --from img_align_celeba.zip or --synthetic N")
    if args.dataset == "mnist":
        if args.download:
            path = data.download_mnist(dest=args.out)
        elif args.source:
            dest = Path(args.out) if args.out else data.data_home() / "mnist"
            _refuse_replacing([dest / name for name in data.MNIST_SHA256], args.overwrite)
            path = data.import_mnist(args.source, dest)
        else:
            raise ValueError("say where MNIST comes from: --from PATH or --download")
        print(f"MNIST is in {path}; " + (f"use it with --data {path}" if args.out else
                                           "it is used by default from now on"))
        return
    if args.synthetic:
        out = Path(args.out) if args.out else data.celeba_cache_path(synthetic=True)
        _refuse_replacing([out], args.overwrite)
        data.make_synthetic_celeba(out, args.synthetic)
        print(f"wrote {args.synthetic} synthetic face-like images (not CelebA) to {out}")
    elif args.source:
        out = Path(args.out) if args.out else data.celeba_cache_path()
        _refuse_replacing([out], args.overwrite)
        count = data.build_celeba_hdf5(args.source, out, args.limit)
        print(f"wrote {count} CelebA images to {out}")
    else:
        raise ValueError("say where CelebA comes from: --from img_align_celeba.zip or --synthetic N")


def _refuse_replacing(paths, overwrite):
    """Data already there is replaced only when asked (--overwrite)."""
    there = [p for p in paths if p.exists()]
    if there and not overwrite:
        raise ValueError(f"{there[0]} exists; --overwrite replaces it")


def cmd_compare(args):
    import comparisons
    experiments.get(args.name)
    out = Path(args.out or Path("runs") / f"compare-{args.name}")
    if any((out / name).exists() for name in ("config.json", "checkpoint.npz")):
        raise ValueError(f"--out {out} holds a training run; write the comparison to another folder")
    if args.json:
        check_output(args.json, "--json", [".json"])
    report = comparisons.compare(args.name, args.steps, args.dtype, args.device, args.seed, args.every,
                                 args.data, args.limit, args.cross_device, threads=args.threads,
                                 show_progress=not args.quiet)
    comparisons.write(report, out, args.json)
    print(comparisons.summary(report))
    print(f"report: {Path(out) / 'report.json'}, {Path(out) / 'report.png'}")
    return 0 if report.first_divergent_step is None else 3


def cmd_eval(args):
    from .evaluation.runs import evaluate
    if (args.run_dir is None) == (args.images is None):
        raise ValueError("give either a run folder or --images FILE.npy")
    if args.json:
        check_output(args.json, "--json", [".json"])
    report, result = evaluate(args.run_dir, args.images, args.n, args.data, args.engine)
    print(report)
    if args.json:
        checkpoint.write_json(args.json, result)
        print(f"wrote {args.json}")


def cmd_bench(args):
    bench_engines(args)  # bad options fail here, as gans bench's errors
    # thread pools are sized when NumPy and PyTorch load, so the benchmark runs in a fresh process
    import subprocess
    try:
        return subprocess.call([sys.executable, "-m", "benchmarks"] + bench_argv(args))
    except KeyboardInterrupt:  # the benchmark process got the same Ctrl-C and said so
        return 130


def bench_argv(args):
    argv = list(args.names) + ["--engine", args.engine, "--device", args.device, "--dtype", args.dtype,
                               "--seconds", str(args.seconds), "--threads", str(args.threads)]
    for flag, value in (("--data", args.data), ("--json", args.json)):
        if value:
            argv += [flag, value]
    return argv + ["--no-save"] * args.no_save + ["--no-matmul"] * args.no_matmul + ["--cuda-graph"] * args.cuda_graph


def cmd_graph(args):
    from .graph import draw_training_step
    if args.part and not experiments.get(args.name).is_gan:
        raise ValueError(f"--part chooses a GAN's network; {args.name} has one network")
    graph = draw_training_step(args.name, args.out, args.part or "G", args.values, args.seed)
    parameters = [n.name for n in graph if n.kind == "parameter"]
    print(f"wrote {args.out}: {len(graph.ops)} ops, {len(parameters)} parameters ({', '.join(parameters)})")


def cmd_appendix(args):
    check_output(args.out, "--out", [".png", ".pdf", ".svg"])
    from . import appendix
    {"b": appendix.appendix_b, "d": appendix.appendix_d}[args.which](args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
