"""torch.utils.data as a PyTorch user expects it: datasets, random_split, samplers, collation, DataLoader and
minigrad.Generator.

Where a result does not depend on random numbers (collation, indexing, batches of a sequential sampler, split
lengths, argument errors) it is compared with torch.utils.data itself; random results are checked for
structure (every sample exactly once per epoch, ...) and reproducibility, as minigrad's streams differ from
PyTorch's.
"""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad
from minigrad.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)
from minigrad.data import loader as loader_module

Point = collections.namedtuple("Point", ["x", "y"])


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _numba_available() -> bool:
    return minigrad.backends.available().get("numba") is True


# -- comparing minigrad's results with PyTorch's -----------------------------------------------------------
class T:
    """A tensor placeholder in a sample: becomes a torch or a minigrad tensor."""

    def __init__(self, array) -> None:
        self.array = np.asarray(array)


def build(obj, lib: str):
    """The sample ``obj`` with its ``T`` placeholders as tensors of ``lib`` ("torch" or "minigrad")."""
    if isinstance(obj, T):
        if lib == "torch":
            import torch

            return torch.from_numpy(obj.array.copy())
        return minigrad.from_numpy(obj.array.copy())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(build(o, lib) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(build(o, lib) for o in obj)
    if isinstance(obj, dict):
        return {k: build(v, lib) for k, v in obj.items()}
    return obj


def plain(obj):
    """A library-free description of a (collated) result: tensors become ("tensor", dtype, shape, values); the
    container types are kept (a namedtuple by its class), so torch's and minigrad's results compare equal
    exactly when they have the same structure, dtypes and values."""
    if isinstance(obj, minigrad.Tensor):
        a = obj.numpy()
        return ("tensor", str(a.dtype), a.shape, a.tolist())
    if type(obj).__module__.startswith("torch") and hasattr(obj, "numpy"):
        a = obj.detach().numpy()
        return ("tensor", str(a.dtype), a.shape, a.tolist())
    if isinstance(obj, np.ndarray):
        return ("ndarray", str(obj.dtype), obj.shape, obj.tolist())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__, tuple(plain(o) for o in obj))
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [plain(o) for o in obj])
    if isinstance(obj, dict):
        return (type(obj).__name__, {k: plain(v) for k, v in obj.items()})
    return (type(obj).__name__, obj)


def same_error(call_torch, call_minigrad):
    """Both calls raise, and the same exception type; returns minigrad's exception."""
    with pytest.raises(Exception) as expected:
        call_torch()
    with pytest.raises(expected.type) as got:
        call_minigrad()
    return got.value


# -- imports and the Dataset classes ------------------------------------------------------------------------
def test_torch_utils_data_names_port_by_renaming(torch):
    import minigrad.utils.data as mud

    for name in ("Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
                 "StackDataset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
                 "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader", "default_collate",
                 "default_convert", "get_worker_info"):
        assert hasattr(torch.utils.data, name)
        assert getattr(mud, name) is getattr(minigrad.data, name)

    class MyDataset(mud.Dataset[int]):  # subscriptable, as torch's generic Dataset
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i

    assert [MyDataset()[i] for i in range(3)] == [0, 1, 2]


def test_dataset_base_classes():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__iter__"):
        iter(IterableDataset())

    class Range(Dataset):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            if not 0 <= i < self.n:
                raise IndexError(i)
            return i

    both = Range(2) + Range(3)
    assert isinstance(both, ConcatDataset) and [both[i] for i in range(len(both))] == [0, 1, 0, 1, 2]

    class Stream(IterableDataset):
        def __init__(self, items):
            self.items = items

        def __iter__(self):
            return iter(self.items)

        def __len__(self):
            return len(self.items)

    chain = Stream([1, 2]) + Stream([3])
    assert isinstance(chain, ChainDataset) and list(chain) == [1, 2, 3] and len(chain) == 3


def test_subset_and_concat_indexing_as_torch(torch):
    tu = torch.utils.data
    a, b, c = list(range(10, 15)), [20, 21], list(range(30, 34))
    ours, theirs = ConcatDataset([a, b, c]), tu.ConcatDataset([a, b, c])
    assert ours.cumulative_sizes == theirs.cumulative_sizes and len(ours) == len(theirs) == 11
    for i in range(-11, 11):
        assert ours[i] == theirs[i]
    same_error(lambda: theirs[-12], lambda: ours[-12])
    same_error(lambda: theirs[11], lambda: ours[11])
    same_error(lambda: tu.ConcatDataset([]), lambda: ConcatDataset([]))

    ours_stream, theirs_stream = _streams(2)
    same_error(lambda: tu.ConcatDataset([a, theirs_stream]), lambda: ConcatDataset([a, ours_stream]))

    indices = [4, 0, 7, 7, -1]
    sub, tsub = Subset(ours, indices), tu.Subset(theirs, indices)
    assert len(sub) == len(tsub) == 5
    assert [sub[i] for i in range(-5, 5)] == [tsub[i] for i in range(-5, 5)]
    assert sub.__getitems__([0, 2, 3]) == tsub.__getitems__([0, 2, 3])
    nested = Subset(Subset(list(range(100)), list(range(50, 100))), [1, 3])
    assert [nested[0], nested[1]] == [51, 53]


