"""E3: internal covariate shift as Santurkar et al. define it (Def. 2.1), with and without BatchNorm.

    python examples/bn_ics_gradients.py --data-dir ../shared/data/mnist      # the full run
    python examples/bn_ics_gradients.py --quick --out /tmp/e3                # a few-second smoke run
    python examples/bn_ics_gradients.py --seeds 3                            # seeds 0..2, in parallel

At step t, G is the gradient of layer i's weight W_i on the step's batch, and G' the gradient of W_i on the
same batch after the real update of every layer below i (weights, biases and BatchNorm's gamma and beta).
If the inputs of layer i moved in a way that mattered to it, G' differs from G. The script reports
||G - G'|| / ||G|| (0 without shift) and cos(G, G') (1 without shift) on two networks:

(a) Santurkar et al.'s deep linear network (their App. A): 25 bias-free 10x10 linear maps, Glorot
    initialisation, fitting y = A x on 1000 Gaussian samples, loss summed over the samples, full-batch
    gradient descent at learning rates 1e-6 and 1e-7; with BN, a BatchNorm after every map but the last.
    Layers 9 and 17 are measured every ``--every`` steps.
(b) The sigmoid MLP of E1 (N(0, 0.01^2) initialisation, batch 60, plain SGD), layers 2, 3 and 4 (the output
    layer) every ``--mlp-every`` steps.

Figures: e3_dln.png and e3_mlp.png (training loss, the two ICS measures against the step and, for comparing
at matched loss, against the training loss). Numbers and settings: e3_ics_gradients.json.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import ics_common as common
import numpy as np

import minigrad
from minigrad import nn

DLN_LRS = (1e-6, 1e-7)
DLN_LAYERS = (9, 17)
MLP_LAYERS = (2, 3, 4)
VARIANTS = ("standard", "batchnorm")


# -- networks ---------------------------------------------------------------------------------------
def deep_linear_net(depth: int, width: int, batchnorm: bool) -> nn.Sequential:
    """``depth`` bias-free ``width`` x ``width`` linear maps, Glorot uniform; with ``batchnorm`` a BatchNorm
    (batch statistics only) after every map but the last, whose output must reach the target's scale."""
    layers: list[nn.Module] = []
    for i in range(depth):
        linear = nn.Linear(width, width, bias=False, dtype="float64")
        nn.init.xavier_uniform_(linear.weight)
        layers.append(linear)
        if batchnorm and i < depth - 1:
            layers.append(nn.BatchNorm1d(width, track_running_stats=False, dtype="float64"))
    return nn.Sequential(*layers)


def dln_data(samples: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, I) (samples, width) and the targets y = A x with A ~ N(0, 1) entries."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((width, width))
    x = rng.standard_normal((samples, width))
    return x, x @ a.T


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """Each layer's parameters in forward order: a ``Linear`` opens a layer (weight first), and the BatchNorm
    after it (gamma, beta) belongs to it."""
    groups: list[list[nn.Parameter]] = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            groups.append([p for p in (module.weight, module.bias) if p is not None])
        elif isinstance(module, nn.BatchNorm1d) and module.affine:
            groups[-1] += [module.weight, module.bias]
    return groups


# -- the measurement --------------------------------------------------------------------------------
def gd_step_with_ics(model: nn.Module, loss_fn, lr: float, layers=()) -> tuple[float, dict]:
    """One plain gradient-descent step ``p -= lr * grad``, measuring Def. 2.1 for ``layers`` (1-based) first.

    Returns the loss before the step and ``{i: (G, G')}`` as arrays: G = dL/dW_i, G' = dL/dW_i on the same
    batch with layers 1..i-1 (all their parameters) moved by this step's update. BN running statistics are
    restored after the extra forward passes, so only the real step updates them.
    """
    groups = layer_groups(model)
    params = [p for group in groups for p in group]
    loss = loss_fn()
    grads = minigrad.grad(loss, params)
    measured = {}
    for i in layers:
        below = sum(len(group) for group in groups[: i - 1])
        weight_grad = grads[below]  # a layer's weight comes first in its group
        with common.running_stats_frozen(model), moved(params[:below], grads[:below], -lr):
            shifted = minigrad.grad(loss_fn(), [groups[i - 1][0]])[0]
        measured[i] = (weight_grad.numpy().copy(), shifted.numpy().copy())
    with minigrad.no_grad():
        for p, g in zip(params, grads):
            p.sub_(g * lr)
    return loss.item(), measured


@contextlib.contextmanager
def moved(params, directions, scale: float) -> Iterator[None]:
    """Each parameter moved by ``scale * direction`` inside the block, and restored exactly on exit."""
    saved = [p.detach().clone() for p in params]
    with minigrad.no_grad():
        for p, d in zip(params, directions):
            p.add_(d * scale)
    try:
        yield
    finally:
        with minigrad.no_grad():
            for p, value in zip(params, saved):
                p.copy_(value)


