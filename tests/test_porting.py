"""The porting test set: small PyTorch programs, written once as a PyTorch user writes them, run unchanged on
PyTorch and on minigrad (every backend) and compared step for step in float64.

Each program takes ``torch`` (the real module, or minigrad seen through ``_MinigradAsTorch``), a ``device``
("cpu" for PyTorch, a backend name for minigrad) and ``start(model)``, which gives minigrad's model PyTorch's
initial weights (the two libraries draw different random numbers). It returns what the user would look at
(losses, learning rates, logged norms, final weights); the two lists must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

BACKENDS = mg.testing.available_backends()


class _MinigradAsTorch:
    """minigrad under the names a PyTorch program uses: ``torch.nn``, ``torch.optim``, ``torch.tensor(...,
    device=...)`` (the device is a backend name); everything else is minigrad's own function of that name."""

    nn = mg.nn
    optim = mg.optim

    @staticmethod
    def tensor(data, dtype=None, device=None, requires_grad=False):
        return mg.tensor(data, dtype=dtype, requires_grad=requires_grad, backend=device)

    def __getattr__(self, name):
        return getattr(mg, name)


def _flatten(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield np.asarray(v, dtype=np.float64)


def _side_by_side(program, backend, rtol=1e-9, **kwargs):
    torch = pytest.importorskip("torch")
    initial = {}

    def start_torch(model):
        initial.update({k: v.detach().numpy().copy() for k, v in model.state_dict().items()})

    def start_minigrad(model):
        model.load_state_dict(initial)

    expected = program(torch, "cpu", start_torch, **kwargs)
    got = program(_MinigradAsTorch(), backend, start_minigrad, **kwargs)
    expected, got = list(_flatten(expected)), list(_flatten(got))
    assert len(got) == len(expected)
    for i, (a, b) in enumerate(zip(got, expected)):
        # An absolute floor scaled to the array: after several optimizer steps, an element near zero carries the
        # rounding of its larger neighbours (a few 1e-12 in a weight matrix of entries ~0.1), and summation order
        # (Numba's parallel reductions against PyTorch's) decides it.
        scale = float(np.max(np.abs(b))) if np.size(b) else 0.0
        np.testing.assert_allclose(a, b, rtol=rtol, atol=max(1e-12, rtol * scale),
                                   err_msg=f"{program.__name__}: value {i}")


RNG = np.random.default_rng(2024)
BLOBS = RNG.standard_normal((32, 6))
BLOB_LABELS = (BLOBS[:, 0] + BLOBS[:, 1] ** 2 > 0.5).astype(np.int64) + (BLOBS[:, 2] > 0.8)
IMAGES = RNG.standard_normal((8, 2, 9, 7))
IMAGE_LABELS = RNG.integers(0, 4, 8)
TOKENS = np.array([[3, 5, 7, 0, 0], [2, 9, 9, 4, 1], [6, 0, 0, 0, 0], [8, 3, 3, 3, 0], [1, 2, 5, 0, 0],
                   [7, 7, 6, 1, 9]])
TOKEN_LABELS = np.array([0, 1, 0, 1, 0, 1])
SEQUENCES = RNG.standard_normal((6, 3, 16))
TARGETS = RNG.standard_normal((32, 2))


# -- the programs ---------------------------------------------------------------------------------------------
def mlp_with_clipping_and_warmup(torch, device, start):
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.GELU(), torch.nn.Linear(16, 3)).double()
    start(model)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-2, weight_decay=0.05)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=3)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=5)
    scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, decay], milestones=[3])
    x, y = torch.tensor(BLOBS, device=device), torch.tensor(BLOB_LABELS, device=device)
    log = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.05)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
        optimizer.step()
        scheduler.step()
        log.append([loss.item(), norm.item(), scheduler.get_last_lr()[0]])
    return log + [p.detach().numpy() for p in model.parameters()]


def cnn_with_group_norm_and_adaptive_pool(torch, device, start):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential(
                torch.nn.Conv2d(2, 8, 3, padding=1), torch.nn.GroupNorm(4, 8), torch.nn.SiLU(),
                torch.nn.Conv2d(8, 8, 3, stride=2), torch.nn.GroupNorm(2, 8), torch.nn.ReLU(),
            )
            self.pool = torch.nn.AdaptiveAvgPool2d((2, 2))
            self.head = torch.nn.Linear(8 * 2 * 2, 4)

        def forward(self, x):
            return self.head(torch.flatten(self.pool(self.features(x)), 1))

    model = Net().double()
    start(model)
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    criterion = torch.nn.CrossEntropyLoss()
    x, y = torch.tensor(IMAGES, device=device), torch.tensor(IMAGE_LABELS, device=device)
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).double().mean().item()
    return losses + [accuracy] + [p.detach().numpy() for p in model.parameters()]


