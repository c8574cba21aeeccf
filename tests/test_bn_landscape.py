"""E4, ``examples/bn_landscape.py``: the Hessian-vector product against finite differences of the gradient
(float64), the probes against direct evaluation, numpy and numba agreeing, and a --quick smoke run."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import bn_landscape as e4  # noqa: E402
import ics_common  # noqa: E402

SIZES = (6, 5, 5, 4, 3)


def tiny_problem(batchnorm: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    x, y = minigrad.tensor(rng.normal(size=(12, SIZES[0]))), minigrad.tensor(rng.integers(0, 3, 12))
    net = ics_common.twins(SIZES, init="glorot", seed=seed)[int(batchnorm)]
    # Non-trivial BN parameters, so that gamma and beta enter the Hessian with values other than 1 and 0.
    with minigrad.no_grad():
        for p in net.parameters():
            if p.ndim == 1:
                p.add_(minigrad.tensor(rng.normal(scale=0.3, size=p.shape)))
    return net, (lambda: minigrad.nn.functional.cross_entropy(net(x), y))


@pytest.mark.parametrize("batchnorm", [False, True])
def test_hessian_vector_product_matches_finite_differences_of_the_gradient(batchnorm):
    net, loss_fn = tiny_problem(batchnorm)
    params = list(net.parameters())
    rng = np.random.default_rng(1)
    v = [minigrad.tensor(rng.normal(size=p.shape)) for p in params]
    hv = e4.hessian_vector_product(loss_fn, params, v)
    h = 1e-5
    with e4.moved(params, v, h):
        up = minigrad.grad(loss_fn(), params)
    with e4.moved(params, v, -h):
        down = minigrad.grad(loss_fn(), params)
    for p, exact, a, b in zip(params, hv, up, down):
        assert exact.dtype == minigrad.float64 and exact.shape == p.shape
        # central differences: error O(h^2) ~ 1e-10 here, rounding ~ 1e-16 / h ~ 1e-11
        np.testing.assert_allclose(exact.numpy(), (a.numpy() - b.numpy()) / (2 * h), rtol=1e-6, atol=1e-8)
    # kappa and ||Hg||/||g|| from one product along g itself.
    g = minigrad.grad(loss_fn(), params)
    hg = [t.numpy() for t in e4.hessian_vector_product(loss_fn, params, g)]
    g_np = [t.numpy() for t in g]
    g_sq = sum((a * a).sum() for a in g_np)
    curvature = e4.curvature_along(loss_fn, params, g)
    assert curvature["kappa"] == pytest.approx(sum((a * b).sum() for a, b in zip(g_np, hg)) / g_sq, rel=1e-12)
    assert curvature["hg_over_g"] == pytest.approx(np.sqrt(sum((b * b).sum() for b in hg) / g_sq), rel=1e-12)


def test_probes_match_direct_evaluation_and_restore_the_weights():
    net, loss_fn = tiny_problem(batchnorm=True)
    params = list(net.parameters())
    before = [p.numpy().copy() for p in params]
    g = minigrad.grad(loss_fn(), params)
    etas = [0.05, 0.4]
    probe = e4.probe_along_gradient(loss_fn, params, g, etas)
    for p, value in zip(params, before):
        np.testing.assert_array_equal(p.numpy(), value)
    for k, eta in enumerate(etas):
        other = copy.deepcopy(net)
        with minigrad.no_grad():
            for p, gp in zip(other.parameters(), g):
                p.copy_(p - eta * gp)
        rng = np.random.default_rng(0)
        x, y = minigrad.tensor(rng.normal(size=(12, SIZES[0]))), minigrad.tensor(rng.integers(0, 3, 12))
        loss = minigrad.nn.functional.cross_entropy(other(x), y)
        moved_grad = minigrad.grad(loss, list(other.parameters()))
        diff = np.sqrt(sum(((a.numpy() - b.numpy()) ** 2).sum() for a, b in zip(g, moved_grad)))
        g_norm = np.sqrt(sum((a.numpy() ** 2).sum() for a in g))
        assert probe["loss"][k] == pytest.approx(loss.item(), rel=1e-12)
        assert probe["grad_diff"][k] == pytest.approx(diff, rel=1e-10)
        assert probe["beta"][k] == pytest.approx(diff / (eta * g_norm), rel=1e-10)


def test_probing_changes_neither_the_step_nor_the_running_statistics():
    probed, plain = tiny_problem(batchnorm=True), tiny_problem(batchnorm=True)
    for _ in range(2):
        record = e4.step_with_landscape(probed[0], probed[1], 0.5, probe=True)
        e4.step_with_landscape(plain[0], plain[1], 0.5, probe=False)
    assert record["loss_range"] == [min(record["probe_loss"]), max(record["probe_loss"])]
    assert record["beta_max"] == max(record["beta"]) and len(record["beta"]) == len(e4.CS)
    # the finite difference at c = 1e-3 sits on the exact ||Hg||/||g||
    assert record["beta_check"] == pytest.approx(record["hg_over_g"], rel=1e-2)
    for (name, a), (_, b) in zip(probed[0].state_dict().items(), plain[0].state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_numpy_and_numba_give_the_same_numbers():
    pytest.importorskip("numba")
    pytest.importorskip("sklearn")
    data = ics_common.load_data(digits=True)
    data = ics_common.Data(data.x_train[:300], data.y_train[:300], data.x_test[:100], data.y_test[:100], "subset")
    logs = {}
    for backend in ("numpy", "numba"):
        with minigrad.backend(backend):
            logs[backend] = e4.train(data, True, seed=0, steps=12, every=5, lr=0.5, batch=30, init="glorot",
                                     init_std=0.01)
    for key in ("loss", "beta", "grad_diff", "probe_loss", "kappa", "hg_over_g", "beta_check", "test_acc"):
        np.testing.assert_allclose(logs["numba"][key], logs["numpy"][key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_quick_run_writes_json_and_figure(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(EXAMPLES / "bn_landscape.py"), "--quick", "--no-progress",
                           "--digits", "--seed", "2", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "measured, small scale" in done.stdout
    result = json.loads((tmp_path / "e4_landscape.json").read_text())
    assert "measured, small scale" in result["experiment"]
    assert result["settings"]["args"]["seed"] == 2 and result["settings"]["args"]["lr"] == 0.5
    assert result["config"]["cs"] == [0.5, 1.0, 2.0, 4.0] and result["config"]["steps"] == 30
    for variant in ("standard", "batchnorm"):
        log = result["runs"][variant]
        assert log["step"] == [0, 10, 20, 29]
        assert all(lo <= hi for lo, hi in log["loss_range"])
        assert all(b > 0 for b in log["beta_max"]) and all(np.isfinite(log["kappa"]))
        assert result["summary"][variant]["max_rel_gap_fd_vs_exact"] < 0.05
    assert (tmp_path / "e4_landscape.png").stat().st_size > 1000
