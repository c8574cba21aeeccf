"""E5: five properties of BatchNorm, each measured on minigrad and checked against its formula.

    python examples/bn_properties.py                 # scikit-learn digits, lr 0.5, float64
    python examples/bn_properties.py --backend numba

1. Scale invariance: loss(aW) = loss(W) and grad(aW) = grad(W)/a for a weight matrix feeding BN (exact as
   eps -> 0); <W_j, dL/dW_j> = 0 per unit, so plain SGD grows ||W||: ||W'||^2 = ||W||^2 + lr^2 ||g||^2.
2. Zero gradients: a bias before BN gets a zero gradient; sum_i dl/dx_i = 0 per feature; the eps term
   sum_i dl/dx_i xhat_i = eps/(var+eps) * (1/s) * sum_i g_i xhat_i.
3. A batch of one in training mode is an error (its xhat would be 0 whatever the input).
4. The train/eval gap: eval mode (running statistics) against train mode on shuffled and on class-sorted
   batches over training, and the m/(m-1) of the stored unbiased variance.
5. Double backward: gradgradcheck of the fused BN for x, gamma, beta; beta's zero second derivative; a
   Hessian-vector product of the MLP's loss against finite differences of its gradient.

Each check prints pass/fail with the measured numbers, which also go into the JSON; docs/ics.md discusses them.
"""

from __future__ import annotations

import time

import ics_common as common
import numpy as np

import minigrad
from minigrad import nn, optim
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention
from minigrad.ops.batchnorm import batch_norm

SCALE = 3.0


def _loss(net, x, y):
    return F.cross_entropy(net(minigrad.tensor(x)), minigrad.tensor(y))


def _set_eps(net, eps: float) -> None:
    for m in net.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.eps = eps


def check_scale_invariance(data: common.Data, args) -> dict:
    """loss and gradient of the first BN'd weight matrix W at W and at a*W, with BN's eps and with eps = 0."""
    sizes = (data.n_features, *common.MLP_SIZES[1:])
    x, y = data.x_train[:60], data.y_train[:60]
    out = {"a": SCALE}
    for eps in (common.BN_EPS, 0.0):
        net = common.SigmoidMLP(common.init_weights(sizes, "glorot", seed=args.seed), batchnorm=True)
        _set_eps(net, eps)
        w = net.hidden[0][0].weight
        base_loss = _loss(net, x, y)
        (g,) = minigrad.grad(base_loss, w)
        g = g.numpy()
        w_np = w.numpy().copy()
        with minigrad.no_grad():
            w.mul_(SCALE)
        scaled_loss = _loss(net, x, y)
        (g_scaled,) = minigrad.grad(scaled_loss, w)
        inner = np.abs(np.sum(w_np * g, axis=1)) / (np.linalg.norm(w_np, axis=1) * np.linalg.norm(g, axis=1))
        out[f"eps={eps:g}"] = {
            "loss_W": base_loss.item(), "loss_aW": scaled_loss.item(),
            "loss_abs_diff": abs(scaled_loss.item() - base_loss.item()),
            "grad_aW_vs_grad_W_over_a_rel_err": float(np.linalg.norm(g_scaled.numpy() - g / SCALE)
                                                      / np.linalg.norm(g / SCALE)),
            "max_cos_W_row_grad_row": float(inner.max()),
        }
    exact = out["eps=0"]
    out["passed"] = bool(exact["loss_abs_diff"] < 1e-12 and exact["grad_aW_vs_grad_W_over_a_rel_err"] < 1e-10
                         and exact["max_cos_W_row_grad_row"] < 1e-10
                         and out[f"eps={common.BN_EPS:g}"]["grad_aW_vs_grad_W_over_a_rel_err"] < 1e-3)
    return out