def embedding_bag_of_words(torch, device, start):
    class BagOfWords(torch.nn.Module):
        def __init__(self, vocab, dim, classes):
            super().__init__()
            self.embed = torch.nn.Embedding(vocab, dim, padding_idx=0)
            self.out = torch.nn.Linear(dim, classes)

        def forward(self, ids):
            mask = (ids != 0).unsqueeze(-1).double()
            mean = (self.embed(ids) * mask).sum(1) / mask.sum(1)
            return self.out(mean)

    model = BagOfWords(10, 4, 2).double()
    start(model)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    ids, labels = torch.tensor(TOKENS, device=device), torch.tensor(TOKEN_LABELS, device=device)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(ids), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses + [model.embed.weight.detach().numpy(), model.embed.weight.detach().numpy()[0]]


def gradient_norm_logging_hooks(torch, device, start):
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    start(model)
    model.to(device)
    norms, activations = [], []
    for name, p in model.named_parameters():
        p.register_hook(lambda grad, name=name: norms.append(grad.norm().item()))
    handle = model[1].register_forward_hook(lambda module, args, output: activations.append(output.abs().mean().item()))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.tensor(BLOBS, device=device), torch.tensor(TARGETS, device=device)
    for step in range(3):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        if step == 1:
            handle.remove()
    return [norms, activations, len(activations)]


def binary_classifier_with_logits(torch, device, start):
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ELU(), torch.nn.Linear(8, 1)).double()
    start(model)
    model.to(device)
    labels = (BLOB_LABELS > 0).astype(np.float64).reshape(-1, 1)
    criterion = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(np.array([2.0]), device=device))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.5, weight_decay=1e-3)
    x, y = torch.tensor(BLOBS, device=device), torch.tensor(labels, device=device)
    log = []
    for _ in range(5):
        optimizer.zero_grad()
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        optimizer.step()
        accuracy = ((logits > 0).double() == y).double().mean().item()
        log.append([loss.item(), accuracy])
    probabilities = torch.sigmoid(model(x))
    return log + [torch.nn.BCELoss()(probabilities, y).item()]


def rmsprop_regression(torch, device, start, loss_name="SmoothL1Loss"):
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Softplus(), torch.nn.Linear(12, 2)).double()
    start(model)
    model.to(device)
    criterion = getattr(torch.nn, loss_name)()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01, momentum=0.5, centered=True)
    x, y = torch.tensor(BLOBS, device=device), torch.tensor(TARGETS, device=device)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses + [p.detach().numpy() for p in model.parameters()]


def adagrad_regression_with_multistep(torch, device, start):
    model = torch.nn.Linear(6, 2).double()
    start(model)
    model.to(device)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.5, lr_decay=0.01, weight_decay=1e-3)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 4], gamma=0.5)
    x, y = torch.tensor(BLOBS, device=device), torch.tensor(TARGETS, device=device)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        loss = torch.nn.functional.l1_loss(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append([loss.item(), optimizer.param_groups[0]["lr"]])
    return losses + [model.weight.detach().numpy()]


def reduce_on_plateau_loop(torch, device, start):
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).double()
    start(model)
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1, threshold=1e-2)
    x, y = torch.tensor(BLOBS[:24], device=device), torch.tensor(TARGETS[:24], device=device)
    vx, vy = torch.tensor(BLOBS[24:], device=device), torch.tensor(TARGETS[24:], device=device)
    log = []
    for _ in range(10):
        model.train()
        optimizer.zero_grad()
        torch.nn.functional.huber_loss(model(x), y, delta=0.5).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = torch.nn.functional.mse_loss(model(vx), vy).item()
        scheduler.step(val_loss)
        log.append([val_loss, optimizer.param_groups[0]["lr"]])
    return log


def conv1d_sequence_model(torch, device, start):
    class SequenceNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv1d(3, 8, kernel_size=5, padding=2)
            self.conv2 = torch.nn.Conv1d(8, 8, kernel_size=3, stride=2, dilation=2, groups=2)
            self.act = torch.nn.SiLU()
            self.dropout = torch.nn.Dropout(0.3)
            self.fc = torch.nn.Linear(8, 2)

        def forward(self, x):
            h = self.act(self.conv2(self.act(self.conv1(x))))
            return self.fc(self.dropout(h.mean(dim=2)))

    model = SequenceNet().double()
    start(model)
    model.to(device)
    model.eval()  # Dropout off: the two libraries draw different masks
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02, amsgrad=True)
    x = torch.tensor(SEQUENCES, device=device)
    y = torch.tensor(np.array([0, 1, 1, 0, 1, 0]), device=device)
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses + [p.detach().numpy() for p in model.parameters()]