def ics_measures(g: np.ndarray, g_shifted: np.ndarray) -> dict:
    """||G - G'|| (Santurkar's l2), ||G - G'|| / ||G|| and cos(G, G')."""
    diff = float(np.linalg.norm(g - g_shifted))
    norm, norm_shifted = float(np.linalg.norm(g)), float(np.linalg.norm(g_shifted))
    return {"l2": diff, "rel": diff / norm if norm else float("nan"),
            "cos": float(np.vdot(g, g_shifted) / (norm * norm_shifted)) if norm and norm_shifted else float("nan")}


# -- training runs ----------------------------------------------------------------------------------
def _record(log: dict, step: int, loss: float, measured: dict) -> None:
    log["step"].append(step)
    log["loss"].append(loss)
    for i, (g, g_shifted) in measured.items():
        for key, value in ics_measures(g, g_shifted).items():
            log[f"layer{i}"][key].append(value)


def train_dln(lr: float, batchnorm: bool, seed: int, steps: int, every: int, depth: int, width: int,
              samples: int, layers=DLN_LAYERS, bar=None) -> dict:
    """Full-batch GD on the deep linear network; loss and ICS every ``every`` steps, the loss after the last."""
    x, y = dln_data(samples, width, seed)
    minigrad.manual_seed(seed)
    model = deep_linear_net(depth, width, batchnorm)
    xt, yt = minigrad.tensor(x), minigrad.tensor(y)

    def loss_fn():
        return ((model(xt) - yt) ** 2).sum()

    log = {"step": [], "loss": [], **{f"layer{i}": {"l2": [], "rel": [], "cos": []} for i in layers}}
    for step in range(steps):
        measure = step % every == 0
        loss, measured = gd_step_with_ics(model, loss_fn, lr, layers if measure else ())
        if measure:
            _record(log, step, loss, measured)
        if not np.isfinite(loss):
            log["diverged_at"] = step
            break
        if bar is not None:
            bar.update()
    with minigrad.no_grad():
        log["final_loss"] = float(loss_fn().item())
    return log



def train_mlp(data: common.Data, batchnorm: bool, seed: int, steps: int, every: int, lr: float,
              init_std: float, batch: int, layers=MLP_LAYERS, bar=None) -> dict:
    """Plain SGD on E1's sigmoid MLP; ICS, loss and held-out accuracy every ``every`` steps."""
    sizes = (data.n_features, *common.MLP_SIZES[1:])
    model = common.twins(sizes, init="normal", std=init_std, seed=seed)[int(batchnorm)]
    log = {"step": [], "loss": [], "test_acc": [],
           **{f"layer{i}": {"l2": [], "rel": [], "cos": []} for i in layers}}
    for step, idx in enumerate(common.batch_indices(len(data.y_train), batch, steps, seed)):
        batch_loss = partial(common.cross_entropy, model, minigrad.tensor(data.x_train[idx]),
                             minigrad.tensor(data.y_train[idx]))
        measure = step % every == 0 or step == steps - 1
        loss, measured = gd_step_with_ics(model, batch_loss, lr, layers if measure else ())
        if measure:
            _record(log, step, loss, measured)
            log["test_acc"].append(common.accuracy(model, data.x_test, data.y_test))
        if bar is not None:
            bar.update()
    log["final_test_acc"] = common.accuracy(model, data.x_test, data.y_test)
    return log


def run_task(task: tuple, config: dict, data: common.Data, progress: bool) -> dict:
    """One training run, ``(seed, "dln", lr, variant)`` or ``(seed, "mlp", None, variant)``; each depends only
    on its task, so a sweep gives the same numbers whatever the number of workers."""
    seed, net, lr, variant = task
    c = config
    steps = c["steps"] if net == "dln" else c["mlp_steps"]
    bar = common.progress(steps, progress, desc=f"E3 seed {seed} {net} {variant}" + (f" lr {lr:g}" if lr else ""))
    started, cpu_started = time.perf_counter(), time.process_time()
    if net == "dln":
        log = train_dln(lr, variant == "batchnorm", seed, steps, c["every"], c["depth"], c["width"],
                        c["samples"], bar=bar)
    else:
        log = train_mlp(data, variant == "batchnorm", seed, steps, c["mlp_every"], c["mlp_lr"], c["init_std"],
                        c["batch"], bar=bar)
    bar.close()
    log["seconds"] = time.perf_counter() - started
    log["cpu_seconds"] = time.process_time() - cpu_started
    return log