def weight_norm_growth(data: common.Data, args, steps: int) -> dict:
    """||W_l|| of the hidden layers over plain SGD, and the identity ||W'||^2 = ||W||^2 + lr^2 ||g||^2."""
    sizes = (data.n_features, *common.MLP_SIZES[1:])
    out = {}
    for eps, n_steps in ((common.BN_EPS, steps), (0.0, min(steps, 50))):
        nets = dict(zip(("without BN", "with BN"), common.twins(sizes, init="glorot", seed=args.seed)))
        _set_eps(nets["with BN"], eps)
        norms = {name: [] for name in nets}
        worst = 0.0
        for name, net in nets.items():
            opt = optim.SGD(net.parameters(), lr=args.lr)
            weights = [block[0].weight for block in net.hidden]
            for idx in common.batch_indices(len(data.y_train), 60, n_steps, args.seed):
                before = [float(np.sum(w.numpy() ** 2)) for w in weights]
                norms[name].append([b ** 0.5 for b in before])
                loss = _loss(net, data.x_train[idx], data.y_train[idx])
                opt.zero_grad()
                loss.backward()
                grads = [float(np.sum(w.grad.numpy() ** 2)) for w in weights]
                opt.step()
                if name == "with BN":
                    for b, g, w in zip(before, grads, weights):
                        predicted = b + args.lr ** 2 * g
                        worst = max(worst, abs(float(np.sum(w.numpy() ** 2)) - predicted) / (args.lr ** 2 * g))
            norms[name].append([float(np.linalg.norm(w.numpy())) for w in weights])
        out[f"eps={eps:g}"] = {"steps": n_steps, "norm_identity_max_rel_err": worst,
                               "with_bn_norms_nondecreasing": bool(np.all(np.diff(np.array(norms["with BN"]),
                                                                                  axis=0) >= -1e-12)),
                               "norms": norms}
    out["passed"] = bool(out["eps=0"]["norm_identity_max_rel_err"] < 1e-8
                         and out["eps=0"]["with_bn_norms_nondecreasing"])
    return out


def check_zero_gradients(args) -> dict:
    """A bias before BN, sum_i dl/dx_i and the eps term of sum_i dl/dx_i xhat_i, on a random BN layer."""
    rng = np.random.default_rng(args.seed)
    m, c = 32, 6
    out = {}
    for fused in (True, False):
        linear = nn.Linear(10, c, bias=True, dtype="float64")
        bn = nn.BatchNorm1d(c, dtype="float64", fused=fused)
        with minigrad.no_grad():
            bn.weight.copy_(minigrad.tensor(rng.uniform(0.5, 2.0, c)))
        x = minigrad.tensor(rng.normal(size=(m, 10)))
        upstream = minigrad.tensor(rng.normal(size=(m, c)))
        z = linear(x)
        (z_grad,) = minigrad.grad((bn(z) * upstream).sum(), z, retain_graph=True)
        ((bn(linear(x)) * upstream).sum()).backward()
        scale = float(np.abs(linear.weight.grad.numpy()).max())
        out["fused" if fused else "composite"] = {
            "max_abs_bias_grad": float(np.abs(linear.bias.grad.numpy()).max()),
            "typical_weight_grad": scale,
            "max_abs_sum_dl_dx_per_feature": float(np.abs(z_grad.numpy().sum(axis=0)).max()),
        }
    # The eps term: a large eps makes it visible.
    eps = 0.1
    x = rng.normal(0.3, 0.8, size=(m, c))
    gamma, upstream = rng.uniform(0.5, 2.0, c), rng.normal(size=(m, c))
    xt = minigrad.tensor(x, requires_grad=True)
    y = batch_norm(xt, None, None, minigrad.tensor(gamma), minigrad.tensor(np.zeros(c)), training=True, eps=eps)
    (dx,) = minigrad.grad(y, xt, grad_outputs=minigrad.tensor(upstream))
    var = x.var(axis=0)
    s = np.sqrt(var + eps)
    xhat = (x - x.mean(axis=0)) / s
    measured = (dx.numpy() * xhat).sum(axis=0)
    formula = eps / (var + eps) / s * (gamma * upstream * xhat).sum(axis=0)
    out["eps_term"] = {"eps": eps, "measured": measured, "formula": formula,
                       "max_rel_err": float(np.max(np.abs(measured - formula) / np.abs(formula)))}
    out["passed"] = bool(all(out[k]["max_abs_bias_grad"] < 1e-12 * max(1.0, out[k]["typical_weight_grad"])
                             and out[k]["max_abs_sum_dl_dx_per_feature"] < 1e-12 for k in ("fused", "composite"))
                         and out["eps_term"]["max_rel_err"] < 1e-9)
    return out