def test_subset_subclass_must_override_getitems(torch):
    class Mine(Subset):
        def __getitem__(self, idx):
            return 0

    class Theirs(torch.utils.data.Subset):
        def __getitem__(self, idx):
            return 0

    err = same_error(lambda: Theirs([1, 2], [0]), lambda: Mine([1, 2], [0]))
    assert "__getitems__" in str(err)


def test_chain_and_stack_datasets_as_torch(torch):
    tu = torch.utils.data

    def streams(base):
        class Stream(base):
            def __init__(self, items):
                self.items = items

            def __iter__(self):
                return iter(self.items)

            def __len__(self):
                return len(self.items)

        return Stream([1, 2]), Stream([]), Stream([3, 4, 5])

    ours, theirs = ChainDataset(streams(IterableDataset)), tu.ChainDataset(streams(tu.IterableDataset))
    assert list(ours) == list(theirs) and len(ours) == len(theirs) == 5
    same_error(lambda: list(tu.ChainDataset([[1]])), lambda: list(ChainDataset([[1]])))
    same_error(lambda: len(tu.ChainDataset([[1]])), lambda: len(ChainDataset([[1]])))

    x, y = [1, 2, 3], ["a", "b", "c"]
    assert StackDataset(x, y)[1] == tu.StackDataset(x, y)[1] == (2, "b")
    assert StackDataset(a=x, b=y)[2] == tu.StackDataset(a=x, b=y)[2] == {"a": 3, "b": "c"}
    assert len(StackDataset(x, y)) == 3
    for args, kwargs in (((x, [1]), {}), ((), {}), ((x,), {"b": y})):
        same_error(lambda a=args, k=kwargs: tu.StackDataset(*a, **k), lambda a=args, k=kwargs: StackDataset(*a, **k))


def test_tensor_dataset_items_are_tensors():
    x = minigrad.randn(5, 3)
    y = minigrad.tensor([0, 1, 2, 3, 4])
    ds = TensorDataset(x, y)
    assert ds.tensors[0] is x and ds.tensors[1] is y  # given tensors are kept, as torch
    xi, yi = ds[2]
    assert isinstance(xi, minigrad.Tensor) and xi.shape == (3,) and yi.shape == () and yi.item() == 2
    np.testing.assert_array_equal(xi.numpy(), x.numpy()[2])
    with minigrad.no_grad():
        x.mul_(2.0)  # later in-place changes show in items and batches, as in PyTorch
    np.testing.assert_array_equal(ds[2][0].numpy(), x.numpy()[2])
    np.testing.assert_array_equal(next(iter(DataLoader(ds, batch_size=5)))[0].numpy(), x.numpy())
    from_arrays = TensorDataset(np.arange(6.0).reshape(3, 2), np.arange(3))
    assert isinstance(from_arrays[0][0], minigrad.Tensor) and from_arrays[0][0].dtype == np.float64


# -- random_split ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, fractions", [
    (10, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]), (7, [1 / 3] * 3), (100, [0.1] * 10), (13, [0.8, 0.1, 0.1]),
    (5, [0.25, 0.75]), (3, [0.2, 0.2, 0.2, 0.2, 0.2]),
])
def test_random_split_lengths_from_fractions_as_torch(torch, n, fractions):
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = random_split(list(range(n)), fractions, generator=minigrad.Generator().manual_seed(0))
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = torch.utils.data.random_split(list(range(n)), fractions, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert len(ours_warned) == len(theirs_warned)  # a warning per empty split, as torch
    assert all(isinstance(s, Subset) for s in ours)


@given(n=st.integers(0, 300), weights=st.lists(st.integers(1, 50), min_size=1, max_size=8))
def test_random_split_rounding_rule_as_torch(n, weights):
    torch = pytest.importorskip("torch")
    fractions = [w / sum(weights) for w in weights]
    if sum(fractions) > 1:  # rounded up: not fractions to either, and an error in both
        same_error(lambda: torch.utils.data.random_split(range(n), fractions),
                   lambda: random_split(range(n), fractions))
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty splits warn, in both
        ours = random_split(range(n), fractions, generator=minigrad.Generator())
        theirs = torch.utils.data.random_split(range(n), fractions)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s.indices) == list(range(n))


