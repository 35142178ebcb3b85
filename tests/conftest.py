import os
import sys

import pytest
from hypothesis import HealthCheck, settings

import minigrad

sys.path.insert(0, os.path.dirname(__file__))

# Hypothesis: enough examples to find broadcasting and size-1 edge cases, but quick in CI
settings.register_profile("default", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.register_profile("quick", max_examples=8, deadline=None,  # a GPU run inside a short lease
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_generate_tests(metafunc):
    """Tests that take a ``device`` run on the CPU and, where CuPy sees a GPU, on CUDA;
    elsewhere the CUDA case is reported as skipped, with the reason."""
    if "device" in metafunc.fixturenames:
        no_gpu = pytest.mark.skipif(not minigrad.cuda.is_available(), reason="needs CuPy and a CUDA GPU")
        metafunc.parametrize("device", ["cpu", pytest.param("cuda", marks=[no_gpu, pytest.mark.cuda])])


@pytest.fixture(autouse=True)
def _device_for_check(request):
    """Let ``helpers.check`` run minigrad on the device the test is parametrized with."""
    import helpers
    helpers.DEVICE["current"] = request.node.callspec.params.get("device", "cpu") \
        if hasattr(request.node, "callspec") else "cpu"
    yield
    helpers.DEVICE["current"] = "cpu"