def check_batch_of_one() -> dict:
    """Training-mode BN on one sample raises (as PyTorch); eval mode on one sample works."""
    out = {}
    x = minigrad.tensor(np.random.default_rng(0).normal(size=(1, 4)))
    for fused in (True, False):
        bn = nn.BatchNorm1d(4, dtype="float64", fused=fused)
        try:
            bn(x)
            out["fused" if fused else "composite"] = {"raised": False, "message": None}
        except ValueError as exc:
            out["fused" if fused else "composite"] = {"raised": True, "message": str(exc)}
        bn.eval()
        out[f"eval_mode_ok_{'fused' if fused else 'composite'}"] = bn(x).shape == (1, 4)
    out["passed"] = bool(out["fused"]["raised"] and out["composite"]["raised"] and out["eval_mode_ok_fused"]
                         and out["eval_mode_ok_composite"])
    return out


def _train_mode_accuracy(net, x, y, order: np.ndarray, batch: int = 60) -> float:
    """Accuracy with BN on batch statistics, over ``x[order]`` cut into batches (running stats untouched)."""
    correct = 0
    net.train()
    with minigrad.no_grad(), common.running_stats_frozen(net):
        for start in range(0, len(order) - batch + 1, batch):
            idx = order[start:start + batch]
            correct += int((net(minigrad.tensor(x[idx])).argmax(axis=1).numpy() == y[idx]).sum())
    return correct / (len(order) // batch * batch)


def train_eval_gap(data: common.Data, args, steps: int, every: int) -> dict:
    """Eval mode vs train mode (shuffled and class-sorted batches of 60) on held-out data during training."""
    sizes = (data.n_features, *common.MLP_SIZES[1:])
    net = common.SigmoidMLP(common.init_weights(sizes, "glorot", seed=args.seed), batchnorm=True)
    opt = optim.SGD(net.parameters(), lr=args.lr)
    shuffled = np.random.default_rng(args.seed + 7).permutation(len(data.y_test))
    by_class = np.argsort(data.y_test, kind="stable")
    record = {"steps": [], "eval_mode": [], "train_mode_shuffled": [], "train_mode_class_sorted": []}
    bar = common.progress(steps, args.progress, desc="E5 train/eval gap")
    for step, idx in enumerate(common.batch_indices(len(data.y_train), 60, steps, args.seed), start=1):
        loss = _loss(net, data.x_train[idx], data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps or step in (1, 2, 5, 10):
            record["steps"].append(step)
            record["eval_mode"].append(common.accuracy(net, data.x_test, data.y_test))
            record["train_mode_shuffled"].append(_train_mode_accuracy(net, data.x_test, data.y_test, shuffled))
            record["train_mode_class_sorted"].append(_train_mode_accuracy(net, data.x_test, data.y_test, by_class))
        bar.update()
    bar.close()
    # m/(m-1): running statistics set to one batch's mean and *unbiased* variance (Algorithm 2 on one batch)
    # against train mode on that same batch.
    x = data.x_test[shuffled[:60]]
    bn = net.hidden[0][1]
    z = net.hidden[0][0](minigrad.tensor(x)).numpy()
    with common.running_stats_frozen(net), minigrad.no_grad():
        bn.running_mean.copy_(minigrad.tensor(z.mean(axis=0)))
        bn.running_var.copy_(minigrad.tensor(z.var(axis=0, ddof=1)))
        net.train()
        train_out = bn(minigrad.tensor(z)).numpy()
        net.eval()
        eval_out = bn(minigrad.tensor(z)).numpy()
        net.train()
    gamma, beta = bn.weight.numpy(), bn.bias.numpy()
    measured = (eval_out - beta) / (train_out - beta)
    var = z.var(axis=0)
    predicted = np.sqrt((var + bn.eps) / (var * 60 / 59 + bn.eps))
    mask = np.abs(train_out - beta) > 1e-6 * np.abs(gamma)
    record["unbiased_variance"] = {
        "m": 60, "predicted_ratio_range": [float(predicted.min()), float(predicted.max())],
        "sqrt_(m-1)/m": float(np.sqrt(59 / 60)),
        "max_rel_err_measured_vs_predicted": float(np.max(np.abs(measured / predicted - 1)[mask])),
        "max_abs_output_diff": float(np.abs(eval_out - train_out).max()),
    }
    gaps = np.array(record["train_mode_shuffled"]) - np.array(record["eval_mode"])
    record["gap_first"], record["gap_last"] = float(gaps[0]), float(gaps[-1])
    record["class_sorted_drop_last"] = float(record["train_mode_shuffled"][-1] - record["train_mode_class_sorted"][-1])
    record["passed"] = bool(record["unbiased_variance"]["max_rel_err_measured_vs_predicted"] < 1e-9)
    return record


def check_double_backward(data: common.Data, args) -> dict:
    """gradgradcheck of fused BN; zero second derivatives through beta; an MLP Hessian-vector product."""
    rng = np.random.default_rng(args.seed)
    m, c = 5, 3
    x = minigrad.tensor(rng.normal(size=(m, c)), requires_grad=True)
    gamma = minigrad.tensor(rng.uniform(0.5, 2, c), requires_grad=True)
    beta = minigrad.tensor(rng.normal(size=c), requires_grad=True)
    out = {}
    for fused in (True, False):
        def bn(x, gamma, beta, fused=fused):
            return batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5, fused=fused)
        report = minigrad.gradgradcheck(bn, (x, gamma, beta), raise_exception=False)
        out["gradgradcheck_fused" if fused else "gradgradcheck_composite"] = {
            "passed": bool(report), "max_abs_error": report.max_abs_error}
    # Second derivatives of the first-order gradients for a fixed upstream gradient.
    y = batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5)
    upstream, v = minigrad.tensor(rng.normal(size=(m, c))), minigrad.tensor(rng.normal(size=c))
    u = minigrad.tensor(rng.normal(size=(m, c)))
    gx, g_gamma, g_beta = minigrad.grad(y, (x, gamma, beta), grad_outputs=upstream, create_graph=True)

    def second(first, direction):
        # retain_graph: dL/dx, dL/dgamma and dL/dbeta come from one backward node (as in PyTorch), which the
        # next call goes through again.
        grads = minigrad.grad((first * direction).sum(), (x, gamma, beta), allow_unused=True, retain_graph=True)
        return [0.0 if g is None else float(np.abs(g.numpy()).max()) for g in grads]
    names = ["d/dx", "d/dgamma", "d/dbeta"]
    out["second_derivatives_max_abs"] = {
        "of dL/dbeta": dict(zip(names, second(g_beta, v))) if g_beta.requires_grad else dict.fromkeys(names, 0.0),
        "of dL/dgamma": dict(zip(names, second(g_gamma, v))),
        "of dL/dx": dict(zip(names, second(gx, u))),
    }
    sd = out["second_derivatives_max_abs"]
    beta_zero = all(val == 0.0 for val in sd["of dL/dbeta"].values()) and sd["of dL/dx"]["d/dbeta"] == 0.0
    gamma_nonzero = sd["of dL/dgamma"]["d/dx"] > 1e-3 and sd["of dL/dx"]["d/dgamma"] > 1e-3
    out["hvp"] = hvp_vs_finite_differences(data, args)
    out["passed"] = bool(out["gradgradcheck_fused"]["passed"] and out["gradgradcheck_composite"]["passed"]
                         and beta_zero and gamma_nonzero and out["hvp"]["rel_err"] < 1e-6)
    return out


