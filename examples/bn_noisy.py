"""E2: does internal covariate shift slow training? Santurkar et al.'s "noisy BatchNorm" (§2.1, Alg. 1).

    python examples/bn_noisy.py --data-dir ../shared/data/mnist --seeds 3   # 2 learning rates x 4 nets x 3 seeds
    python examples/bn_noisy.py --quick --out /tmp/e2                       # a few-second smoke run
    python examples/bn_noisy.py --lrs 0.5 --seeds 5 --jobs 2

Four versions of the sigmoid MLP, from the same Glorot-uniform weights and on the same batches (plain SGD,
batch 60, mean cross-entropy, float64):
- standard;
- BN: BatchNorm before each hidden sigmoid;
- noisy BN: BN followed by noise injection: at every training step each unit j draws a mean
  mu_j ~ U(-n_mu, n_mu) and a scale sigma_j ~ U(1, n_sigma), each sample i draws m_ij ~ U(mu_j - r_mu,
  mu_j + r_mu) and s_ij ~ N(sigma_j, r_sigma), and the activation becomes s_ij * a_ij + m_ij
  (n_mu = 0.5, n_sigma = 1.25, r_mu = r_sigma = 0.1; training only, never in eval mode);
- standard + noise: the same noise, on the standard net's pre-activations.
If ICS slowed training, noisy BN (whose layer inputs move more than even the standard net's) would train
like the standard net; Santurkar et al. found it trains like BN.

Recorded every ``--every`` steps: the training loss and accuracy (mean over the steps since the last record,
train mode, noise on), the held-out accuracy (eval mode, no noise), and the step-to-step drift
|mu_{t+1} - mu_t| and |var_{t+1} - var_t| of the sigmoid inputs of 3 units of the last hidden layer on a fixed
probe batch of training examples (train mode: batch statistics and noise, as the network trains), measured
across one real step. Figure: e2_noisy.png; numbers and settings: e2_noisy.json.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import ics_common as common
import numpy as np

import minigrad
from minigrad import nn, optim

VARIANTS = ("standard", "batchnorm", "noisy batchnorm", "standard + noise")
COLORS = {"standard": "tab:blue", "batchnorm": "tab:red", "noisy batchnorm": "tab:orange",
          "standard + noise": "tab:purple"}
UNITS = (0, 1, 2)
NOISE = {"n_mu": 0.5, "n_sigma": 1.25, "r_mu": 0.1, "r_sigma": 0.1}


class NoiseInjection(nn.Module):
    """Santurkar et al.'s Alg. 1 on (batch, units) activations, fresh at every call in training mode.

    ``draw`` gives the per-sample scale s and shift m; ``forward`` returns s * x + m (the identity in eval
    mode). The draws come from the module's own NumPy generator, so runs are reproducible on every backend.
    """

    def __init__(self, n_mu: float = 0.5, n_sigma: float = 1.25, r_mu: float = 0.1, r_sigma: float = 0.1,
                 seed=0) -> None:
        super().__init__()
        self.n_mu, self.n_sigma, self.r_mu, self.r_sigma = n_mu, n_sigma, r_mu, r_sigma
        self.rng = np.random.default_rng(seed)

    def draw(self, n: int, units: int) -> tuple[np.ndarray, np.ndarray]:
        """(scale, shift), each (n, units): one mu_j and sigma_j per unit, then per-sample m_ij and s_ij."""
        mu = self.rng.uniform(-self.n_mu, self.n_mu, size=units)
        sigma = self.rng.uniform(1.0, self.n_sigma, size=units)
        shift = self.rng.uniform(mu - self.r_mu, mu + self.r_mu, size=(n, units))
        scale = self.rng.normal(sigma, self.r_sigma, size=(n, units))
        return scale, shift

    def forward(self, x: minigrad.Tensor) -> minigrad.Tensor:
        if not self.training:
            return x
        scale, shift = self.draw(*x.shape)
        return x * minigrad.tensor(scale, dtype=x.dtype) + minigrad.tensor(shift, dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"n_mu={self.n_mu}, n_sigma={self.n_sigma}, r_mu={self.r_mu}, r_sigma={self.r_sigma}"


def build(variant: str, sizes, seed: int) -> common.SigmoidMLP:
    """One of the four nets; every variant starts from the same Glorot weights, and the two noisy ones draw
    the same noise (one generator per layer, seeded by (seed, layer))."""
    noisy = variant in ("noisy batchnorm", "standard + noise")
    extra = (lambda i: NoiseInjection(**NOISE, seed=(seed, i))) if noisy else None
    plain, with_bn = common.twins(sizes, init="glorot", seed=seed, extra=extra)
    return with_bn if "batchnorm" in variant else plain


def _moments(model: common.SigmoidMLP, probe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (biased) variance over the probe batch of the chosen units' sigmoid inputs, last hidden layer."""
    pre = common.probe_pre_activations(model, probe)[-1][:, list(UNITS)]
    return pre.mean(axis=0), pre.var(axis=0)


