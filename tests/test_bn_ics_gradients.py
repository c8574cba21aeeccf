"""E3, ``examples/bn_ics_gradients.py``: G and G' (Santurkar's Def. 2.1) against a closed-form gradient and
against finite differences of an independent NumPy deep linear network, and a --quick smoke run."""

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
import bn_ics_gradients as e3  # noqa: E402
import ics_common  # noqa: E402

DEPTH, WIDTH, SAMPLES, LR, EPS = 4, 3, 8, 0.02, 1e-5


def numpy_dln_loss(weights, gammas, betas, x, y) -> float:
    """Sum of squared errors of the deep linear network, BN (biased batch variance) after every map but the
    last when ``gammas`` is not empty."""
    h = x
    for i, w in enumerate(weights):
        h = h @ w.T
        if gammas and i < len(weights) - 1:
            h = gammas[i] * (h - h.mean(0)) / np.sqrt(h.var(0) + EPS) + betas[i]
    return float(((h - y) ** 2).sum())


def closed_form_grads(weights, x, y) -> list[np.ndarray]:
    """dL/dW_i = (R W_k ... W_{i+1})^T h_{i-1} for L = sum (x W_1^T ... W_k^T - y)^2, R = 2 (output - y)."""
    inputs = [x]
    for w in weights:
        inputs.append(inputs[-1] @ w.T)
    upstream = 2 * (inputs[-1] - y)
    grads = [None] * len(weights)
    for i in reversed(range(len(weights))):
        grads[i] = upstream.T @ inputs[i]
        upstream = upstream @ weights[i]
    return grads


def finite_difference_grads(params: list[np.ndarray], loss, h: float = 1e-6) -> list[np.ndarray]:
    """Central differences of ``loss(params)`` for every entry of every array."""
    grads = []
    for p in params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            keep = p[idx]
            p[idx] = keep + h
            up = loss()
            p[idx] = keep - h
            down = loss()
            p[idx] = keep
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def measure(batchnorm: bool, seed: int = 0):
    """G and G' of layers 2..DEPTH from the script, its parameters before the step, and the data."""
    x, y = e3.dln_data(SAMPLES, WIDTH, seed)
    minigrad.manual_seed(seed)
    model = e3.deep_linear_net(DEPTH, WIDTH, batchnorm)
    before = [[p.numpy().copy() for p in group] for group in e3.layer_groups(model)]
    xt, yt = minigrad.tensor(x), minigrad.tensor(y)
    loss, measured = e3.gd_step_with_ics(model, lambda: ((model(xt) - yt) ** 2).sum(), LR,
                                         layers=range(2, DEPTH + 1))
    after = [[p.numpy().copy() for p in group] for group in e3.layer_groups(model)]
    return x, y, before, after, loss, measured


def test_g_and_g_shifted_match_the_closed_form_gradient():
    x, y, before, after, loss, measured = measure(batchnorm=False)
    weights = [group[0] for group in before]
    assert loss == pytest.approx(numpy_dln_loss(weights, [], [], x, y), rel=1e-12)
    grads = closed_form_grads(weights, x, y)
    for w, g, w_after in zip(weights, grads, [group[0] for group in after]):
        np.testing.assert_allclose(w_after, w - LR * g, rtol=1e-12, atol=1e-14)  # the real update
    for i, (g, g_shifted) in measured.items():
        np.testing.assert_allclose(g, grads[i - 1], rtol=1e-10, atol=1e-12)
        moved = [w - LR * gw for w, gw in zip(weights[: i - 1], grads)] + weights[i - 1:]
        expected = closed_form_grads(moved, x, y)[i - 1]
        np.testing.assert_allclose(g_shifted, expected, rtol=1e-10, atol=1e-12)
        # The step is large enough for the shift to matter, so the check can tell G' from G.
        assert e3.ics_measures(g, g_shifted)["rel"] > 1e-3


