"""The main job: train an MLP with BatchNorm on the 8x8 digits bundled with scikit-learn (offline).

    python examples/train.py                          # numpy backend, fused BatchNorm, 20 epochs
    python examples/train.py --backend numba --no-fused --epochs 30 --save digits.npz
    python examples/train.py --save digits.npz --resume --epochs 40   # continue the run to 40 epochs

Model: 64-128-BN-ReLU-128-BN-ReLU-10, SGD with Nesterov momentum and a cosine learning-rate schedule,
cross-entropy loss. Prints the accuracy on a held-out 20% of the data (stratified, fixed by ``--split-seed``).

Reproducibility: ``minigrad.manual_seed(--seed)`` fixes the initialisation, and epoch ``e`` is shuffled with
seed ``(--seed, e)``, so a run resumed from a checkpoint sees the same batches as an uninterrupted one.
The checkpoint (``--save``) is a ``minigrad.save`` archive: model and optimizer state dicts, the random-number
state (``minigrad.get_rng_state``, so random layers such as Dropout would resume exactly) plus the epoch;
the cosine learning-rate schedule spans ``--epochs``, and a resumed run rejoins it where it stands.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import minigrad
from minigrad import nn, optim
from minigrad.data import DataLoader, datasets

try:
    from tqdm.auto import tqdm
except ImportError:  # the bar is a nicety; training works without it
    tqdm = None


def build_model(fused: bool, hidden: int = 128) -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, hidden), nn.BatchNorm1d(hidden, fused=fused), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden, fused=fused), nn.ReLU(),
        nn.Linear(hidden, 10),
    )


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with minigrad.no_grad():
        predicted = model(minigrad.tensor(x)).argmax(axis=1).numpy()
    model.train()
    return float((predicted == y).mean())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default=None, help="minigrad backend (default: MINIGRAD_BACKEND or numpy)")
    p.add_argument("--epochs", type=int, default=None,
                   help="total epochs, 20 (2 with --quick); a resumed run continues up to this")
    p.add_argument("--seed", type=int, default=0, help="seed for initialisation and shuffling (default: 0)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/held-out split (default: 0)")
    p.add_argument("--fused", action=argparse.BooleanOptionalAction, default=True,
                   help="fused BatchNorm op (the default), or the composite of primitive ops")
    p.add_argument("--batch-size", type=int, default=64, help="(default: 64)")
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate, cosine schedule to 0 (default: 0.1)")
    p.add_argument("--save", metavar="PATH", default=None, help="write a checkpoint here after training")
    p.add_argument("--resume", action="store_true", help="load the checkpoint at --save first")
    p.add_argument("--quick", action="store_true", help="smoke test: a small subset, 2 epochs by default")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = p.parse_args(argv)
    if args.resume and not args.save:
        p.error("--resume needs --save PATH (the checkpoint to load and update)")
    if args.resume and not os.path.isfile(args.save):
        p.error(f"--resume: no checkpoint at {args.save}; run once without --resume to create it")
    if args.epochs is None:
        args.epochs = 2 if args.quick else 20
    return args


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.backend:
        minigrad.set_backend(args.backend)
    minigrad.manual_seed(args.seed)

    x_train, y_train = datasets.digits(train=True, seed=args.split_seed)
    x_test, y_test = datasets.digits(train=False, seed=args.split_seed)
    if args.quick:
        x_train, y_train, x_test, y_test = x_train[:256], y_train[:256], x_test[:128], y_test[:128]

    model = build_model(args.fused)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=1e-4)
    batches_per_epoch = len(DataLoader((x_train, y_train), batch_size=args.batch_size, drop_last=True))

    first_epoch = 0
    if args.resume:
        try:
            checkpoint = minigrad.load(args.save)
        except minigrad.SerializationError as exc:
            raise SystemExit(f"train.py: error: --resume: cannot read the checkpoint: {exc}") from None
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        first_epoch = int(checkpoint["epoch"])
        if "rng" in checkpoint:  # (older checkpoints have none)
            minigrad.set_rng_state(checkpoint["rng"])
        print(f"resumed from {args.save} at epoch {first_epoch} "
              f"(held-out accuracy then {checkpoint['accuracy']:.2%})")
    # The cosine schedule spans --epochs; a resumed run rejoins it at its step (closed form from initial_lr).
    schedule = optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(1, args.epochs * batches_per_epoch), last_epoch=first_epoch * batches_per_epoch - 1)

    print(f"minigrad {minigrad.__version__}, backend {minigrad.get_backend()}, "
          f"{'fused' if args.fused else 'composite'} BatchNorm, {len(x_train)} train / {len(x_test)} held out")
    total = max(0, args.epochs - first_epoch) * batches_per_epoch
    bar = tqdm(total=total, unit="batch", disable=not args.progress or total == 0) if tqdm else None
    for epoch in range(first_epoch, args.epochs):
        # drop_last: a final batch of one sample would give BatchNorm a single value per channel.
        loader = DataLoader((x_train, y_train), batch_size=args.batch_size, shuffle=True, drop_last=True,
                            seed=args.seed * 100_003 + epoch)
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            if bar is not None:
                bar.update()
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}", refresh=False)
        if bar is None and args.progress:
            print(f"epoch {epoch + 1}/{args.epochs}: last batch loss {loss.item():.4f}")
    if bar is not None:
        bar.close()

    acc = accuracy(model, x_test, y_test)
    elapsed = time.perf_counter() - started
    print(f"held-out accuracy: {acc:.2%} ({round(acc * len(y_test))}/{len(y_test)}) after {args.epochs} epochs, "
          f"{elapsed:.1f} s")
    if args.save:
        minigrad.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "rng": minigrad.get_rng_state(), "epoch": max(args.epochs, first_epoch),
                       "accuracy": acc, "fused": args.fused, "seed": args.seed}, args.save)
        print(f"saved {args.save}")
    return acc


if __name__ == "__main__":
    main()