def kl_divergence_distillation(torch, device, start):
    teacher = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    student = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3)).double()
    pair = torch.nn.ModuleDict({"teacher": teacher, "student": student})
    start(pair)
    pair.to(device)
    teacher.requires_grad_(False)
    optimizer = torch.optim.SGD(student.parameters(), lr=0.3)
    x, y = torch.tensor(BLOBS, device=device), torch.tensor(BLOB_LABELS, device=device)
    temperature, log = 2.0, []
    for _ in range(5):
        optimizer.zero_grad()
        with torch.no_grad():
            soft_targets = torch.nn.functional.softmax(teacher(x) / temperature, dim=1)
        logits = student(x)
        distill = torch.nn.functional.kl_div(torch.nn.functional.log_softmax(logits / temperature, dim=1),
                                             soft_targets, reduction="batchmean") * temperature ** 2
        loss = 0.7 * distill + 0.3 * torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        log.append([distill.item(), loss.item()])
    return log + [p.detach().numpy() for p in student.parameters()]


def one_cycle_with_parameter_list(torch, device, start):
    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(6, 6) for _ in range(2)])
            self.scales = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(6)) for _ in range(2)])
            self.out = torch.nn.Linear(6, 1)

        def forward(self, x):
            for layer, scale in zip(self.layers, self.scales):
                x = torch.nn.functional.elu(layer(x)) * scale
            return torch.sigmoid(self.out(x))

    model = Scaled().double()
    start(model)
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, epochs=2, steps_per_epoch=4,
                                                    three_phase=True)
    labels = (BLOB_LABELS > 0).astype(np.float64).reshape(-1, 1)
    criterion = torch.nn.BCELoss()
    log = []
    for _ in range(2):
        for batch in range(4):
            x = torch.tensor(BLOBS[batch * 8:(batch + 1) * 8], device=device)
            y = torch.tensor(labels[batch * 8:(batch + 1) * 8], device=device)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            group = optimizer.param_groups[0]
            log.append([loss.item(), group["lr"], group["momentum"]])
    return log + [p.detach().numpy() for p in model.parameters()]


def dropout2d_training_then_eval(torch, device, start):
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.Dropout2d(0.5), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 4)).double()
    start(model)
    model.to(device)
    x = torch.tensor(IMAGES, device=device)
    model.train()
    dropped = model[1](model[0](x))
    channel_zero = (dropped.abs().sum((2, 3)) == 0).double()  # each channel is kept whole or dropped whole
    whole = ((dropped == 0).double().mean((2, 3)) == channel_zero).all().item()
    model.eval()
    with torch.no_grad():
        return [float(whole), model(x).detach().numpy()]


PROGRAMS = [mlp_with_clipping_and_warmup, cnn_with_group_norm_and_adaptive_pool, embedding_bag_of_words,
            gradient_norm_logging_hooks, binary_classifier_with_logits, rmsprop_regression,
            adagrad_regression_with_multistep, reduce_on_plateau_loop, conv1d_sequence_model,
            kl_divergence_distillation, one_cycle_with_parameter_list, dropout2d_training_then_eval]


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's warnings (kl_div's "mean", scheduler order)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program_runs_unchanged_and_agrees_with_pytorch(program, backend):
    _side_by_side(program, backend)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("loss_name", ["HuberLoss", "L1Loss"])
def test_rmsprop_regression_with_other_losses(loss_name):
    _side_by_side(rmsprop_regression, "numpy", loss_name=loss_name)


# -- a checkpointed run with Dropout, resumed ----------------------------------------------------------------
def resumable_dropout_training(torch, device, path, steps=6, resume=False, checkpoint_at=None):
    """Train with Dropout; optionally save a checkpoint (model, optimizer, scheduler, RNG state) or resume."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                torch.nn.Linear(16, 2)).double().to(device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.5, total_iters=4)
    x, y = torch.tensor(BLOBS, device=device), torch.tensor(TARGETS, device=device)
    first = 0
    if resume:
        checkpoint = torch.load(path)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        torch.set_rng_state(checkpoint["rng"])
        first = checkpoint["epoch"]
    losses = []
    for epoch in range(first, steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if epoch + 1 == checkpoint_at:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "epoch": epoch + 1},
                       path)
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("backend", BACKENDS)
def test_resumed_dropout_run_is_exact_in_both_libraries(backend, tmp_path):
    torch = pytest.importorskip("torch")
    for lib, device in ((torch, "cpu"), (_MinigradAsTorch(), backend)):
        path = tmp_path / f"{type(lib).__name__}.ckpt"
        losses, weights = resumable_dropout_training(lib, device, path, checkpoint_at=3)
        lib.manual_seed(99)  # another stream in between: the checkpoint must restore the RNG
        resumed_losses, resumed_weights = resumable_dropout_training(lib, device, path, resume=True)
        assert resumed_losses == losses[3:]
        for a, b in zip(weights, resumed_weights):
            np.testing.assert_array_equal(a, b)