def hvp_vs_finite_differences(data: common.Data, args, h: float = 1e-5) -> dict:
    """H v of the BN MLP's loss on one batch by double backward, against (grad(w+hv) - grad(w-hv)) / 2h."""
    sizes = (data.n_features, 30, 30, 30, 10)
    net = common.SigmoidMLP(common.init_weights(sizes, "glorot", seed=args.seed), batchnorm=True)
    params = list(net.parameters())
    x, y = data.x_train[:60], data.y_train[:60]
    rng = np.random.default_rng(args.seed)
    v = [rng.normal(size=p.shape) for p in params]
    grads = minigrad.grad(_loss(net, x, y), params, create_graph=True)
    dot = sum((g * minigrad.tensor(vi)).sum() for g, vi in zip(grads, v))
    hvp = np.concatenate([g.numpy().ravel() for g in minigrad.grad(dot, params)])
    g0 = np.concatenate([g.numpy().ravel() for g in grads])

    def grad_at(sign):
        with minigrad.no_grad():
            for p, vi in zip(params, v):
                p.add_(minigrad.tensor(sign * h * vi))
        g = np.concatenate([gi.numpy().ravel() for gi in minigrad.grad(_loss(net, x, y), params)])
        with minigrad.no_grad():
            for p, vi in zip(params, v):
                p.sub_(minigrad.tensor(sign * h * vi))
        return g
    fd = (grad_at(1.0) - grad_at(-1.0)) / (2 * h)
    kappa_grads = minigrad.grad(_loss(net, x, y), params, create_graph=True)
    g_dir = [minigrad.tensor(gi.numpy()) for gi in kappa_grads]
    hg = minigrad.grad(sum((g * d).sum() for g, d in zip(kappa_grads, g_dir)), params)
    kappa = sum(float((a.numpy() * b.numpy()).sum()) for a, b in zip(hg, g_dir)) / float(g0 @ g0)
    return {"h": h, "n_params": int(g0.size), "rel_err": float(np.linalg.norm(hvp - fd) / np.linalg.norm(fd)),
            "norm_hvp": float(np.linalg.norm(hvp)), "curvature_along_gradient": kappa}