def test_g_and_g_shifted_with_batchnorm_match_finite_differences():
    """With BN, layer i's G' needs the update of the gammas and betas below it too."""
    x, y, before, after, loss, measured = measure(batchnorm=True)
    params = [p.copy() for group in before for p in group]  # per layer: W, then gamma and beta but the last

    def loss_of_params():
        weights, gammas, betas = params[0::3], params[1::3], params[2::3]
        return numpy_dln_loss(weights, gammas, betas, x, y)

    assert loss == pytest.approx(loss_of_params(), rel=1e-12)
    grads = finite_difference_grads(params, loss_of_params)
    np.testing.assert_allclose(np.concatenate([p.ravel() for group in after for p in group]),
                               np.concatenate([(p - LR * g).ravel() for p, g in zip(params, grads)]),
                               rtol=1e-6, atol=1e-8)
    start = params.copy()
    for i, (g, g_shifted) in measured.items():
        np.testing.assert_allclose(g, grads[3 * (i - 1)], rtol=1e-6, atol=1e-7)
        params[:] = [p - LR * gp for p, gp in zip(start[: 3 * (i - 1)], grads)] + start[3 * (i - 1):]
        expected = finite_difference_grads([params[3 * (i - 1)]], loss_of_params)[0]
        np.testing.assert_allclose(g_shifted, expected, rtol=1e-6, atol=1e-7)
        assert e3.ics_measures(g, g_shifted)["rel"] > 1e-3
    params[:] = start


def test_ics_measures():
    g = np.array([[3.0, 0.0], [0.0, 4.0]])
    assert e3.ics_measures(g, g) == {"l2": 0.0, "rel": 0.0, "cos": pytest.approx(1.0)}
    m = e3.ics_measures(g, np.array([[0.0, 4.0], [-3.0, 0.0]]))
    assert m["cos"] == pytest.approx(0.0) and m["rel"] == pytest.approx(np.sqrt(50) / 5)


def test_measuring_leaves_the_training_step_and_running_statistics_alone():
    """The extra forward passes for G' restore the moved parameters and BN's running statistics."""
    rng = np.random.default_rng(1)
    x, y = minigrad.tensor(rng.normal(size=(16, 6))), minigrad.tensor(rng.integers(0, 3, 16))
    measured_net, plain_net = (ics_common.twins((6, 5, 5, 4, 3), std=0.5, seed=2)[1] for _ in range(2))
    for net, layers in ((measured_net, (2, 3, 4)), (plain_net, ())):
        for _ in range(2):
            e3.gd_step_with_ics(net, lambda net=net: minigrad.nn.functional.cross_entropy(net(x), y), 0.5, layers)
    for (name, a), (_, b) in zip(measured_net.state_dict().items(), plain_net.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_quick_run_writes_json_and_figures(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(EXAMPLES / "bn_ics_gradients.py"), "--quick", "--no-progress",
                           "--digits", "--seed", "4", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DLN lr 1e-07 batchnorm" in done.stdout and "MLP standard" in done.stdout
    result = json.loads((tmp_path / "e3_ics_gradients.json").read_text())
    assert result["settings"]["args"]["seed"] == 4 and result["settings"]["args"]["quick"] is True
    config = result["config"]
    assert config["dln_lrs"] == [1e-6, 1e-7] and config["depth"] == 25 and config["samples"] == 1000
    assert config["dln_layers"] == [9, 17] and config["mlp_layers"] == [2, 3, 4]
    (run,) = result["runs"]
    assert run["seed"] == 4 and set(run["dln"]) == {"1e-06", "1e-07"}
    for log in [*run["dln"]["1e-06"].values(), *run["dln"]["1e-07"].values(), *run["mlp"].values()]:
        assert log["step"][0] == 0 and len(log["loss"]) == len(log["step"])
        for key in (k for k in log if k.startswith("layer")):
            assert len(log[key]["cos"]) == len(log["step"])
            assert all(-1 - 1e-12 <= c <= 1 + 1e-12 for c in log[key]["cos"])
            assert all(r >= 0 for r in log[key]["rel"])
    for name in ("e3_dln.png", "e3_mlp.png"):
        assert (tmp_path / name).stat().st_size > 1000