def test_random_split_errors_as_torch(torch):
    data = list(range(10))
    for lengths in ([3, 3], [5, 6], [1.5, -0.5], [0.5, 0.6], [0.3, 0.3]):
        same_error(lambda n=lengths: torch.utils.data.random_split(data, n),
                   lambda n=lengths: random_split(data, n, generator=minigrad.Generator()))
    with pytest.raises(ValueError, match="random_split"):
        random_split(data, [12, -2])
    with pytest.raises(TypeError, match="minigrad.Generator"):
        random_split(data, [5, 5], generator=np.random.default_rng(0))


def test_random_split_is_a_reproducible_partition():
    data = list(range(50))

    def split(seed):
        g = minigrad.Generator().manual_seed(seed)
        return [list(s.indices) for s in random_split(data, [20, 25, 5], generator=g)]

    parts = split(0)
    assert [len(p) for p in parts] == [20, 25, 5]
    assert sorted(sum(parts, [])) == data
    assert split(0) == parts and split(1) != parts
    runs = []
    for _ in range(2):
        minigrad.manual_seed(7)
        runs.append([list(s.indices) for s in random_split(data, [0.5, 0.5])])
    assert runs[0] == runs[1] and sorted(sum(runs[0], [])) == data


# -- samplers ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 7, 12])
@pytest.mark.parametrize("batch_size", [1, 3, 4, 20])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_batches_as_torch(torch, n, batch_size, drop_last):
    tu = torch.utils.data
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = tu.BatchSampler(tu.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert list(BatchSampler([5, 3, 1, 0, 2], batch_size, drop_last)) == list(
        tu.BatchSampler([5, 3, 1, 0, 2], batch_size, drop_last))
    assert list(SequentialSampler(range(n))) == list(tu.SequentialSampler(range(n)))


def test_sampler_argument_errors_as_torch(torch):
    tu = torch.utils.data
    data = list(range(5))
    cases = [
        (lambda m: m.BatchSampler(data, 0, False)), (lambda m: m.BatchSampler(data, True, False)),
        (lambda m: m.BatchSampler(data, 2.0, False)), (lambda m: m.BatchSampler(data, 2, 1)),
        (lambda m: m.RandomSampler(data, replacement=1)), (lambda m: m.RandomSampler(data, num_samples=0)),
        (lambda m: m.RandomSampler([], replacement=False)), (lambda m: m.RandomSampler(data, num_samples=2.5)),
        (lambda m: m.WeightedRandomSampler([1.0, 2.0], 0)), (lambda m: m.WeightedRandomSampler([1.0], 1, 1)),
        (lambda m: m.WeightedRandomSampler([[1.0, 2.0]], 1)),
        (lambda m: list(m.WeightedRandomSampler([1.0, -1.0], 2))),
        (lambda m: list(m.WeightedRandomSampler([0.0, 0.0], 2))),
        (lambda m: list(m.WeightedRandomSampler([1.0, 0.0, 1.0], 4, replacement=False))),
    ]
    for case in cases:
        err = same_error(lambda c=case: c(tu), lambda c=case: c(minigrad.data))
        assert str(err)


def test_random_sampler_permutes_and_is_reproducible():
    data = list(range(23))

    def epochs(sampler, k=3):
        return [list(sampler) for _ in range(k)]

    ours = epochs(RandomSampler(data, generator=minigrad.Generator().manual_seed(3)))
    assert all(sorted(e) == data for e in ours)
    assert ours[0] != ours[1]  # each pass draws the next permutation
    assert epochs(RandomSampler(data, generator=minigrad.Generator().manual_seed(3))) == ours
    assert epochs(RandomSampler(data, generator=minigrad.Generator().manual_seed(4))) != ours

    longer = list(RandomSampler(data, num_samples=50, generator=minigrad.Generator().manual_seed(0)))
    assert len(longer) == 50 and sorted(longer[:23]) == data and sorted(longer[23:46]) == data
    assert len(set(longer[46:])) == 4
    shorter = RandomSampler(data, num_samples=5)
    assert len(shorter) == 5 and len(set(shorter)) == 5

    drawn = list(RandomSampler(data, replacement=True, num_samples=200, generator=minigrad.Generator().manual_seed(1)))
    assert len(drawn) == 200 and set(drawn) <= set(data) and len(set(drawn)) > 1

    runs = []
    for _ in range(2):
        minigrad.manual_seed(11)
        runs.append(epochs(RandomSampler(data)))
    assert runs[0] == runs[1] and runs[0][0] != runs[0][1]


def test_subset_random_sampler():
    indices = [10, 3, 7, 42, 5]
    sampler = SubsetRandomSampler(indices, generator=minigrad.Generator().manual_seed(0))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(indices) and sorted(second) == sorted(indices) and len(sampler) == 5
    assert list(SubsetRandomSampler(indices, generator=minigrad.Generator().manual_seed(0))) == first


def test_weighted_random_sampler():
    g = minigrad.Generator().manual_seed(0)
    drawn = list(WeightedRandomSampler([0.0, 1.0, 3.0, 0.0], 20000, generator=g))
    assert set(drawn) == {1, 2}
    # index 2 has probability 3/4; 20000 draws put the frequency within 0.75 +- 0.02 (over 6 standard deviations).
    assert abs(drawn.count(2) / 20000 - 0.75) < 0.02
    unique = list(WeightedRandomSampler(minigrad.tensor([1.0, 2.0, 3.0, 4.0]), 4, replacement=False,
                                        generator=minigrad.Generator().manual_seed(1)))
    assert sorted(unique) == [0, 1, 2, 3]
    again = list(WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 4, replacement=False,
                                       generator=minigrad.Generator().manual_seed(1)))
    assert again == unique
    for seed in range(20):  # zero weights come last, once the others are drawn, as torch.multinomial
        drawn = list(WeightedRandomSampler([1.0, 0.0, 5.0, 0.0, 2.0], 5, replacement=False,
                                           generator=minigrad.Generator().manual_seed(seed)))
        assert sorted(drawn[:3]) == [0, 2, 4] and sorted(drawn[3:]) == [1, 3]
    # Without replacement the first draw is index i with probability w[i] / sum(w): 3/4 for index 1 here.
    g = minigrad.Generator().manual_seed(5)
    firsts = [next(iter(WeightedRandomSampler([1.0, 3.0], 2, replacement=False, generator=g))) for _ in range(20000)]
    assert abs(firsts.count(1) / 20000 - 0.75) < 0.02
    assert len(WeightedRandomSampler([1, 2], 7)) == 7