def plot(result: dict, data_name: str, args, path) -> None:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    growth = result["weight_norm_growth"][f"eps={common.BN_EPS:g}"]
    for name, style in (("with BN", "-"), ("without BN", "--")):
        norms = np.array(growth["norms"][name])
        for layer in range(norms.shape[1]):
            axes[0].plot(norms[:, layer], style, color=f"C{layer}", label=f"layer {layer + 1}, {name}")
    axes[0].set_xlabel("SGD step")
    axes[0].set_ylabel("||W|| (Frobenius)")
    axes[0].set_title(f"(1) weight norms under plain SGD, lr {args.lr}: BN's grow monotonically", fontsize=9)
    axes[0].legend(fontsize=7, ncol=2)
    gap = result["train_eval_gap"]
    for key, label in (("eval_mode", "eval mode (running stats)"),
                       ("train_mode_shuffled", "train mode, shuffled batches of 60"),
                       ("train_mode_class_sorted", "train mode, class-sorted batches of 60")):
        axes[1].plot(gap["steps"], gap[key], marker=".", label=label)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("SGD step")
    axes[1].set_ylabel("held-out accuracy")
    axes[1].set_title("(4) train/eval gap of the BN net", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"BN properties on minigrad: {data_name}, sigmoid MLP, Glorot init, seed {args.seed}", fontsize=10)
    fig.tight_layout()
    common.save_figure(fig, path)