def train(task: tuple, data: common.Data, steps: int, every: int, batch: int, probe_size: int,
          progress: bool = False) -> dict:
    """One run, ``task = (seed, lr, variant)``; depends only on its task (any number of workers)."""
    seed, lr, variant = task
    sizes = (data.n_features, *common.MLP_SIZES[1:])
    model = build(variant, sizes, seed)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    probe = data.x_train[np.random.default_rng([seed, 1]).choice(len(data.y_train), probe_size, replace=False)]
    log: dict = {"step": [], "train_loss": [], "train_acc": [], "test_acc": [], "drift_mean": [], "drift_var": [],
                 "mean": [], "var": []}
    losses, hits = [], []
    bar = common.progress(steps, progress, desc=f"E2 seed {seed} lr {lr:g} {variant}")
    started, cpu_started = time.perf_counter(), time.process_time()
    for step, idx in enumerate(common.batch_indices(len(data.y_train), batch, steps, seed)):
        record = step % every == 0 or step == steps - 1
        if record:
            mean_before, var_before = _moments(model, probe)
        logits = model(minigrad.tensor(data.x_train[idx]))
        loss = nn.functional.cross_entropy(logits, minigrad.tensor(data.y_train[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        hits.append(float((logits.numpy().argmax(axis=1) == data.y_train[idx]).mean()))
        if record:
            mean_after, var_after = _moments(model, probe)
            log["step"].append(step)
            log["train_loss"].append(float(np.mean(losses)))
            log["train_acc"].append(float(np.mean(hits)))
            log["test_acc"].append(common.accuracy(model, data.x_test, data.y_test))
            log["drift_mean"].append(np.abs(mean_after - mean_before).tolist())
            log["drift_var"].append(np.abs(var_after - var_before).tolist())
            log["mean"].append(mean_before.tolist())
            log["var"].append(var_before.tolist())
            losses, hits = [], []
        bar.update()
    bar.close()
    log["seconds"] = time.perf_counter() - started
    log["cpu_seconds"] = time.process_time() - cpu_started
    return log


def sweep(seeds, lrs, data: common.Data, steps: int, every: int, batch: int, probe_size: int,
          progress: bool = True, n_jobs: int | None = None) -> list[dict]:
    """Every (seed, lr, variant) run through joblib; one result per seed, ``{"seed", "runs": {lr: {variant}}}``."""
    tasks = [(seed, lr, v) for seed in seeds for lr in lrs for v in VARIANTS]
    logs = dict(zip(tasks, common.run_seeds(
        partial(train, data=data, steps=steps, every=every, batch=batch, probe_size=probe_size,
                progress=progress), tasks, n_jobs)))
    return [{"seed": seed, "runs": {f"{lr:g}": {v: logs[(seed, lr, v)] for v in VARIANTS} for lr in lrs}}
            for seed in seeds]


# -- figure and summary -----------------------------------------------------------------------------

def plot(results: list[dict], data_name: str, config: dict, path: Path) -> Path:
    plt = common.pyplot()
    lrs = list(results[0]["runs"])
    fig, axes = plt.subplots(len(lrs), 6, figsize=(18, 3.3 * len(lrs)), squeeze=False)
    for row, lr in zip(axes, lrs):
        for variant in VARIANTS:
            logs = [r["runs"][lr][variant] for r in results]
            steps, color = logs[0]["step"], COLORS[variant]
            common.band(row[0], steps, [log["train_loss"] for log in logs], variant, color)
            common.band(row[1], steps, [log["train_acc"] for log in logs], variant, color)
            common.band(row[2], steps, [log["test_acc"] for log in logs], variant, color)
            # drift: mean over the 3 units, skipping the first record (step 0 is the untrained net)
            dm = [np.mean(log["drift_mean"], axis=1)[1:] for log in logs]
            dv = [np.mean(log["drift_var"], axis=1)[1:] for log in logs]
            common.band(row[3], steps[1:], dm, variant, color)
            common.band(row[4], steps[1:], dv, variant, color)
            for k, log in enumerate(logs):
                row[5].plot(log["train_loss"][1:], np.mean(log["drift_mean"], axis=1)[1:], ".", ms=2.5,
                            color=color, label=variant if k == 0 else None)
        titles = ["training loss (train mode, noise on)", "training accuracy (train mode)",
                  "held-out accuracy (eval mode, no noise)", "|mu(t+1) - mu(t)|, mean of 3 units",
                  "|var(t+1) - var(t)|, mean of 3 units", "|mu(t+1) - mu(t)| at matched training loss"]
        for ax, title in zip(row, titles):
            ax.set_title(f"lr {lr}: {title}", fontsize=8)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
            ax.set_xlabel("step", fontsize=8)
        row[0].set_yscale("log")
        row[3].set_yscale("log")
        row[4].set_yscale("log")
        row[5].set(xscale="log", yscale="log")
        row[5].set_xlabel("training loss", fontsize=8)
        row[0].legend(fontsize=7)
    fig.suptitle(f"E2: noisy BN (Santurkar et al. §2.1) on {data_name}; sigmoid MLP, Glorot init, SGD, batch "
                 f"{config['batch']}; {len(results)} seed(s), median with min-max shaded; drift on a fixed probe "
                 f"batch of {config['probe_size']}, last hidden layer, units {list(UNITS)}", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path, dpi=55)  # six panels a row: a lower dpi keeps the PNG small


def steps_to(log: dict, target: float) -> int | None:
    """The first recorded step whose held-out accuracy reaches ``target``."""
    return next((s for s, a in zip(log["step"], log["test_acc"]) if a >= target), None)


def summarize(results: list[dict]) -> dict:
    summary: dict = {}
    for lr in results[0]["runs"]:
        summary[lr] = {}
        for variant in VARIANTS:
            logs = [r["runs"][lr][variant] for r in results]
            summary[lr][variant] = {
                "final_train_loss": float(np.median([log["train_loss"][-1] for log in logs])),
                "final_test_acc": float(np.median([log["test_acc"][-1] for log in logs])),
                "final_test_acc_per_seed": [log["test_acc"][-1] for log in logs],
                "steps_to_90_per_seed": [steps_to(log, 0.90) for log in logs],
                "median_drift_mean": float(np.median([np.mean(log["drift_mean"][1:]) for log in logs])),
                "median_drift_var": float(np.median([np.mean(log["drift_var"][1:]) for log in logs])),
            }
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = common.make_parser(__doc__.splitlines()[0], steps=3000, quick_steps=40, seeds=True)
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.1, 0.5], help="learning rates (default: 0.1 0.5)")
    parser.add_argument("--every", type=int, default=None, help="record every N steps (default: 50, 10 with --quick)")
    parser.add_argument("--batch", type=int, default=60, help="batch size (default: 60)")
    parser.add_argument("--probe-size", type=int, default=500, help="probe batch for the drift (default: 500)")
    args = common.parse(parser, argv)
    if args.every is None:
        args.every = 10 if args.quick else 50
    data = common.load_data(args.data_dir, digits=args.digits, download=args.download)
    if args.quick:
        data = common.quick_subset(data)
        args.probe_size = min(args.probe_size, 200)
    seeds = list(range(args.seed, args.seed + args.seeds))
    started = time.perf_counter()
    results = sweep(seeds, args.lrs, data, args.steps, args.every, args.batch, args.probe_size, args.progress,
                    args.jobs)
    elapsed = time.perf_counter() - started
    config = {"steps": args.steps, "every": args.every, "batch": args.batch, "probe_size": args.probe_size,
              "lrs": args.lrs, "seeds": seeds, "noise": NOISE, "units": list(UNITS), "init": "glorot"}
    out = Path(args.out)
    figure = plot(results, data.name, config, out / "e2_noisy.png")
    summary = summarize(results)
    common.write_json(out / "e2_noisy.json", {"experiment": "E2 noisy BN (Santurkar et al. §2.1)",
                                              "settings": common.settings(args, data), "config": config,
                                              "summary": summary, "seconds": elapsed, "results": results})
    cpu = sum(log["cpu_seconds"] for r in results for by_variant in r["runs"].values() for log in by_variant.values())
    print(f"E2 on {data.name}, {args.steps} steps, seeds {seeds}, {elapsed:.0f} s wall, {cpu:.0f} s CPU in the runs "
          "(medians over seeds):")
    for lr, by_variant in summary.items():
        for v, s in by_variant.items():
            print(f"  lr {lr:>4} {v:16}: final train loss {s['final_train_loss']:.3g}, held-out acc "
                  f"{s['final_test_acc']:.3f}, steps to 90% {s['steps_to_90_per_seed']}; drift |dmu| "
                  f"{s['median_drift_mean']:.3g}, |dvar| {s['median_drift_var']:.3g}")
    print(f"wrote {figure}, {out / 'e2_noisy.json'}")
    return summary


if __name__ == "__main__":
    main()
