"""The autograd examples are PyTorch programs that run on minigrad through their imports:
each is run twice, as written and with ``import torch``, and every number must agree."""
import re
import types
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "autograd"


def load(name, engine):
    """The example as a module, its minigrad imports swapped for PyTorch's when engine is torch."""
    source = (EXAMPLES / f"{name}.py").read_text()
    if engine == "torch":
        swapped = re.sub(r"^import minigrad(\.\w+)? as ", lambda m: f"import torch{m.group(1) or ''} as ",
                         source, flags=re.M)
        assert swapped != source and "minigrad" not in re.sub(r'""".*?"""', "", swapped, flags=re.S)
        source = swapped
    module = types.ModuleType(f"{name}_{engine}")
    module.__file__ = str(EXAMPLES / f"{name}.py")
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def test_polynomial_fit_gives_pytorchs_numbers():
    ours = load("polynomial_fit", "minigrad").main()
    theirs = load("polynomial_fit", "torch").main()
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-9, atol=1e-12, err_msg=name)
        assert ours[name][-1] < 10  # a cubic fits sin on [-π, π] to a summed squared error below 10


def test_gradient_penalty_gan_gives_pytorchs_losses():
    ours = np.array(load("gradient_penalty", "minigrad").train(steps=40))
    theirs = np.array(load("gradient_penalty", "torch").train(steps=40))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert np.all(ours[:, 1] > 0)  # the penalty is there and differentiated: D's losses include it
