"""E1: Ioffe & Szegedy's Figure 1 on minigrad: a 3x100 sigmoid MLP on binarised MNIST, with and without BN.

    python examples/bn_fig1_mnist.py --data-dir PATH/TO/MNIST      # full MNIST, or the t10k files (8000/2000)
    python examples/bn_fig1_mnist.py --init-std 0.1 --out ics_std01 # the initialisation control
    python examples/bn_fig1_mnist.py --seeds 4                      # 4 seeds, in parallel worker processes

Both nets start from the same weights W ~ N(0, init_std^2) and see the same batches of 60 (plain SGD, lr 1.0,
mean cross-entropy, float64). Every ``--eval-every`` steps it records the held-out accuracy (BN in eval mode,
running statistics) and the 15/50/85th percentiles of the sigmoid input of unit 0 of the last hidden layer on a
fixed probe batch of 500 training examples (BN in train mode, batch statistics: the paper's N_BN^tr).
It then times one training step against the same networks written directly in PyTorch, when installed.
What it shows, and does not show, is in docs/ics.md.
"""

from __future__ import annotations

import cProfile
import functools
import io
import pstats
import time

import ics_common as common
import numpy as np

import minigrad
from minigrad import nn, optim

# Figure 1(a) read from the paper (ics-protocols notes, section 1.1): (step, accuracy).
PAPER_ACCURACY = {
    "without BN": [(4000, 0.71), (10000, 0.92), (15000, 0.955), (21000, 0.965), (30000, 0.967),
                   (40000, 0.97), (44000, 0.972)],
    "with BN": [(4000, 0.953), (10000, 0.966), (15000, 0.974), (21000, 0.974), (30000, 0.978),
                (40000, 0.98), (49000, 0.982)],
}
PAPER_STEPS = 50_000
PAPER_YLIM = 2.5
CAPTION = ("Panels (b, c) show how the sigmoid-input distribution of one last-hidden-layer unit moves over "
           "training, panel (a) how fast each net's held-out accuracy rises. Together they show whether "
           "distributions move and whether BN trains faster; they do not show that the first causes the second "
           "(E2 and E3 test that).")
QS = (15, 50, 85)
LAYER, UNIT = 2, 0  # the last hidden layer (0-based), its first unit


def parse_args(argv=None):
    p = common.make_parser(__doc__.splitlines()[0], steps=6000, quick_steps=60, seeds=True)
    p.add_argument("--init-std", type=float, default=0.01, help="std of the initial weights (default: 0.01)")
    p.add_argument("--lr", type=float, default=1.0, help="SGD learning rate (default: 1.0)")
    p.add_argument("--batch-size", type=int, default=60, help="(default: 60)")
    p.add_argument("--eval-every", type=int, default=None, help="steps between records (default: 100, 20 quick)")
    p.add_argument("--probe-size", type=int, default=500, help="examples in the fixed probe batch (default: 500)")
    p.add_argument("--no-timing", dest="timing", action="store_false",
                   help="skip the per-step timing against PyTorch and the profile")
    args = common.parse(p, argv)
    if args.eval_every is None:
        args.eval_every = 20 if args.quick else 100
    return args


def load(args) -> common.Data:
    """The data; each run of a sweep loads its own (a worker process shares nothing with the parent)."""
    data = common.load_data(args.data_dir, digits=args.digits, download=args.download)
    if args.quick:  # a few seconds: fewer held-out examples to score
        data.x_test, data.y_test = data.x_test[:300], data.y_test[:300]
    return data


