"""Print the README's parity table from ``gans compare`` reports (runs/parity/*/report.json).

    bash docs/make_parity_reports.sh && python docs/parity_table.py
"""
import json
import sys
from pathlib import Path

ORDER = ["classifier", "classifier-refined", "pattern-1010", "mnist-gan-first", "mnist-gan", "mnist-cnn",
         "celeba-gan", "celeba-cnn-gan", "celeba-cnn-gan-gelu", "mnist-cgan"]


def main(folder="runs/parity"):
    reports = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*/report.json"))]
    reports.sort(key=lambda r: (r["dtype"] != "float64", ORDER.index(r["experiment"]) if r["experiment"] in ORDER
                                else len(ORDER)))
    print("| experiment | dtype | steps | max rel. parameter diff. | max rel. gradient diff. | "
          "max rel. Adam-state diff. | max loss diff. | first divergent step | ms/step torch, minigrad |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in reports:
        seconds = r["seconds_per_step"]
        first = r["first_divergent_step"]
        diverged = "none" if first is None else f"{first} ({r['first_divergent_tensor']})"
        print(f"| `{r['experiment']}` | {r['dtype']} | {r['steps']} | {r['max_rel_param_diff']:.1e} | "
              f"{r['max_rel_grad_diff']:.1e} | {r.get('max_rel_state_diff', 0):.1e} | {r['max_abs_loss_diff']:.1e} | "
              f"{diverged} | {', '.join(f'{seconds[engine] * 1e3:.1f}' for engine in r['engines'])} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
