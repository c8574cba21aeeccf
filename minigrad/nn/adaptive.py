"""AdaptiveLogSoftmaxWithLoss (Grave et al.'s adaptive softmax), PyTorch's module: a head over the frequent
classes and one entry per tail cluster, each cluster a low-rank two-layer projection."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..creation import zeros
from ..errors import ShapeError
from ..grad_mode import no_grad
from ..ops import cat
from ..tensor import Tensor
from . import functional as F  # noqa: N812 - PyTorch's convention
from .containers import ModuleList, Sequential
from .layers import Linear
from .module import Module

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])  # PyTorch's names (torch.nn.modules.adaptive)


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax: classes below ``cutoffs[0]`` are scored by the head, the others by the head's entry for
    their cluster plus the cluster's own log-softmax; cluster i projects to ``in_features // div_value**(i + 1)``
    features first. ``forward(input, target)`` returns ``(output, loss)``: each target's log-probability and
    their negated mean. ``log_prob(input)`` gives every class's, ``predict(input)`` the most likely class."""

    def __init__(self, in_features: int, n_classes: int, cutoffs, div_value: float = 4.0, head_bias: bool = False,
                 *, dtype=None, backend: str | None = None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of unique, positive integers "
                             "sorted in an increasing order, where each value is between 1 and n_classes-1, got "
                             f"{cutoffs} for n_classes={n_classes}")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = [int(c) for c in cutoffs] + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        factory = {"dtype": dtype, "backend": backend}
        self.head = Linear(in_features, self.head_size, bias=head_bias, **factory)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **factory),
                                        Linear(hidden, size, bias=False, **factory)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input: Tensor, target: Tensor) -> _ASMoutput:  # noqa: A002 - PyTorch's names
        name = type(self).__name__
        if not isinstance(target, Tensor) or target.dtype.kind not in "iu":
            raise TypeError(f"{name}: target must be an integer tensor, got "
                            f"{getattr(target, 'dtype', type(target).__name__)}")
        if target.ndim == 1:
            if input.ndim != 2 or input.shape[0] != target.shape[0]:
                raise ShapeError(f"{name}: a 1-D target expects a 2-D input with the same batch size, got input "
                                 f"{input.shape} and target {target.shape}")
        elif target.ndim == 0:
            if input.ndim != 1:
                raise ShapeError(f"{name}: a 0-D target expects a 1-D input, got input {input.shape}")
        else:
            raise ShapeError(f"{name}: 0-D or 1-D target expected (multi-target not supported), got {target.shape}")
        if input.shape[-1] != self.in_features:
            raise ShapeError(f"{name}: expected input with {self.in_features} features, got {input.shape}")
        batched = target.ndim == 1
        x = input if batched else input.unsqueeze(0)
        labels = target.numpy().reshape(-1).astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise IndexError(f"{name}: target values should be in [0, {self.n_classes - 1}], but values in range "
                             f"[{labels.min()}, {labels.max()}] were found")
        be = x._backend

        def index(values) -> Tensor:
            return Tensor(be.from_numpy(np.asarray(values, dtype=np.int64)), be)

        # The head scores each target (shortlist) or its cluster; a cluster row adds the cluster's log-softmax.
        # Rows are grouped by cluster, then put back in order: the same sums as PyTorch's index_copy_.
        gather = np.where(labels < self.shortlist_size, labels, 0)
        rows, pieces = [np.flatnonzero(labels < self.shortlist_size)], []
        pieces.append(zeros(len(rows[0]), dtype=x.dtype, backend=x.backend))
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            members = np.flatnonzero((labels >= low) & (labels < high))
            if members.size == 0:
                continue
            gather[members] = self.shortlist_size + i
            logprob = F.log_softmax(self.tail[i](x.index_select(0, index(members))), dim=1)
            pieces.append(logprob.gather(1, index(labels[members] - low).unsqueeze(1)).squeeze(1))
            rows.append(members)
        order = np.concatenate(rows)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        local = cat(pieces).index_select(0, index(inverse)) if len(pieces) > 1 else pieces[0]
        head_logprob = F.log_softmax(self.head(x), dim=1)
        output = local + head_logprob.gather(1, index(gather).unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, x: Tensor, head_output: Tensor) -> Tensor:
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = F.log_softmax(self.tail[i](x), dim=1)
            parts.append(cluster + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, 1)

    def _check_2d(self, x: Tensor, method: str) -> None:
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.in_features:
            raise ShapeError(f"{type(self).__name__}.{method}: expected a (N, {self.in_features}) input, got "
                             f"{getattr(x, 'shape', type(x).__name__)}")

    def log_prob(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """The log-probability of every class, (N, n_classes)."""
        self._check_2d(input, "log_prob")
        return self._full_log_prob(input, self.head(input))

    def predict(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """The most likely class of each row, (N,) int64: the head's argmax where it is a shortlist class, else the
        argmax of the full distribution (as ``log_prob(input).argmax(1)``, computed only where needed)."""
        self._check_2d(input, "predict")
        with no_grad():
            head_output = self.head(input)
            output = head_output.argmax(1).numpy().copy()
            outside = np.flatnonzero(output >= self.shortlist_size)
            if outside.size:
                be = input._backend
                rows = Tensor(be.from_numpy(outside.astype(np.int64)), be)
                full = self._full_log_prob(input.index_select(0, rows), head_output.index_select(0, rows))
                output[outside] = full.argmax(1).numpy()
        return Tensor(input._backend.from_numpy(output.astype(np.int64)), input._backend)