def train(seed: int, args, data: common.Data | None = None) -> dict:
    """Train both twins on the same batches; the records of one seed."""
    data = data if data is not None else load(args)
    sizes = (data.n_features, *common.MLP_SIZES[1:])
    nets = dict(zip(("without BN", "with BN"), common.twins(sizes, std=args.init_std, seed=seed)))
    optimizers = {name: optim.SGD(net.parameters(), lr=args.lr) for name, net in nets.items()}
    probe = data.x_train[np.random.default_rng(seed + 1).choice(len(data.y_train), args.probe_size,
                                                                replace=False)]
    record = {"steps": [], **{name: {"accuracy": [], "percentiles": [], "loss": []} for name in nets}}

    def measure(step: int) -> None:
        record["steps"].append(step)
        for name, net in nets.items():
            record[name]["accuracy"].append(common.accuracy(net, data.x_test, data.y_test))
            pre = common.probe_pre_activations(net, probe)[LAYER][:, UNIT]
            record[name]["percentiles"].append(common.percentiles(pre, QS))

    bar = common.progress(args.steps, args.progress, desc=f"E1 seed {seed}")
    train_seconds = 0.0
    measure(0)
    losses = {name: [] for name in nets}
    batches = common.batch_indices(len(data.y_train), args.batch_size, args.steps, seed)
    for step, idx in enumerate(batches, start=1):
        x, y = minigrad.tensor(data.x_train[idx]), minigrad.tensor(data.y_train[idx])
        started = time.perf_counter()
        for name, net in nets.items():
            loss = nn.functional.cross_entropy(net(x), y)
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
            losses[name].append(loss.item())
        train_seconds += time.perf_counter() - started
        if step % args.eval_every == 0 or step == args.steps:
            measure(step)
            for name in nets:
                record[name]["loss"].append(float(np.mean(losses[name])))
                losses[name] = []
            bar.set_postfix(acc=f"{record['without BN']['accuracy'][-1]:.3f}/{record['with BN']['accuracy'][-1]:.3f}",
                            refresh=False)
        bar.update()
    bar.close()
    record["train_seconds_per_step_both_nets"] = train_seconds / max(1, args.steps)
    return record


def steps_to(record: dict, name: str, target: float) -> int | None:
    """The first recorded step at which the held-out accuracy reaches ``target``."""
    return next((s for s, a in zip(record["steps"], record[name]["accuracy"]) if a >= target), None)


