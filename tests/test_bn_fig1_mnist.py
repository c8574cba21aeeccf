"""E1, ``examples/bn_fig1_mnist.py``: a --quick smoke run as a user would (subprocess), backends agreeing,
and the training step against the same network written in PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import bn_fig1_mnist  # noqa: E402
import ics_common  # noqa: E402


def run_e1(out: Path, *args: str, stem: str = "e1_fig1") -> dict:
    done = subprocess.run([sys.executable, str(EXAMPLES / "bn_fig1_mnist.py"), "--quick", "--no-progress",
                           "--digits", "--out", str(out), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "without BN: final held-out accuracy" in done.stdout
    assert (out / f"{stem}.png").stat().st_size > 1000
    return json.loads((out / f"{stem}.json").read_text())


def test_quick_run_json_and_backends_agree(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    result = run_e1(tmp_path / "numpy", "--seed", "3", "--seeds", "2", "--jobs", "2", stem="e1_fig1_seeds2")
    settings = result["settings"]
    assert settings["args"]["steps"] == 60 and settings["args"]["seed"] == 3
    assert settings["args"]["init_std"] == 0.01 and settings["args"]["lr"] == 1.0
    assert settings["args"]["batch_size"] == 60 and settings["backend"] == "numpy"
    assert settings["data"] == "scikit-learn 8x8 digits 1297/500" and settings["minigrad"] == minigrad.__version__
    assert "--seed" in settings["argv"] and "do not show that the first causes the second" in result["caption"]
    assert result["seeds"] == [3, 4] and result["runs"][0] != result["runs"][1]
    run = result["runs"][0]
    assert run["steps"] == [0, 20, 40, 60]
    for name in ("without BN", "with BN"):
        assert all(0 <= a <= 1 for a in run[name]["accuracy"])
        p = np.array(run[name]["percentiles"])
        assert p.shape == (4, 3) and np.all(p[:, 0] <= p[:, 1]) and np.all(p[:, 1] <= p[:, 2])
    # With BN the probe's sigmoid input is normalised: at step 0 (gamma 1, beta 0) its band spans about +-1.
    p0 = run["with BN"]["percentiles"][0]
    assert -1.5 < p0[0] < -0.5 and 0.5 < p0[2] < 1.5
    timing = result["timing"]
    assert timing["seconds_per_step"]["minigrad numpy with BN"]["median"] > 0
    assert result["profile_bn_step"]["top_functions"]

    pytest.importorskip("numba")
    numba_run = run_e1(tmp_path / "numba", "--seed", "3", "--backend", "numba", "--no-timing")["runs"][0]
    for name in ("without BN", "with BN"):
        np.testing.assert_allclose(numba_run[name]["percentiles"], run[name]["percentiles"], rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(numba_run[name]["loss"], run[name]["loss"], rtol=1e-9)
        assert numba_run[name]["accuracy"] == run[name]["accuracy"]


def test_steps_to_first_record_reaching_target():
    record = {"steps": [0, 100, 200, 300], "net": {"accuracy": [0.1, 0.89, 0.95, 0.9]}}
    assert bn_fig1_mnist.steps_to(record, "net", 0.9) == 200
    assert bn_fig1_mnist.steps_to(record, "net", 0.99) is None


@pytest.mark.parametrize("batchnorm", [False, True])
def test_training_step_matches_pytorch(batchnorm):
    """The minigrad step that E1 times does what the hand-written PyTorch one does, from the same weights."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    weights = ics_common.init_weights((20, 8, 8, 8, 4), std=0.3, seed=1)
    x, y = rng.normal(size=(12, 20)), rng.integers(0, 4, size=12)
    our_net, our_step = bn_fig1_mnist.minigrad_trainer(batchnorm, weights, x, y, lr=0.7)
    torch_net, torch_step = bn_fig1_mnist.torch_trainer(torch, batchnorm, weights, x, y, lr=0.7)
    for _ in range(3):
        our_step()
        torch_step()
    our_weights = [w.numpy() for w in our_net.linear_weights()]
    torch_weights = [m.weight.detach().numpy() for m in torch_net if isinstance(m, torch.nn.Linear)]
    for a, b in zip(our_weights, torch_weights):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
