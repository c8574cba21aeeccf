"""E2, ``examples/bn_noisy.py``: the noise injection against its specification (Santurkar et al.'s Alg. 1),
the four nets, and a --quick smoke run."""

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
import bn_noisy as e2  # noqa: E402

Z = 5.0  # standard errors: a correct implementation fails with probability < 1e-6 per check


def assert_mean(values: np.ndarray, expected: float) -> None:
    """The sample mean within Z standard errors (estimated from the same sample) of ``expected``."""
    se = values.std(ddof=1) / np.sqrt(len(values))
    assert abs(values.mean() - expected) < Z * se, (values.mean(), expected, se)


def assert_variance(values: np.ndarray, expected: float) -> None:
    """The sample variance within Z standard errors of ``expected``; SE^2 = (m4 - s^4) / K."""
    s2 = values.var(ddof=1)
    m4 = ((values - values.mean()) ** 4).mean()
    se = np.sqrt((m4 - s2 ** 2) / len(values))
    assert abs(s2 - expected) < Z * se, (s2, expected, se)


def test_noise_moments_match_the_specification():
    noise = e2.NoiseInjection(n_mu=0.5, n_sigma=1.25, r_mu=0.1, r_sigma=0.1, seed=7)
    n, units, draws = 50, 20, 400
    scales, shifts = map(np.stack, zip(*(noise.draw(n, units) for _ in range(draws))))  # (draws, n, units)
    assert scales.shape == shifts.shape == (draws, n, units)
    # Per unit and step: mu_j ~ U(-0.5, 0.5), sigma_j ~ U(1, 1.25); per sample m_ij ~ U(mu_j +- 0.1),
    # s_ij ~ N(sigma_j, 0.1). The per-unit sample means carry mu_j (sigma_j) plus the mean of n draws.
    unit_shift, unit_scale = shifts.mean(axis=1).ravel(), scales.mean(axis=1).ravel()
    assert_mean(unit_shift, 0.0)
    assert_variance(unit_shift, 0.5 ** 2 / 3 + 0.1 ** 2 / 3 / n)
    assert_mean(unit_scale, (1 + 1.25) / 2)
    assert_variance(unit_scale, 0.25 ** 2 / 12 + 0.1 ** 2 / n)
    # Within a unit and step: Var m_ij = r_mu^2 / 3 and Var s_ij = r_sigma^2.
    assert_mean(shifts.var(axis=1, ddof=1).ravel(), 0.1 ** 2 / 3)
    assert_mean(scales.var(axis=1, ddof=1).ravel(), 0.1 ** 2)
    # Hard bounds of the uniforms: a unit's shifts span at most 2 r_mu, and lie in [-n_mu - r_mu, n_mu + r_mu].
    assert np.all(np.ptp(shifts, axis=1) <= 0.2) and np.all(np.abs(shifts) <= 0.6)
    # Fresh every step: consecutive draws differ.
    assert not np.allclose(shifts[0], shifts[1])


def test_noise_applies_scale_and_shift_in_training_only():
    rng = np.random.default_rng(0)
    x = minigrad.tensor(rng.normal(size=(6, 4)), requires_grad=True)
    noise = e2.NoiseInjection(seed=3)
    scale, shift = e2.NoiseInjection(seed=3).draw(6, 4)  # the same generator state
    y = noise(x)
    np.testing.assert_allclose(y.numpy(), scale * x.numpy() + shift, rtol=1e-15)
    upstream = rng.normal(size=(6, 4))
    (grad,) = minigrad.grad(y, [x], grad_outputs=[minigrad.tensor(upstream)])
    np.testing.assert_allclose(grad.numpy(), upstream * scale, rtol=1e-15)
    noise.eval()
    assert noise(x) is x


def test_the_four_nets_share_weights_and_the_noisy_ones_share_noise():
    sizes = (8, 6, 6, 6, 3)
    nets = {v: e2.build(v, sizes, seed=5) for v in e2.VARIANTS}
    for v, net in nets.items():
        np.testing.assert_array_equal(net.linear_weights()[1].numpy(), nets["standard"].linear_weights()[1].numpy())
        kinds = [type(m).__name__ for m in net.hidden[0]]
        assert kinds == {"standard": ["Linear"], "batchnorm": ["Linear", "BatchNorm1d"],
                         "noisy batchnorm": ["Linear", "BatchNorm1d", "NoiseInjection"],
                         "standard + noise": ["Linear", "NoiseInjection"]}[v]
    a, b = nets["noisy batchnorm"].hidden[2][-1], nets["standard + noise"].hidden[2][-1]
    np.testing.assert_array_equal(a.draw(4, 6)[1], b.draw(4, 6)[1])
    assert not np.array_equal(nets["noisy batchnorm"].hidden[1][-1].draw(4, 6)[1], a.draw(4, 6)[1])


def test_quick_run_writes_json_and_figure(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(EXAMPLES / "bn_noisy.py"), "--quick", "--no-progress", "--digits",
                           "--seed", "1", "--lrs", "0.5", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "noisy batchnorm" in done.stdout
    result = json.loads((tmp_path / "e2_noisy.json").read_text())
    assert result["settings"]["args"]["seed"] == 1 and result["config"]["lrs"] == [0.5]
    assert result["config"]["noise"] == {"n_mu": 0.5, "n_sigma": 1.25, "r_mu": 0.1, "r_sigma": 0.1}
    (run,) = result["results"]
    assert run["seed"] == 1 and set(run["runs"]["0.5"]) == set(e2.VARIANTS)
    for log in run["runs"]["0.5"].values():
        assert log["step"] == [0, 10, 20, 30, 39]
        assert all(0 <= a <= 1 for a in log["test_acc"] + log["train_acc"])
        assert np.array(log["drift_mean"]).shape == (5, 3) and np.all(np.array(log["drift_var"]) >= 0)
    # The injected shift moves each unit's mean by up to n_mu at every step; BN alone keeps it at beta.
    s = result["summary"]["0.5"]
    assert s["noisy batchnorm"]["median_drift_mean"] > 10 * s["batchnorm"]["median_drift_mean"]
    assert (tmp_path / "e2_noisy.png").stat().st_size > 1000
