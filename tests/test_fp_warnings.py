"""Ops compute IEEE results (inf, NaN) without NumPy's floating-point warnings, as PyTorch does.

A script or test suite that runs quietly on PyTorch must not warn, or fail under a ``warnings`` "error"
filter, on minigrad (minigrad/_quiet.py). Every spec'd op is run forward and backward on inputs salted with
0, -1, +-inf, NaN and huge values under such a filter, on every CPU backend; so are the optimizers and the
in-place arithmetic that bypass ``Function.apply``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _lazy_torch import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from op_specs import SPECS

import minigrad as mg
from minigrad import optim
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention
from minigrad.testing import available_backends

SALT = np.array([0.0, -1.0, np.inf, -np.inf, np.nan, 1e30, -0.0, 700.0, -700.0])
BACKENDS = sorted(available_backends())


def floating_point_warning(fn) -> RuntimeWarning | None:
    """The RuntimeWarning that ``fn()`` raises under an "error" filter (None if none); other errors (an op
    refusing a non-finite input, say) are not this test's concern."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            fn()
        except RuntimeWarning as w:
            return w
        except Exception:  # noqa: BLE001 - see the docstring
            return None
    return None


def test_the_probe_sees_numpys_warnings():
    assert floating_point_warning(lambda: np.log(np.zeros(2))) is not None
    assert floating_point_warning(lambda: np.log(np.ones(2))) is None


def salted(case, rng) -> list[np.ndarray]:
    """The case's arrays with up to three floating entries each replaced by values from SALT."""
    arrays = []
    for a in case.arrays:
        a = np.array(a)
        if a.dtype.kind == "f" and a.size:
            flat = a.reshape(-1)
            where = rng.choice(flat.size, size=min(flat.size, 3), replace=False)
            flat[where] = rng.choice(SALT, size=where.size)
        arrays.append(a)
    return arrays


def forward_backward(spec, case, arrays, rng, backend) -> None:
    with mg.backend(backend):
        inputs = [mg.tensor(a, requires_grad=bool(m and a.dtype.kind == "f")) for a, m in zip(arrays, case.grad_mask())]
        out = spec.call(*inputs, **case.kwargs)
        loss = None
        for o in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(o, mg.Tensor) and o.requires_grad:
                term = (o * mg.tensor(rng.standard_normal(o.shape), dtype=o.dtype)).sum()
                loss = term if loss is None else loss + term
        if loss is not None:
            loss.backward()


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_spec_op_warns_on_non_finite_or_out_of_domain_inputs(backend):
    warned: dict[str, str] = {}

    def sweep(spec):
        @settings(max_examples=2, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=spec.case(np.dtype("float64"), 12), seed=st.integers(0, 2**32 - 1))
        def run(case, seed):
            rng = np.random.default_rng(seed)
            w = floating_point_warning(lambda: forward_backward(spec, case, salted(case, rng), rng, backend))
            if w is not None:
                warned.setdefault(spec.name, str(w))

        run()

    for spec in SPECS:
        sweep(spec)
    assert not warned, f"ops that let NumPy warn on {backend}: {warned}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_domain_edges_are_ieee_and_silent(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with mg.backend(backend):
            x = mg.tensor([0.0, -1.0, 4.0], dtype=mg.float64, requires_grad=True)
            y = mg.log(x) + mg.sqrt(x) + 1.0 / x
            y.backward(mg.tensor([0.5, -2.0, 1.5], dtype=mg.float64))
            z = mg.tensor([1.0, 0.0, -1.0])
            z.div_(mg.tensor([0.0, 0.0, 0.0]))  # the untracked in-place kernel, outside Function.apply
    assert np.array_equal(y.numpy(), [np.nan, np.nan, np.log(4.0) + 2.0 + 0.25], equal_nan=True)
    assert np.isnan(x.grad.numpy()[:2]).all()
    assert x.grad.numpy()[2] == pytest.approx(1.5 * (0.25 + 0.25 - 1 / 16))
    assert np.array_equal(z.numpy(), [np.inf, np.nan, -np.inf], equal_nan=True)


