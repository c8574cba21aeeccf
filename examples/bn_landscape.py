"""E4 (exploratory, measured at small scale): the loss landscape along the gradient, with and without BatchNorm.

    python examples/bn_landscape.py                       # the sigmoid MLP on scikit-learn's digits, ~a minute
    python examples/bn_landscape.py --quick --out /tmp/e4 # a few-second smoke run

Santurkar et al. (§3, App. A.2.2) probe, at a training step with mini-batch gradient g, the points
w - eta g for eta = c * lr, c in {0.5, 1, 2, 4}, on the same batch, and plot three measures against the step:
- loss variation: the range over eta of L(w - eta g);
- gradient predictiveness: the range over eta of ||g - grad L(w - eta g)||;
- effective beta-smoothness: the largest ||g - grad L(w - eta g)|| / ||eta g|| over eta.
The script adds the exact curvature along the gradient, kappa = g^T H g / ||g||^2, and ||H g|| / ||g|| (the
limit of the effective beta as eta -> 0), from a Hessian-vector product through minigrad's double backward:
H g = grad(<grad L, g>) with g held constant. A probe at c = 1e-3 checks that the finite difference meets it.

Both nets (sigmoid MLP, with and without BN before each sigmoid) start from the same weights and see the same
batches of 60 (plain SGD, lr 0.5). BN's running statistics are restored after every probe. Figure:
e4_landscape.png; numbers and settings: e4_landscape.json.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import ics_common as common
import numpy as np
from bn_ics_gradients import moved

import minigrad
from minigrad import nn

CS = (0.5, 1.0, 2.0, 4.0)
CHECK_C = 1e-3
VARIANTS = ("standard", "batchnorm")
COLORS = {"standard": "tab:blue", "batchnorm": "tab:red"}


# -- the measures -----------------------------------------------------------------------------------
def _norm(tensors) -> float:
    return float(np.sqrt(sum(float((t.numpy() ** 2).sum()) for t in tensors)))


def _dot(a, b) -> float:
    return float(sum(np.vdot(x.numpy(), y.numpy()) for x, y in zip(a, b)))


def hessian_vector_product(loss_fn, params, vectors) -> tuple:
    """H v for the Hessian of ``loss_fn()`` in ``params``: the gradient of <grad L, v> with v held constant,
    through the recorded backward pass (double backward)."""
    grads = minigrad.grad(loss_fn(), params, create_graph=True)
    inner = sum((g * v.detach()).sum() for g, v in zip(grads, vectors))
    return minigrad.grad(inner, params)


def curvature_along(loss_fn, params, g) -> dict:
    """kappa = g^T H g / ||g||^2 and ||H g|| / ||g||, exactly (one Hessian-vector product)."""
    hg = hessian_vector_product(loss_fn, params, g)
    g_sq = _dot(g, g)
    return {"kappa": _dot(g, hg) / g_sq, "hg_over_g": _norm(hg) / np.sqrt(g_sq)}


def probe_along_gradient(loss_fn, params, g, etas) -> dict:
    """L(w - eta g) and ||g - grad L(w - eta g)|| (and that over ||eta g||) for each eta; w is restored."""
    g_norm = _norm(g)
    losses, diffs, betas = [], [], []
    for eta in etas:
        with moved(params, g, -eta):
            loss = loss_fn()
            grads = minigrad.grad(loss, params)
        diff = _norm([a - b for a, b in zip(g, grads)])
        losses.append(loss.item())
        diffs.append(diff)
        betas.append(diff / (eta * g_norm))
    return {"loss": losses, "grad_diff": diffs, "beta": betas}


def step_with_landscape(model: nn.Module, loss_fn, lr: float, cs=CS, check_c: float = CHECK_C,
                        probe: bool = True) -> dict:
    """One plain SGD step; with ``probe``, first the three measures at eta = c * lr on the same batch, the
    finite difference at ``check_c`` and the exact curvature. BN running statistics change only by the step."""
    params = list(model.parameters())
    loss = loss_fn()
    g = minigrad.grad(loss, params)
    record = {"loss": loss.item()}
    if probe:
        with common.running_stats_frozen(model):
            along = probe_along_gradient(loss_fn, params, g, [c * lr for c in (*cs, check_c)])
            record.update(curvature_along(loss_fn, params, g))
        probe_loss, grad_diff, beta = along["loss"][:-1], along["grad_diff"][:-1], along["beta"][:-1]
        record.update({"g_norm": _norm(g), "probe_loss": probe_loss, "grad_diff": grad_diff, "beta": beta,
                       "loss_range": [min(probe_loss), max(probe_loss)],
                       "grad_diff_range": [min(grad_diff), max(grad_diff)],
                       "beta_max": max(beta), "beta_check": along["beta"][-1]})
    with minigrad.no_grad():
        for p, d in zip(params, g):
            p.sub_(d * lr)
    return record


# -- training ---------------------------------------------------------------------------------------

def train(data: common.Data, batchnorm: bool, seed: int, steps: int, every: int, lr: float, batch: int,
          init: str, init_std: float, bar=None) -> dict:
    """Plain SGD; the landscape measures every ``every`` steps and at the last, held-out accuracy with them."""
    sizes = (data.n_features, *common.MLP_SIZES[1:])
    model = common.twins(sizes, init=init, std=init_std, seed=seed)[int(batchnorm)]
    log: dict = {"step": [], "test_acc": []}
    for step, idx in enumerate(common.batch_indices(len(data.y_train), batch, steps, seed)):
        x, y = minigrad.tensor(data.x_train[idx]), minigrad.tensor(data.y_train[idx])
        probe = step % every == 0 or step == steps - 1
        record = step_with_landscape(model, partial(common.cross_entropy, model, x, y), lr, probe=probe)
        if probe:
            log["step"].append(step)
            log["test_acc"].append(common.accuracy(model, data.x_test, data.y_test))
            for key, value in record.items():
                log.setdefault(key, []).append(value)
        if bar is not None:
            bar.update()
    return log


# -- figure -----------------------------------------------------------------------------------------
def plot(logs: dict, config: dict, data_name: str, path: Path) -> Path:
    plt = common.pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    (ax_lv, ax_gp, ax_beta), (ax_loss, ax_matched, ax_check) = axes
    for variant, log in logs.items():
        color, steps = COLORS[variant], log["step"]
        for ax, key in ((ax_lv, "loss_range"), (ax_gp, "grad_diff_range")):
            lo, hi = np.array(log[key]).T
            ax.fill_between(steps, lo, hi, color=color, alpha=0.35, lw=0, label=variant)
        ax_beta.plot(steps, log["beta_max"], color=color, lw=1, label=f"{variant}: effective beta (max over c)")
        ax_beta.plot(steps, log["hg_over_g"], "--", color=color, lw=1, label=f"{variant}: ||Hg||/||g|| (exact)")
        ax_beta.plot(steps, np.abs(log["kappa"]), ":", color=color, lw=1,
                     label=f"{variant}: |g'Hg|/||g||^2 (exact)")
        ax_loss.plot(steps, log["loss"], color=color, lw=1, label=f"{variant}: training loss (batch)")
        ax_matched.plot(log["loss"], log["beta_max"], ".", ms=3, color=color, label=f"{variant}: effective beta")
        ax_matched.plot(log["loss"], np.array(log["grad_diff_range"])[:, 1], "x",
                        ms=3, color=color, alpha=0.5, label=f"{variant}: max ||g - grad L(w - eta g)||")
        ax_check.loglog(log["hg_over_g"], log["beta_check"], ".", ms=4, color=color,
                        label=f"{variant}: c = {config['check_c']:g}")
        ax_check.loglog(log["hg_over_g"], log["beta_max"], "x", ms=3, color=color, alpha=0.5,
                        label=f"{variant}: max over c in {list(config['cs'])}")
    lims = [min(ax_check.get_xlim()[0], ax_check.get_ylim()[0]), max(ax_check.get_xlim()[1], ax_check.get_ylim()[1])]
    ax_check.plot(lims, lims, "k-", lw=0.6, label="y = x")
    ax_lv.set(title="loss variation: range over eta of L(w - eta g)", ylabel="loss", yscale="log")
    ax_gp.set(title="gradient predictiveness: range of ||g - grad L(w - eta g)||", yscale="log")
    ax_beta.set(title="effective beta-smoothness and exact curvature along g", yscale="log")
    ax_loss.set(title="training loss", xlabel="step", yscale="log")
    ax_matched.set(title="at matched loss", xlabel="training loss at the step", xscale="log", yscale="log")
    ax_check.set(title="finite-difference beta against exact ||Hg||/||g||", xlabel="||Hg|| / ||g|| (double backward)",
                 ylabel="||g - grad L(w - eta g)|| / ||eta g||")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)
        ax.legend(fontsize=6)
    for ax in (ax_lv, ax_gp, ax_beta):
        ax.set_xlabel("step")
    fig.suptitle(f"E4 (exploratory; measured, small scale): sigmoid MLP on {data_name}, SGD lr {config['lr']}, "
                 f"batch {config['batch']}, eta = c * lr, c in {list(config['cs'])}", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path, dpi=70)


def summarize(logs: dict) -> dict:
    """Medians over the probed steps, and the largest relative gap between the c = 1e-3 finite difference and
    the exact ||Hg||/||g||."""
    out = {}
    for variant, log in logs.items():
        gap = np.abs(np.array(log["beta_check"]) - np.array(log["hg_over_g"])) / np.array(log["hg_over_g"])
        out[variant] = {
            "final_loss": log["loss"][-1], "final_test_acc": log["test_acc"][-1],
            "median_loss_variation": float(np.median(np.diff(log["loss_range"], axis=1))),
            "median_max_grad_diff": float(np.median(np.array(log["grad_diff_range"])[:, 1])),
            "median_beta_max": float(np.median(log["beta_max"])),
            "median_hg_over_g": float(np.median(log["hg_over_g"])),
            "median_kappa": float(np.median(log["kappa"])),
            "max_rel_gap_fd_vs_exact": float(gap.max()),
        }
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = common.make_parser(__doc__.splitlines()[0], steps=1000, quick_steps=30)
    parser.add_argument("--lr", type=float, default=0.5, help="SGD learning rate (default: 0.5)")
    parser.add_argument("--every", type=int, default=None, help="probe every N steps (default: 25, 10 with --quick)")
    parser.add_argument("--batch", type=int, default=60, help="batch size (default: 60)")
    parser.add_argument("--init", choices=("glorot", "normal"), default="glorot",
                        help="initial weights: Glorot uniform (default, as Santurkar et al.) or N(0, init_std^2)")
    parser.add_argument("--init-std", type=float, default=0.01, help="std for --init normal (default: 0.01)")
    args = common.parse(parser, argv)
    if args.every is None:
        args.every = 10 if args.quick else 25
    started = time.perf_counter()
    data = common.load_data(args.data_dir, digits=args.digits, download=args.download)
    if args.quick:
        data = common.quick_subset(data)
    config = {"steps": args.steps, "every": args.every, "lr": args.lr, "batch": args.batch, "cs": list(CS),
              "check_c": CHECK_C, "init": args.init, "init_std": args.init_std}
    bar = common.progress(2 * args.steps, args.progress, desc="E4")
    logs = {v: train(data, v == "batchnorm", args.seed, args.steps, args.every, args.lr, args.batch, args.init,
                     args.init_std, bar) for v in VARIANTS}
    bar.close()
    elapsed = time.perf_counter() - started
    out = Path(args.out)
    figure = plot(logs, config, data.name, out / "e4_landscape.png")
    summary = summarize(logs)
    common.write_json(out / "e4_landscape.json", {
        "experiment": "E4 loss landscape along the gradient (exploratory; measured, small scale)",
        "settings": common.settings(args, data), "config": config, "summary": summary, "seconds": elapsed,
        "runs": logs})
    print(f"E4 (measured, small scale) on {data.name}, {args.steps} steps, {elapsed:.0f} s; medians over probes:")
    for v, s in summary.items():
        print(f"  {v:9}: final loss {s['final_loss']:.3g}, held-out acc {s['final_test_acc']:.3f}; "
              f"loss variation {s['median_loss_variation']:.3g}, max ||g - g_eta|| {s['median_max_grad_diff']:.3g}, "
              f"effective beta {s['median_beta_max']:.3g}, exact ||Hg||/||g|| {s['median_hg_over_g']:.3g}, "
              f"kappa {s['median_kappa']:.3g}; finite difference at c = {CHECK_C:g} within "
              f"{s['max_rel_gap_fd_vs_exact']:.1%} of exact")
    print(f"wrote {figure}, {out / 'e4_landscape.json'}")
    return summary


if __name__ == "__main__":
    main()