def test_samplers_refuse_other_generators():
    for make in (lambda g: RandomSampler([1, 2], generator=g), lambda g: SubsetRandomSampler([1], generator=g),
                 lambda g: WeightedRandomSampler([1.0], 1, generator=g)):
        with pytest.raises(TypeError, match="minigrad.Generator"):
            make(np.random.default_rng(0))


def test_custom_sampler_subclass():
    class EvenFirst(Sampler[int]):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter([*range(0, self.n, 2), *range(1, self.n, 2)])

        def __len__(self):
            return self.n

    with pytest.raises(NotImplementedError):
        iter(Sampler())
    batches = list(DataLoader(list(range(5)), batch_size=2, sampler=EvenFirst(5)))
    assert [b.tolist() for b in batches] == [[0, 2], [4, 1], [3]]


# -- Generator ----------------------------------------------------------------------------------------------------
def test_generator_seeding_and_state(torch):
    g = minigrad.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    for seed in (-1, -(2 ** 63), 2 ** 64 - 1):
        expected = torch.Generator().manual_seed(seed).initial_seed()
        assert minigrad.Generator().manual_seed(seed).initial_seed() == expected
    state = g.get_state()
    assert isinstance(state, minigrad.Tensor) and state.dtype == np.uint8 and state.ndim == 1
    first = list(RandomSampler(range(30), generator=g))
    assert g.set_state(state) is g
    assert list(RandomSampler(range(30), generator=g)) == first and g.initial_seed() == 5
    seed = g.seed()
    assert isinstance(seed, int) and g.initial_seed() == seed


def test_generator_errors_change_nothing():
    g = minigrad.Generator().manual_seed(2)
    state = g.get_state()
    with pytest.raises(ValueError, match="get_state"):
        g.set_state(minigrad.tensor([1, 2, 3], dtype="uint8"))
    with pytest.raises(TypeError, match="uint8"):
        g.set_state(minigrad.tensor([1.0]))
    with pytest.raises(TypeError, match="int"):
        g.manual_seed(1.5)
    with pytest.raises(ValueError, match="2\\*\\*64"):
        g.manual_seed(2 ** 64)
    with pytest.raises(ValueError, match="host"):
        minigrad.Generator("cuda")
    assert np.array_equal(g.get_state().numpy(), state.numpy()) and g.initial_seed() == 2