def main(argv=None) -> dict:
    p = common.make_parser(__doc__.splitlines()[0], steps=2000, quick_steps=40)
    p.add_argument("--lr", type=float, default=0.5, help="SGD learning rate (default: 0.5)")
    p.add_argument("--eval-every", type=int, default=None, help="steps between records (default: 50, 10 quick)")
    args = common.parse(p, argv)
    if args.eval_every is None:
        args.eval_every = 10 if args.quick else 50
    started = time.perf_counter()
    minigrad.manual_seed(args.seed)  # nn.Linear's default initialisation in the zero-gradient check
    data = common.load_data(args.data_dir, digits=args.digits, download=args.download)
    checks = {
        "scale_invariance": check_scale_invariance(data, args),
        "weight_norm_growth": weight_norm_growth(data, args, steps=min(args.steps, 500)),
        "zero_gradients": check_zero_gradients(args),
        "batch_of_one": check_batch_of_one(),
        "train_eval_gap": train_eval_gap(data, args, args.steps, args.eval_every),
        "double_backward": check_double_backward(data, args),
    }
    result = {"experiment": "E5 BN properties", "settings": common.settings(args, data), **checks,
              "run_seconds": time.perf_counter() - started}
    out = common.write_json(f"{args.out}/e5_properties.json", result)
    plot(result, data.name, args, f"{args.out}/e5_properties.png")

    s = checks["scale_invariance"]
    print(f"E5 on {data.name}, backend {args.backend}, lr {args.lr}, {args.steps} steps: {result['run_seconds']:.0f} s")
    verdict = {True: "pass", False: "FAIL"}
    for eps in (f"eps={common.BN_EPS:g}", "eps=0"):
        r = s[eps]
        print(f"  [{verdict[s['passed']]}] scale invariance ({eps}, a={SCALE:g}): |loss(aW)-loss(W)| "
              f"{r['loss_abs_diff']:.2e}, |grad(aW) - grad(W)/a|/|grad(W)/a| "
              f"{r['grad_aW_vs_grad_W_over_a_rel_err']:.2e}, max cos(W_j, g_j) {r['max_cos_W_row_grad_row']:.2e}")
    g = checks["weight_norm_growth"]
    exact, real = g["eps=0"], g[f"eps={common.BN_EPS:g}"]
    print(f"  [{verdict[g['passed']]}] ||W'||^2 = ||W||^2 + lr^2||g||^2: max rel err "
          f"{exact['norm_identity_max_rel_err']:.2e} (eps=0), {real['norm_identity_max_rel_err']:.2e} "
          f"(eps={common.BN_EPS:g}); BN norms non-decreasing: {real['with_bn_norms_nondecreasing']}")
    z = checks["zero_gradients"]
    print(f"  [{verdict[z['passed']]}] bias before BN: max |grad| {z['fused']['max_abs_bias_grad']:.1e} (fused), "
          f"{z['composite']['max_abs_bias_grad']:.1e} (composite); max |sum_i dl/dx_i| "
          f"{z['fused']['max_abs_sum_dl_dx_per_feature']:.1e}; eps term vs formula max rel err "
          f"{z['eps_term']['max_rel_err']:.1e}")
    b = checks["batch_of_one"]
    print(f"  [{verdict[b['passed']]}] batch of one in train mode raises: {b['fused']['message']!r}")
    t = checks["train_eval_gap"]
    u = t["unbiased_variance"]
    print(f"  [{verdict[t['passed']]}] train-mode (shuffled) minus eval-mode accuracy: {t['gap_first']:+.3f} at step "
          f"{t['steps'][0]}, {t['gap_last']:+.3f} at step {t['steps'][-1]}; class-sorted batches lose "
          f"{t['class_sorted_drop_last']:.3f} at the end; m/(m-1): eval/train output ratio matches "
          f"sqrt((var+eps)/(var*m/(m-1)+eps)) to {u['max_rel_err_measured_vs_predicted']:.1e} "
          f"(sqrt(59/60) = {u['sqrt_(m-1)/m']:.4f})")
    d = checks["double_backward"]
    print(f"  [{verdict[d['passed']]}] gradgradcheck fused {d['gradgradcheck_fused']['passed']}, composite "
          f"{d['gradgradcheck_composite']['passed']}; second derivatives of dL/dbeta "
          f"{d['second_derivatives_max_abs']['of dL/dbeta']}; "
          f"HVP vs finite differences rel err {d['hvp']['rel_err']:.1e} ({d['hvp']['n_params']} params), "
          f"g'Hg/|g|^2 = {d['hvp']['curvature_along_gradient']:.3g}")
    print(f"  wrote {out} and {args.out}/e5_properties.png")
    return result


if __name__ == "__main__":
    main()