def sweep(seeds, config: dict, data: common.Data, progress: bool = True, n_jobs: int | None = None
          ) -> list[dict]:
    """Every run of every seed (the DLN at each learning rate and the MLP, without and with BN), spread over
    ``n_jobs`` processes; one result per seed, ``{"seed", "dln": {lr: {variant: log}}, "mlp": {variant: log}}``."""
    # The slowest runs (the DLN with its 24 BatchNorms) first, so that the workers finish together.
    tasks = [(seed, "dln", lr, v) for v in reversed(VARIANTS) for seed in seeds for lr in config["dln_lrs"]]
    tasks += [(seed, "mlp", None, v) for seed in seeds for v in VARIANTS]
    logs = dict(zip(tasks, common.run_seeds(partial(run_task, config=config, data=data, progress=progress),
                                            tasks, n_jobs)))
    return [{"seed": seed,
             "dln": {f"{lr:g}": {v: logs[(seed, "dln", lr, v)] for v in VARIANTS} for lr in config["dln_lrs"]},
             "mlp": {v: logs[(seed, "mlp", None, v)] for v in VARIANTS}} for seed in seeds]


# -- figures ----------------------------------------------------------------------------------------

COLORS = {"standard": "tab:blue", "batchnorm": "tab:red"}
STYLES = ("-", "--", ":")
MARKERS = (".", "x", "+")


def _ics_panels(axes, runs_by_variant: dict, layers, title: str) -> None:
    """Rows: training loss, ||G-G'||/||G||, cos(G, G'), and ||G-G'||/||G|| against the training loss."""
    ax_loss, ax_rel, ax_cos, ax_matched = axes
    for variant, runs in runs_by_variant.items():
        n = min(len(r["step"]) for r in runs)
        steps = runs[0]["step"][:n]
        color = COLORS[variant]
        common.band(ax_loss, steps, [r["loss"][:n] for r in runs], variant, color)
        for layer, style, marker in zip(layers, STYLES, MARKERS):
            label = f"{variant}, layer {layer}"
            common.band(ax_rel, steps, [r[f"layer{layer}"]["rel"][:n] for r in runs], label, color, style)
            common.band(ax_cos, steps, [r[f"layer{layer}"]["cos"][:n] for r in runs], label, color, style)
            for k, r in enumerate(runs):
                ax_matched.plot(r["loss"][:n], r[f"layer{layer}"]["rel"][:n], marker, color=color, ms=3,
                                alpha=0.6, label=label if k == 0 else None)
    ax_loss.set_title(title, fontsize=9)
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("training loss")
    ax_rel.set_yscale("log")
    ax_rel.set_ylabel("||G - G'|| / ||G||")
    ax_cos.set_ylabel("cos(G, G')")
    ax_cos.set_xlabel("step")
    ax_matched.set_xscale("log")
    ax_matched.set_yscale("log")
    ax_matched.set_xlabel("training loss at the step (matched loss)")
    ax_matched.set_ylabel("||G - G'|| / ||G||")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    ax_loss.legend(fontsize=7)
    ax_rel.legend(fontsize=6)


