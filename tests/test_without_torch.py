"""minigrad needs only NumPy: it imports and trains with PyTorch made unimportable."""
import os
import subprocess
import sys
import textwrap


def test_minigrad_trains_without_torch():
    program = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # any 'import torch' now fails
        import minigrad, minigrad.nn as nn
        minigrad.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())
        opt = minigrad.optim.Adam(model.parameters(), lr=0.05)
        x = minigrad.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
        y = minigrad.tensor([[0.], [1.], [1.], [0.]])
        for _ in range(500):
            loss = nn.BCELoss()(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step()
        assert "torch" not in [m.split(".")[0] for m in sys.modules if sys.modules[m] is not None]
        print(loss.item())
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 0.1  # XOR learned


def test_the_demo_learns_two_moons_and_says_what_engine_ran():
    """``python -m minigrad``, as the README gives it, with and without minigrad.accel."""
    for accel, says in (("1", "replacement(s) attached"), ("0", "the plain engine")):
        result = subprocess.run([sys.executable, "-m", "minigrad"], capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, MINIGRAD_ACCEL=accel))
        assert result.returncode == 0, result.stderr
        accuracy = next(line for line in result.stdout.splitlines() if line.startswith("accuracy"))
        assert float(accuracy.split()[1].rstrip("%")) > 95 and says in result.stdout