# -- timing against PyTorch -------------------------------------------------------------------------
def minigrad_trainer(batchnorm: bool, weights, x, y, lr):
    """The net and a function doing one SGD step of it on (x, y)."""
    net = common.SigmoidMLP(weights, batchnorm=batchnorm)
    opt = optim.SGD(net.parameters(), lr=lr)
    xt, yt = minigrad.tensor(x), minigrad.tensor(y)

    def step():
        loss = nn.functional.cross_entropy(net(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, step


def torch_trainer(torch, batchnorm: bool, weights, x, y, lr):
    """The same net and step written directly in PyTorch."""
    layers = []
    for w in weights[:-1]:
        linear = torch.nn.Linear(w.shape[1], w.shape[0], bias=not batchnorm, dtype=torch.float64)
        layers += [linear, torch.nn.BatchNorm1d(w.shape[0], dtype=torch.float64)] if batchnorm else [linear]
        layers.append(torch.nn.Sigmoid())
    layers.append(torch.nn.Linear(weights[-1].shape[1], weights[-1].shape[0], dtype=torch.float64))
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for linear, w in zip([m for m in net if isinstance(m, torch.nn.Linear)], weights):
            linear.weight.copy_(torch.from_numpy(w))
            if linear.bias is not None:
                linear.bias.zero_()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = torch.nn.functional.cross_entropy(net(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, step


def time_steps(args, data: common.Data, rounds: int = 7, block: int = 30) -> dict:
    """Seconds per training step of each net in minigrad and PyTorch, timed round-robin in blocks."""
    sizes = (data.n_features, *common.MLP_SIZES[1:])
    weights = common.init_weights(sizes, std=args.init_std, seed=args.seed)
    x, y = data.x_train[: args.batch_size], data.y_train[: args.batch_size]
    candidates = {f"minigrad {args.backend} {name}": minigrad_trainer(bn, weights, x, y, args.lr)[1]
                  for name, bn in (("without BN", False), ("with BN", True))}
    torch_info = None
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        torch_info = {"version": torch.__version__, "threads": torch.get_num_threads()}
        candidates.update({f"torch {name}": torch_trainer(torch, bn, weights, x, y, args.lr)[1]
                           for name, bn in (("without BN", False), ("with BN", True))})
    samples = {name: [] for name in candidates}
    for fn in candidates.values():
        for _ in range(5):
            fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            started = time.perf_counter()
            for _ in range(block):
                fn()
            samples[name].append((time.perf_counter() - started) / block)
    result = {"seconds_per_step": {name: {"min": min(s), "median": float(np.median(s))}
                                   for name, s in samples.items()},
              "rounds": rounds, "steps_per_sample": block, "batch_size": args.batch_size, "torch": torch_info}
    if torch is not None:
        result["ratio_minigrad_over_torch_median"] = {
            name: result["seconds_per_step"][f"minigrad {args.backend} {name}"]["median"]
            / result["seconds_per_step"][f"torch {name}"]["median"]
            for name in ("without BN", "with BN")}
    return result


def profile_step(args, data: common.Data, steps: int = 300, top: int = 12) -> dict:
    """Where a minigrad training step of the BN net spends its time: the top functions by own time."""
    sizes = (data.n_features, *common.MLP_SIZES[1:])
    _, step = minigrad_trainer(True, common.init_weights(sizes, std=args.init_std, seed=args.seed),
                          data.x_train[: args.batch_size], data.y_train[: args.batch_size], args.lr)
    step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = stats.total_tt
    rows = []
    for (filename, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        rows.append({"function": f"{filename.split('site-packages/')[-1].split('wt-ics/')[-1]}:{line}({func})",
                     "calls_per_step": ncalls / steps, "own_share": tottime / total,
                     "own_us_per_step": tottime / steps * 1e6, "cum_us_per_step": cumtime / steps * 1e6})
    rows.sort(key=lambda r: -r["own_share"])
    by_file: dict[str, float] = {}
    for row in rows:
        name = row["function"].split(":")[0]
        by_file[name] = by_file.get(name, 0.0) + row["own_share"]
    return {"steps": steps, "top_functions": rows[:top],
            "own_share_by_file": dict(sorted(by_file.items(), key=lambda kv: -kv[1])[:top])}


# -- figure -----------------------------------------------------------------------------------------
def plot(records: list[dict], data_name: str, args, path) -> None:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    steps = np.array(records[0]["steps"])
    colors = {"without BN": "tab:blue", "with BN": "tab:red"}
    ax = axes[0]
    for name, color in colors.items():
        acc = np.array([r[name]["accuracy"] for r in records])
        ax.plot(steps, acc.mean(0), color=color, label=f"{name} (minigrad)")
        if len(records) > 1:
            ax.fill_between(steps, acc.min(0), acc.max(0), color=color, alpha=0.2)
    paper = ax.twiny()
    for name, color in colors.items():
        s, a = zip(*PAPER_ACCURACY[name])
        paper.plot(s, a, "o--", color=color, alpha=0.5, markersize=4, label=f"{name} (paper)")
    paper.set_xlim(0, PAPER_STEPS)
    paper.set_xlabel("paper's steps (Ioffe & Szegedy Fig. 1a, read from the plot)", fontsize=8)
    ax.set_xlim(0, steps[-1])
    ax.set_ylim(0.0 if args.quick else 0.5, 1.0)
    ax.set_xlabel("our steps")
    ax.set_ylabel("held-out accuracy (eval mode)")
    handles = ax.get_legend_handles_labels()[0] + paper.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower right", fontsize=7)
    ax.set_title(f"(a) accuracy{'' if len(records) == 1 else f', {len(records)} seeds (mean, min-max)'}",
                 fontsize=9, pad=30)
    for ax, name, letter in ((axes[1], "without BN", "b"), (axes[2], "with BN", "c")):
        p = np.array(records[0][name]["percentiles"])
        ax.fill_between(steps, p[:, 0], p[:, 2], color=colors[name], alpha=0.3)
        ax.plot(steps, p[:, 1], color=colors[name])
        for y in (-PAPER_YLIM, PAPER_YLIM):
            ax.axhline(y, color="grey", linestyle=":", linewidth=1)
        ax.set_ylim(-5, 5)
        ax.set_xlim(0, steps[-1])
        ax.set_xlabel("our steps")
        ax.set_title(f"({letter}) {name}: sigmoid input of layer 3, unit 0\n"
                     "band 15th-85th percentile, line median; dotted: paper's y-range", fontsize=9)
    axes[1].set_ylabel("percentiles on a fixed probe batch (BN train mode)")
    fig.suptitle(f"Ioffe & Szegedy Fig. 1 on minigrad: {data_name}, init std {args.init_std}, lr {args.lr}, "
                 f"batch {args.batch_size}, seed {args.seed}", fontsize=10, y=1.08)
    fig.tight_layout()
    common.save_figure(fig, path)


def main(argv=None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    data = load(args)
    seeds = [args.seed + i for i in range(args.seeds)]
    if len(seeds) == 1:
        records = [train(seeds[0], args, data)]
    else:
        records = common.run_seeds(functools.partial(train, args=args), seeds, args.jobs)
    run_seconds = time.perf_counter() - started
    result = {"experiment": "E1 Ioffe & Szegedy Figure 1", "caption": CAPTION, "settings": common.settings(args, data),
              "seeds": seeds, "layer": LAYER + 1, "unit": UNIT, "percentiles_q": QS,
              "probe": f"{args.probe_size} training examples drawn with seed+1; BN in train mode (batch statistics)",
              "paper_accuracy": PAPER_ACCURACY, "runs": records, "run_seconds": run_seconds}
    summary = {}
    for name in ("without BN", "with BN"):
        final = [r[name]["accuracy"][-1] for r in records]
        p = np.array(records[0][name]["percentiles"])
        summary[name] = {
            "final_accuracy_mean": float(np.mean(final)), "final_accuracy_per_seed": final,
            "steps_to_90": [steps_to(r, name, 0.90) for r in records],
            "steps_to_95": [steps_to(r, name, 0.95) for r in records],
            "median_range": [float(p[:, 1].min()), float(p[:, 1].max())],
            "band_start": p[0].tolist(), "band_end": p[-1].tolist(),
        }
    result["summary"] = summary
    if args.timing:
        result["timing"] = time_steps(args, data, rounds=1 if args.quick else 7, block=2 if args.quick else 30)
        result["profile_bn_step"] = profile_step(args, data, steps=5 if args.quick else 300)
    stem = (f"{args.out}/e1_fig1" + ("" if args.init_std == 0.01 else f"_std{args.init_std:g}")
            + ("" if args.seeds == 1 else f"_seeds{args.seeds}"))
    out = common.write_json(f"{stem}.json", result)
    plot(records, data.name, args, f"{stem}.png")

    print(f"E1 on {data.name}, backend {args.backend}, init std {args.init_std}, {args.steps} steps, "
          f"seeds {seeds}: {run_seconds:.0f} s")
    for name, s in summary.items():
        print(f"  {name:10s}: final held-out accuracy {s['final_accuracy_mean']:.4f}; steps to 90% {s['steps_to_90']}, "
              f"to 95% {s['steps_to_95']}; unit median in [{s['median_range'][0]:+.2f}, {s['median_range'][1]:+.2f}], "
              f"15/50/85 band {np.round(s['band_start'], 2).tolist()} -> {np.round(s['band_end'], 2).tolist()}")
    if args.timing:
        for name, t in result["timing"]["seconds_per_step"].items():
            print(f"  step time {name:28s}: {t['median'] * 1e3:7.3f} ms (median), {t['min'] * 1e3:7.3f} ms (min)")
        for name, r in result["timing"].get("ratio_minigrad_over_torch_median", {}).items():
            print(f"  minigrad / PyTorch, {name}: {r:.2f}x")
        shares = result["profile_bn_step"]["own_share_by_file"]
        print("  a minigrad BN step's own time by file (cProfile): "
              + ", ".join(f"{name} {share:.0%}" for name, share in list(shares.items())[:6]))
    print(f"  {CAPTION}")
    print(f"  wrote {out} and {stem}.png")
    return result


if __name__ == "__main__":
    main()
