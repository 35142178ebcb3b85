"""The comparison's outputs: report.json, report.png, samples.png and a console table."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import minigrad  # noqa: E402
from gans.checkpoint import write_json  # noqa: E402
from gans.plots import _save, tile  # noqa: E402


def write(report, out_dir, json_path=None):
    """Write report.json (and ``json_path``), report.png and, for GANs, samples.png."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in filter(None, (out_dir / "report.json", json_path)):
        write_json(path, report.to_json())
    plot(report, out_dir / "report.png")
    if report.samples:
        plot_samples(report, out_dir / "samples.png")


def plot(report, path):
    """Left: each loss on both engines (solid vs dashed). Right: differences on a log scale."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    steps = [row["step"] for row in report.history]
    styles = ["-", "--"]
    for (engine, losses), style in zip(report.losses.items(), styles):
        for i, (name, values) in enumerate(losses.items()):
            if name.startswith("D("):
                continue
            left.plot(steps, values, style, color=f"C{i}", label=f"{name} [{engine}]", alpha=0.8)
    left.set_xlabel("step")
    left.set_title(f"{report.experiment}: losses ({report.dtype}, {report.device})")
    left.legend(fontsize=7)
    for key, label in (("loss_abs", "loss |Δ|"), ("param_rel", "parameters, max rel Δ"),
                       ("grad_rel", "gradients, max rel Δ"), ("state_rel", "optimiser state, max rel Δ")):
        values = [max(row.get(key, 0.0), 1e-18) for row in report.history]
        right.semilogy(steps, values, label=label)
    right.axhline(report.tolerance, color="red", linestyle=":", label=f"tolerance {report.tolerance:g}")
    if report.first_divergent_step is not None:
        right.axvline(report.first_divergent_step, color="red", alpha=0.4)
    right.set_xlabel("step")
    right.set_title(" vs ".join(report.engines) + ": differences")
    right.legend(fontsize=7)
    right.grid(True, which="both", alpha=0.3)
    _save(fig, path)


def plot_samples(report, path):
    """Both engines' images from the same seeds, one row per engine."""
    engines = list(report.samples)
    fig, axes = plt.subplots(len(engines), 1, figsize=(10, 2.2 * len(engines)), squeeze=False)
    for ax, engine in zip(axes[:, 0], engines):
        images = report.samples[engine].clip(0, 1)
        ax.imshow(tile(images, 1, len(images)), cmap=None if images.ndim == 4 else "gray", vmin=0, vmax=1,
                  interpolation="none")
        ax.set_title(engine, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{report.experiment} after {report.steps} steps: same seeds, both engines")
    _save(fig, path)


def summary(report, top=8):
    """A short table for the console."""
    verdict = ("no divergence" if report.first_divergent_step is None else
               f"DIVERGES at step {report.first_divergent_step} in {report.first_divergent_tensor}")
    lines = [f"{report.experiment}: {' vs '.join(report.engines)}, {report.steps} steps, {report.dtype}, "
             f"tolerance {report.tolerance:g} relative: {verdict}",
             f"  {'max |loss difference|':<36}{report.max_abs_loss_diff:.3e}",
             f"  {'max relative parameter difference':<36}{report.max_rel_param_diff:.3e}",
             f"  {'max relative gradient difference':<36}{report.max_rel_grad_diff:.3e}",
             f"  {'max relative optimiser-state diff.':<36}{report.max_rel_state_diff:.3e}"]
    if report.rounding_noise:
        lines.append(f"  not counted (exact gradient is zero, both engines return rounding noise, e.g. a bias "
                     f"before BatchNorm): {', '.join(report.rounding_noise)}")
    lines.append(f"  timings below: each engine with {report.threads} thread(s), steps interleaved"
                 + ("" if minigrad.accel.ENABLED else "; minigrad without minigrad.accel (MINIGRAD_ACCEL=0)"))
    for engine, seconds in report.seconds_per_step.items():
        lines.append(f"  {'seconds per step, ' + engine:<36}{seconds * 1e3:.3f} ms"
                     + (" (after the first)" if report.steps > 1 else ""))
    for engine, seconds in report.first_step_seconds.items():
        lines.append(f"  {'first step, ' + engine:<36}{seconds * 1e3:.3f} ms (with the one-time set-up)")
    counted = [kv for kv in report.per_tensor.items() if not kv[1].get("rounding_noise")]
    worst = sorted(counted, key=lambda kv: -kv[1]["max_rel"])[:top]
    lines.append(f"  {'tensor':<40}{'max abs':>12}{'max rel':>12}")
    for name, entry in worst:
        lines.append(f"  {name:<40}{entry['max_abs']:>12.3e}{entry['max_rel']:>12.3e}")
    return "\n".join(lines)