def plot_dln(results: list[dict], config: dict, path: Path) -> Path:
    plt = common.pyplot()
    lrs = list(results[0]["dln"])
    fig, axes = plt.subplots(4, len(lrs), figsize=(5 * len(lrs), 11), squeeze=False)
    for col, lr in enumerate(lrs):
        runs = {v: [r["dln"][lr][v] for r in results] for v in VARIANTS}
        _ics_panels(axes[:, col], runs, config["dln_layers"],
                    f"deep linear network, {config['depth']} layers, full-batch GD, lr {lr}")
    fig.suptitle(f"E3 (a): ICS as Santurkar et al. define it (Def. 2.1), {len(results)} seed(s); "
                 "median, min-max shaded", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def plot_mlp(results: list[dict], config: dict, data_name: str, path: Path) -> Path:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    runs = {v: [r["mlp"][v] for r in results] for v in VARIANTS}
    _ics_panels(axes, runs, config["mlp_layers"],
                f"sigmoid MLP (E1), SGD lr {config['mlp_lr']}, batch {config['batch']}")
    fig.suptitle(f"E3 (b): ICS (Def. 2.1) in the MLP on {data_name}, {len(results)} seed(s)", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


# -- summary ----------------------------------------------------------------------------------------
def summarize(results: list[dict], config: dict) -> dict:
    """Per run: median over the measurements of rel and cos, and the final loss; medians over seeds."""
    def stats(logs, layers):
        out = {"final_loss": float(np.median([log["final_loss"] if "final_loss" in log else log["loss"][-1]
                                               for log in logs]))}
        for i in layers:
            for key in ("rel", "cos"):
                out[f"layer{i}_{key}_median"] = float(np.median([np.nanmedian(log[f"layer{i}"][key])
                                                                 for log in logs]))
        if "final_test_acc" in logs[0]:
            out["final_test_acc"] = float(np.median([log["final_test_acc"] for log in logs]))
        return out

    summary = {"dln": {}, "mlp": {}}
    for lr in results[0]["dln"]:
        summary["dln"][lr] = {v: stats([r["dln"][lr][v] for r in results], config["dln_layers"])
                              for v in VARIANTS}
    summary["mlp"] = {v: stats([r["mlp"][v] for r in results], config["mlp_layers"]) for v in VARIANTS}
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = common.make_parser(__doc__.splitlines()[0], steps=10_000, quick_steps=60, seeds=True)
    parser.add_argument("--lrs", type=float, nargs="+", default=list(DLN_LRS),
                        help="DLN learning rates (default: 1e-6 1e-7)")
    parser.add_argument("--every", type=int, default=None, help="DLN: measure every N steps (default: 100)")
    parser.add_argument("--depth", type=int, default=25, help="DLN layers (default: 25)")
    parser.add_argument("--width", type=int, default=10, help="DLN width (default: 10)")
    parser.add_argument("--samples", type=int, default=1000, help="DLN samples, one full batch (default: 1000)")
    parser.add_argument("--mlp-steps", type=int, default=None, help="MLP SGD steps (default: 3000, 50 with --quick)")
    parser.add_argument("--mlp-every", type=int, default=25, help="MLP: measure every N steps (default: 25)")
    parser.add_argument("--mlp-lr", type=float, default=1.0, help="MLP learning rate (default: 1.0, as E1)")
    parser.add_argument("--init-std", type=float, default=0.01, help="MLP init std (default: 0.01, as E1)")
    parser.add_argument("--batch", type=int, default=60, help="MLP batch size (default: 60)")
    args = common.parse(parser, argv)
    if args.every is None:
        args.every = 20 if args.quick else 100
    if args.mlp_steps is None:
        args.mlp_steps = 50 if args.quick else 3000
    if max(DLN_LAYERS) > args.depth:
        parser.error(f"--depth {args.depth}: the DLN must have at least {max(DLN_LAYERS)} layers")
    data = common.load_data(args.data_dir, digits=args.digits, download=args.download)
    if args.quick:
        data = common.quick_subset(data)
    config = {"steps": args.steps, "every": args.every, "dln_lrs": args.lrs, "dln_layers": list(DLN_LAYERS),
              "depth": args.depth, "width": args.width, "samples": args.samples, "mlp_steps": args.mlp_steps,
              "mlp_every": args.mlp_every, "mlp_lr": args.mlp_lr, "init_std": args.init_std,
              "batch": args.batch, "mlp_layers": list(MLP_LAYERS)}
    seeds = range(args.seed, args.seed + args.seeds)
    started = time.perf_counter()
    results = sweep(seeds, config, data, args.progress, args.jobs)
    elapsed = time.perf_counter() - started
    out = Path(args.out)
    figures = [plot_dln(results, config, out / "e3_dln.png"),
               plot_mlp(results, config, data.name, out / "e3_mlp.png")]
    summary = summarize(results, config)
    common.write_json(out / "e3_ics_gradients.json",
                      {"settings": common.settings(args, data), "config": config, "summary": summary,
                       "seconds": elapsed, "runs": results})
    cpu = sum(log["cpu_seconds"] for r in results for log in [*r["mlp"].values()]
              + [log for by_variant in r["dln"].values() for log in by_variant.values()])
    print(f"E3 ({len(results)} seed(s), {elapsed:.0f} s wall, {cpu:.0f} s CPU in the runs): median over training "
          "of ||G-G'||/||G|| and cos(G,G')")
    for lr, by_variant in summary["dln"].items():
        for v, s in by_variant.items():
            cols = ", ".join(f"layer {i}: {s[f'layer{i}_rel_median']:.3g} / {s[f'layer{i}_cos_median']:.3f}"
                             for i in DLN_LAYERS)
            print(f"  DLN lr {lr:>5} {v:9}: final loss {s['final_loss']:.4g}; {cols}")
    for v, s in summary["mlp"].items():
        cols = ", ".join(f"layer {i}: {s[f'layer{i}_rel_median']:.3g} / {s[f'layer{i}_cos_median']:.3f}"
                         for i in MLP_LAYERS)
        print(f"  MLP {v:9}: final loss {s['final_loss']:.3g}, held-out acc {s['final_test_acc']:.3f}; {cols}")
    print("wrote " + ", ".join(str(p) for p in [*figures, out / "e3_ics_gradients.json"]))
    return summary


if __name__ == "__main__":
    main()