# -- default_collate and default_convert ----------------------------------------------------------------------------
COLLATE_BATCHES = {
    "tensors": [T(np.arange(6, dtype=np.float32).reshape(2, 3) + k) for k in range(4)],
    "int tensors": [T(np.array(k, dtype=np.int64)) for k in range(3)],
    "arrays": [np.arange(4, dtype=np.float64) * k for k in range(3)],
    "int32 arrays": [np.arange(2, dtype=np.int32) + k for k in range(2)],
    "floats": [0.5, 1.25, -3.0],
    "ints": [1, 2, -7],
    "bools": [True, False, True],
    "numpy scalars": [np.float32(1.5), np.float32(2.5)],
    "numpy int scalars": [np.int64(3), np.int64(4)],
    "numpy bools": [np.bool_(True), np.bool_(False)],
    "strings": ["a", "bc", "d"],
    "bytes": [b"a", b"b"],
    "tuples": [(T(np.ones(2, np.float32) * k), k) for k in range(3)],
    "lists": [[k, float(k), "s"] for k in range(3)],
    "dicts": [{"x": T(np.full(3, k, np.float32)), "label": k, "name": str(k)} for k in range(3)],
    "namedtuples": [Point(np.float32(k), [k, k + 1]) for k in range(3)],
    "nested": [{"a": (k, {"b": [np.arange(2) + k, float(k)]}), "c": Point(T(np.array([k], np.int64)), "z")}
               for k in range(2)],
    "ordered dicts": [collections.OrderedDict([("z", k), ("a", float(k))]) for k in range(2)],
}


@pytest.mark.parametrize("name", sorted(COLLATE_BATCHES))
def test_default_collate_as_torch(torch, name):
    batch = COLLATE_BATCHES[name]
    ours = default_collate(build(batch, "minigrad"))
    theirs = torch.utils.data.default_collate(build(batch, "torch"))
    assert plain(ours) == plain(theirs)


@pytest.mark.parametrize("name", sorted(COLLATE_BATCHES))
def test_default_convert_as_torch(torch, name):
    sample = COLLATE_BATCHES[name][0]
    ours = default_convert(build(sample, "minigrad"))
    theirs = torch.utils.data.default_convert(build(sample, "torch"))
    assert plain(ours) == plain(theirs)


def test_default_collate_errors_as_torch(torch):
    cases = [
        [(1, 2), (3,)],                                 # sequences of different lengths
        [object(), object()],                           # no rule for the type
        [np.array(["a"]), np.array(["b"])],             # string arrays
        [T(np.zeros(2, np.float32)), T(np.zeros(3, np.float32))],  # tensors of different shapes
        [np.zeros(2), np.zeros(3)],                     # arrays of different shapes
    ]
    for batch in cases:
        err = same_error(lambda b=batch: torch.utils.data.default_collate(build(b, "torch")),
                         lambda b=batch: default_collate(build(b, "minigrad")))
        assert str(err)
    with pytest.raises(TypeError, match="float16"):
        default_collate([np.zeros(2, np.float16)] * 2)  # a dtype minigrad has no tensors of


def test_default_collate_keeps_the_graph_of_tensors():
    w = minigrad.tensor([1.0, 2.0], requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    assert batch.requires_grad
    upstream = minigrad.tensor([[0.5, -1.0], [2.0, 0.25]])
    (batch * upstream).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * upstream.numpy()[0] + 3 * upstream.numpy()[1])