def test_the_users_numpy_error_state_is_untouched():
    before = np.geterr()
    mg.log(mg.tensor([0.0])).sum()
    assert np.geterr() == before
    assert floating_point_warning(lambda: np.log(np.zeros(1))) is not None  # their own NumPy code still warns
    with np.errstate(divide="raise"):
        assert np.isneginf(mg.log(mg.tensor([0.0])).item())  # ops: IEEE results, as PyTorch
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))
        assert np.geterr()["divide"] == "raise"


def test_detect_anomaly_still_names_the_op_that_made_a_nan():
    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match="(?i)log"):
        mg.log(mg.tensor([-1.0]))


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adagrad", "SGD"])
def test_an_optimizer_step_with_non_finite_gradients_is_whole_under_an_error_filter(name):
    def run(error: bool):
        mg.manual_seed(0)
        params = [mg.tensor(np.linspace(-1, 1, 6), requires_grad=True) for _ in range(3)]
        opt = getattr(optim, name)(params, lr=0.1)
        for p, g in zip(params, ([np.inf, 0, 1, 2, 3, 4], [0.0, 0, np.nan, 1, 1, 1], [1.0, 2, 3, 4, 5, 6])):
            p.grad = mg.tensor(np.array(g))
        with warnings.catch_warnings():
            warnings.simplefilter("error" if error else "ignore")
            opt.step()
        return [p.detach().numpy() for p in params]

    for strict, lax in zip(run(error=True), run(error=False)):
        assert np.array_equal(strict, lax, equal_nan=True)


def test_grid_sample_puts_non_finite_coordinates_where_pytorch_does():
    """Border and reflection padding clip NaN (and the NaN that reflecting an infinity gives) to 0, as
    PyTorch's clip; zeros padding leaves them outside. Silent under an error filter."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    grid = np.array([[[[np.nan, 0.2], [0.1, 0.3]], [[0.5, np.nan], [np.inf, 0.3]], [[-np.inf, 0.3], [-1e30, 1e30]]]])
    for align in (False, True):
        for mode in ("bilinear", "nearest"):
            for padding in ("zeros", "border", "reflection"):
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    ours = F.grid_sample(mg.tensor(x), mg.tensor(grid), mode=mode, padding_mode=padding,
                                         align_corners=align).numpy()
                theirs = torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(grid), mode=mode,
                                                         padding_mode=padding, align_corners=align).numpy()
                np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, equal_nan=True,
                                           err_msg=f"{mode} {padding} align_corners={align}")


def test_a_script_with_default_warnings_prints_none(tmp_path):
    """In a plain script (no pytest filters around the import), minigrad's own NumPy warnings are filtered out,
    and so are those of an op under ``python -W error``."""
    import subprocess
    import sys

    script = ("import minigrad as mg\n"
              "x = mg.tensor([0.0, -1.0], requires_grad=True)\n"
              "(mg.log(x) + 1.0 / x).sum().backward()\n"
              "import numpy as np\n"
              "np.log(np.zeros(1))  # the script's own NumPy call still warns\n")
    for flags in ([], ["-W", "error::RuntimeWarning"]):
        run = subprocess.run([sys.executable, *flags, "-c", script], capture_output=True, text=True, timeout=120)
        if flags:
            assert run.returncode != 0 and run.stderr.count("RuntimeWarning") == 1  # only the script's own line
            assert "np.log(np.zeros(1))" in run.stderr or "<string>" in run.stderr
        else:
            assert run.returncode == 0, run.stderr
            assert run.stderr.count("RuntimeWarning") == 1 and "<string>:5" in run.stderr, run.stderr


def test_pytest_ignores_the_same_warnings_as_the_import_time_filter():
    """pyproject's ``filterwarnings`` repeats ``_quiet``'s filter (pytest drops filters a test installs): the
    two must name the same modules, or the tests would show, or hide, other warnings than users see."""
    from pathlib import Path

    from minigrad._quiet import OWN_MODULES

    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert f"'ignore::RuntimeWarning:{OWN_MODULES}'" in pyproject