# -- DataLoader ----------------------------------------------------------------------------------------------------
class _MapData:
    """A map-style dataset of dict samples, defined for both libraries alike."""

    def __init__(self, n, lib):
        self.items = [build({"x": T(np.full(2, k, np.float32)), "k": k, "w": k / 4, "tag": f"s{k}"}, lib)
                      for k in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _streams(n):
    import torch

    class Ours(IterableDataset):
        def __iter__(self):
            return iter([(np.float32(k), k) for k in range(n)])

        def __len__(self):
            return n

    class Theirs(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter([(np.float32(k), k) for k in range(n)])

        def __len__(self):
            return n

    return Ours(), Theirs()


LOADER_CASES = {
    "defaults": {},
    "batches of 3": {"batch_size": 3},
    "drop_last": {"batch_size": 3, "drop_last": True},
    "no batching": {"batch_size": None},
    "sampler": {"batch_size": 2, "sampler": [6, 1, 4, 0]},
    "batch_sampler": {"batch_sampler": [[0, 1, 2], [5], [3, 4]]},
    "collate_fn": {"batch_size": 4, "collate_fn": lambda batch: [b["k"] for b in batch]},
}


@pytest.mark.parametrize("case", sorted(LOADER_CASES))
def test_loader_on_a_map_dataset_as_torch(torch, case):
    kwargs = LOADER_CASES[case]
    ours = DataLoader(_MapData(7, "minigrad"), **kwargs)
    theirs = torch.utils.data.DataLoader(_MapData(7, "torch"), **kwargs)
    assert len(ours) == len(theirs)
    assert plain(list(ours)) == plain(list(theirs))


@pytest.mark.parametrize("kwargs", [{}, {"batch_size": 3}, {"batch_size": 3, "drop_last": True},
                                    {"batch_size": None}, {"batch_size": 10}])
def test_loader_on_an_iterable_dataset_as_torch(torch, kwargs):
    ours_ds, theirs_ds = _streams(8)
    ours, theirs = DataLoader(ours_ds, **kwargs), torch.utils.data.DataLoader(theirs_ds, **kwargs)
    assert len(ours) == len(theirs)
    assert plain(list(ours)) == plain(list(theirs))
    assert plain(list(ours)) == plain(list(theirs))  # each pass iterates the dataset afresh


@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_on_tensor_datasets_and_subsets_as_torch(torch, drop_last):
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10) % 3
    ours_ds = TensorDataset(minigrad.tensor(x), minigrad.tensor(y))
    theirs_ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    for make_ours, make_theirs in (
            (lambda: ours_ds, lambda: theirs_ds),
            (lambda: Subset(ours_ds, [9, 2, 2, 5, 0, 7]),
             lambda: torch.utils.data.Subset(theirs_ds, [9, 2, 2, 5, 0, 7])),
            (lambda: Subset(Subset(ours_ds, [1, 3, 5, 7, 9]), [4, 0, 2]),
             lambda: torch.utils.data.Subset(torch.utils.data.Subset(theirs_ds, [1, 3, 5, 7, 9]), [4, 0, 2]))):
        ours = DataLoader(make_ours(), batch_size=4, drop_last=drop_last)
        theirs = torch.utils.data.DataLoader(make_theirs(), batch_size=4, drop_last=drop_last)
        assert len(ours) == len(theirs)
        assert plain(list(ours)) == plain(list(theirs))


def test_fast_path_equals_item_by_item_collation():
    x = np.random.default_rng(0).standard_normal((37, 4)).astype(np.float32)
    y = np.arange(37)
    ds = TensorDataset(x, y)

    def item_by_item(batch):
        return default_collate(batch)  # not default_collate itself: the loader takes the generic path

    for dataset in (ds, Subset(ds, list(range(36, 0, -2)))):
        fast = DataLoader(dataset, batch_size=5, shuffle=True, generator=minigrad.Generator().manual_seed(1))
        slow = DataLoader(dataset, batch_size=5, shuffle=True, generator=minigrad.Generator().manual_seed(1),
                          collate_fn=item_by_item)
        for _ in range(2):
            assert plain(list(fast)) == plain(list(slow))


def test_tensor_dataset_with_graph_tensors_keeps_the_graph():
    w = minigrad.tensor(np.ones((4, 2), np.float32), requires_grad=True)
    (xb,), = list(DataLoader(TensorDataset(w * 3), batch_size=4))
    assert xb.requires_grad
    (xb * minigrad.tensor(np.arange(8, dtype=np.float32).reshape(4, 2))).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 3 * np.arange(8).reshape(4, 2))


@pytest.mark.parametrize("n, batch_size, drop_last", [(50, 8, False), (50, 8, True), (7, 7, False), (9, 2, True)])
def test_every_sample_exactly_once_per_epoch(n, batch_size, drop_last):
    x = np.arange(n, dtype=np.float32)[:, None] * 10
    y = np.arange(n)
    for dataset in (TensorDataset(x, y), Subset(TensorDataset(x, y), list(range(n))), _MapDataset(n)):
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=drop_last,
                            generator=minigrad.Generator().manual_seed(0))
        orders = []
        for _ in range(2):
            seen = []
            for xb, yb in loader:
                np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy() * 10)  # fields stay paired
                assert len(yb) == batch_size or not drop_last
                seen.extend(yb.tolist())
            kept = n - n % batch_size if drop_last else n
            assert len(seen) == len(set(seen)) == kept and set(seen) <= set(range(n))
            assert len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
            orders.append(seen)
        assert orders[0] != orders[1] or n <= 2


class _MapDataset:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.float32(i * 10)[None], i


def test_loader_shuffling_is_reproducible():
    data = (np.arange(40, dtype=np.float32), np.arange(40))

    def epochs(loader, k=3):
        return [[yb.tolist() for _, yb in loader] for _ in range(k)]

    first = epochs(DataLoader(data, batch_size=6, shuffle=True, generator=minigrad.Generator().manual_seed(9)))
    assert epochs(DataLoader(data, batch_size=6, shuffle=True, generator=minigrad.Generator().manual_seed(9))) == first
    assert epochs(DataLoader(data, batch_size=6, shuffle=True, seed=9)) == first  # seed= is the same stream
    assert first[0] != first[1]
    runs = []
    for _ in range(2):
        minigrad.manual_seed(4)
        runs.append(epochs(DataLoader(data, batch_size=6, shuffle=True)))
    assert runs[0] == runs[1] and runs[0][0] != runs[0][1]
    sampler_runs = [[yb.tolist() for _, yb in DataLoader(
        data, batch_size=5, sampler=RandomSampler(range(40), generator=minigrad.Generator().manual_seed(2)))]
        for _ in range(2)]
    assert sampler_runs[0] == sampler_runs[1]


LOADER_ERRORS = {
    "sampler with shuffle": ({"sampler": [0, 1], "shuffle": True}, False),
    "batch_sampler with batch_size": ({"batch_sampler": [[0]], "batch_size": 2}, False),
    "batch_sampler with shuffle": ({"batch_sampler": [[0]], "shuffle": True}, False),
    "batch_sampler with sampler": ({"batch_sampler": [[0]], "sampler": [0]}, False),
    "batch_sampler with drop_last": ({"batch_sampler": [[0]], "drop_last": True}, False),
    "batch_size None with drop_last": ({"batch_size": None, "drop_last": True}, False),
    "batch_size 0": ({"batch_size": 0}, False),
    "negative num_workers": ({"num_workers": -1}, False),
    "negative timeout": ({"timeout": -1}, False),
    "prefetch_factor without workers": ({"prefetch_factor": 2}, False),
    "persistent_workers without workers": ({"persistent_workers": True}, False),
    "iterable with shuffle": ({"shuffle": True}, True),
    "iterable with sampler": ({"sampler": [0]}, True),
    "iterable with batch_sampler": ({"batch_sampler": [[0]]}, True),
}


@pytest.mark.parametrize("case", sorted(LOADER_ERRORS))
def test_loader_argument_errors_as_torch(torch, case):
    kwargs, iterable = LOADER_ERRORS[case]
    ours_ds, theirs_ds = _streams(3) if iterable else ([1, 2, 3], [1, 2, 3])
    err = same_error(lambda: torch.utils.data.DataLoader(theirs_ds, **kwargs), lambda: DataLoader(ours_ds, **kwargs))
    with pytest.raises(type(err)) as theirs:
        torch.utils.data.DataLoader(theirs_ds, **kwargs)
    assert str(err).split("=")[0] == str(theirs.value).split("=")[0]  # the same message, up to the values


def test_loader_attributes_and_their_guard(torch):
    ours = DataLoader([1, 2, 3], batch_size=2)
    theirs = torch.utils.data.DataLoader([1, 2, 3], batch_size=2)
    for name in ("batch_size", "drop_last", "num_workers", "timeout", "pin_memory", "prefetch_factor",
                 "persistent_workers", "generator", "worker_init_fn"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert type(ours.sampler).__name__ == type(theirs.sampler).__name__ == "SequentialSampler"
    assert type(ours.batch_sampler).__name__ == type(theirs.batch_sampler).__name__ == "BatchSampler"
    assert ours.collate_fn is default_collate
    assert isinstance(DataLoader([1], shuffle=True).sampler, RandomSampler)
    for name in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset", "persistent_workers"):
        same_error(lambda n=name: setattr(theirs, n, None), lambda n=name: setattr(ours, n, None))
    ours.num_workers = 0  # other attributes may change
    assert DataLoader([1, 2], batch_size=None).collate_fn is default_convert


def test_loader_minigrad_specific_errors():
    with pytest.raises(ValueError, match="seed"):
        DataLoader([1, 2], shuffle=True, seed=0, generator=minigrad.Generator())
    with pytest.raises(TypeError, match="minigrad.Generator"):
        DataLoader([1, 2], shuffle=True, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="timeout"):
        DataLoader([1, 2], timeout=5)
    with pytest.raises(TypeError, match="__getitem__"):
        DataLoader(5)

    class Endless(IterableDataset):  # no __len__
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(TypeError):
        len(DataLoader(Endless()))


def test_num_workers_runs_in_process_with_one_warning(monkeypatch):
    monkeypatch.setattr(loader_module, "_warned_workers", False)
    data = (np.arange(10, dtype=np.float32), np.arange(10))
    with pytest.warns(UserWarning, match="in this process"):
        loader = DataLoader(data, batch_size=3, num_workers=4, persistent_workers=True, prefetch_factor=4,
                            timeout=10, worker_init_fn=lambda wid: pytest.fail("not called in-process"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = DataLoader(data, batch_size=3, num_workers=2)  # once per process
    assert loader.prefetch_factor == 4 and again.prefetch_factor == 2
    plain_loader = DataLoader(data, batch_size=3)
    assert plain(list(loader)) == plain(list(again)) == plain(list(plain_loader))
    assert get_worker_info() is None


@pytest.mark.skipif(not _numba_available(), reason="numba backend not available")
def test_loader_backend_for_generic_datasets_does_not_leak():
    loader = DataLoader(_MapData(5, "minigrad"), batch_size=2, backend="numba")
    it = iter(loader)
    batch = next(it)
    assert minigrad.get_backend() == "numpy"  # the backend is current only while a batch is collated
    assert batch["k"].backend == "numba" and batch["w"].backend == "numba"
    assert batch["x"].backend == "numpy"  # tensors in the samples are stacked where they live, as torch
    assert all(b["k"].backend == "numba" for b in it)


@pytest.mark.skipif(not _numba_available(), reason="numba backend not available")
def test_tensor_dataset_batches_stay_on_the_backend_of_its_tensors():
    x = minigrad.arange(12, dtype="float32", backend="numba").reshape(6, 2)
    y = minigrad.arange(6, backend="numba")
    ds = TensorDataset(x, y)
    fast = list(DataLoader(ds, batch_size=4))
    slow = list(DataLoader(ds, batch_size=4, collate_fn=lambda b: default_collate(b)))
    assert all(t.backend == "numba" for batch in fast + slow for t in batch)
    assert plain(fast) == plain(slow)
    assert all(t.backend == "numpy" for batch in DataLoader(ds, batch_size=4, backend="numpy") for t in batch)


def test_loader_on_the_gpu_backend(cupy_device):
    x = minigrad.tensor(np.arange(20, dtype=np.float32).reshape(10, 2), backend=cupy_device)
    y = minigrad.arange(10, backend=cupy_device)
    seen = []
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True,
                             generator=minigrad.Generator().manual_seed(0)):
        assert xb.backend == yb.backend == cupy_device
        np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(10))
    stacked = default_collate([x[0], x[1]])
    assert stacked.backend == cupy_device and stacked.numpy().tolist() == [[0.0, 1.0], [2.0, 3.0]]
    (batch,) = list(DataLoader([{"v": 1.5}, {"v": 2.5}], batch_size=2, backend=cupy_device))
    assert batch["v"].backend == cupy_device and batch["v"].dtype == np.float64
    runs = []
    with minigrad.backend(cupy_device):  # the global generator is the current backend's: here the GPU's
        for _ in range(2):
            minigrad.manual_seed(3)
            runs.append([list(RandomSampler(range(12))) for _ in range(2)])
    assert runs[0] == runs[1] and sorted(runs[0][0]) == list(range(12)) and runs[0][0] != runs[0][1]


def test_tensor_dataset_on_the_gpu_is_gathered_there(cupy_device):
    x = minigrad.tensor(np.arange(20, dtype=np.float32).reshape(10, 2), backend=cupy_device)
    y = minigrad.arange(10, backend=cupy_device)
    ds = TensorDataset(x, y)
    with minigrad.no_grad():
        x.mul_(2.0)  # changed after the dataset was made: batches see it, as PyTorch's do
    for dataset in (ds, Subset(ds, [9, -1, 0, 3, -10])):
        fast = list(DataLoader(dataset, batch_size=3))
        slow = list(DataLoader(dataset, batch_size=3, collate_fn=lambda b: default_collate(b)))
        assert all(t.backend == cupy_device for batch in fast for t in batch)
        assert plain(fast) == plain(slow)
    first = next(iter(DataLoader(ds, batch_size=2)))[0]
    np.testing.assert_array_equal(first.numpy(), [[0, 2], [4, 6]])  # 2 * the original [[0, 1], [2, 3]]
    moved = next(iter(DataLoader(ds, batch_size=2, backend="numpy")))
    assert all(t.backend == "numpy" for t in moved) and moved[1].tolist() == [0, 1]
    with pytest.raises(IndexError, match="out of bounds"):
        list(DataLoader(ds, batch_size=2, sampler=[0, 10]))
