"""The numbers behind the report: label separation per epoch, and which samples moved most.

Everything reads the store one epoch at a time; where a number uses a subsample, its note says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from zlens.errors import ZlensError
from zlens.report.sampling import count

KNN_MAX_SAMPLES = 5_000  # k-NN is fitted and scored on at most this many samples per epoch
SILHOUETTE_MAX_SAMPLES = 1_000  # silhouette is O(n^2): at most this many samples per epoch
MAX_CLASSES = 100  # more distinct labels than this are treated as continuous values
KNN_K = 5
TEST_FRACTION = 0.25


def read_epochs(run, epochs: list[int], kind: str | None = None, tap: str = "z") -> Iterator[tuple[int, np.ndarray]]:
    """Yield `(epoch, matrix)` for each of `epochs`, reading one slot of the store at a time.

    Example:
        >>> for epoch, z in read_epochs(run, run.epochs):
        ...     print(epoch, z.shape)
    """
    array = run.tap_array(tap, kind)
    for epoch in epochs:
        yield epoch, np.asarray(array[run.slot_of(epoch)])


def class_labels(labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """`(codes, names)` when `labels` are classes (2..100 distinct values, strings or whole numbers), else None.

    Example:
        >>> class_labels(np.array(["b", "a", "b"]))
        (array([1, 0, 1]), array(['a', 'b'], dtype='<U1'))
        >>> class_labels(np.linspace(0, 1, 500)) is None      # continuous values
        True
    """
    if labels is None:
        return None
    labels = np.asarray(labels)
    names, codes = np.unique(labels, return_inverse=True)
    if not 2 <= len(names) <= MAX_CLASSES:
        return None
    if labels.dtype.kind == "f" and not np.all(np.isfinite(names) & (names == np.round(names))):
        return None
    return codes.reshape(-1), names


@dataclass
class SeparationPlan:
    """Which samples the per-epoch separation scores use: fixed once, the same every epoch."""

    codes: np.ndarray  # (N,) class code of every sample
    train: np.ndarray  # sample indices the k-NN classifier is fitted on
    test: np.ndarray  # held-out sample indices it is scored on
    silhouette: np.ndarray  # sample indices the silhouette is computed on
    k: int
    notes: list[str] = field(default_factory=list)


def plan_separation(codes: np.ndarray, *, max_samples: int = KNN_MAX_SAMPLES,
                    silhouette_max: int = SILHOUETTE_MAX_SAMPLES, seed: int = 0) -> SeparationPlan:
    """Fix the k-NN train / held-out split and the silhouette sample (subsampled above the caps, and said so)."""
    from sklearn.model_selection import train_test_split

    n = len(codes)
    rng = np.random.default_rng(seed)
    notes = []
    subset = np.arange(n)
    if n > max_samples:
        subset = np.sort(rng.choice(n, size=max_samples, replace=False))
        notes.append(f"k-NN uses a fixed random {count(max_samples)} of the {count(n)} samples (the same every epoch)")
    sub_codes = codes[subset]
    stratify = sub_codes if np.bincount(sub_codes).min(initial=2) >= 2 else None
    try:
        train, test = train_test_split(subset, test_size=TEST_FRACTION, random_state=seed, stratify=stratify)
    except ValueError:  # a class too small to stratify on
        train, test = train_test_split(subset, test_size=TEST_FRACTION, random_state=seed)
    sil = subset if len(subset) <= silhouette_max else np.sort(rng.choice(subset, size=silhouette_max, replace=False))
    if len(sil) < n:
        notes.append(f"silhouette uses a fixed random {count(len(sil))} of the {count(n)} samples")
    return SeparationPlan(codes, np.sort(train), np.sort(test), sil, min(KNN_K, len(train)), notes)


def separation_at(z: np.ndarray, plan: SeparationPlan) -> tuple[float, float]:
    """Held-out k-NN accuracy and silhouette score of one epoch's (N, d) latent matrix.

    Example:
        >>> plan = plan_separation(codes)
        >>> acc, sil = separation_at(run.z(epoch=-1), plan)
    """
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import KNeighborsClassifier

    z = np.asarray(z, dtype=np.float32).reshape(len(z), -1)
    codes = plan.codes
    knn = KNeighborsClassifier(n_neighbors=plan.k).fit(z[plan.train], codes[plan.train])
    accuracy = float(knn.score(z[plan.test], codes[plan.test]))
    sil_codes = codes[plan.silhouette]
    n_classes = len(np.unique(sil_codes))
    silhouette = float("nan")
    if 2 <= n_classes < len(sil_codes):
        silhouette = float(silhouette_score(z[plan.silhouette], sil_codes))
    return accuracy, silhouette


@dataclass
class Separation:
    """How well z separates the labels, per epoch: held-out k-NN accuracy and silhouette."""

    epochs: list[int]
    knn_accuracy: list[float]
    silhouette: list[float]
    k: int
    n_train: int
    n_test: int
    chance: float  # accuracy of always guessing the most common class of the held-out samples
    notes: list[str]

    def describe(self) -> str:
        """How the numbers were computed, in one sentence for captions and the page."""
        text = (f"{self.k}-NN classifier fitted on z of {count(self.n_train)} samples, accuracy on "
                f"{count(self.n_test)} held-out samples (fixed split, seed 0); chance {self.chance:.3f}")
        return text + "".join(f"; {note}" for note in self.notes) + "."


def separation_scores(run, kind: str | None = None, *, epochs: list[int] | None = None,
                      max_samples: int = KNN_MAX_SAMPLES, silhouette_max: int = SILHOUETTE_MAX_SAMPLES,
                      seed: int = 0) -> Separation | None:
    """k-NN accuracy (held-out) and silhouette of z per captured epoch; None without class labels.

    Args:
        run: a `Run`.
        kind: "in-flight" / "consistent" (default: the run's kind).
        epochs: which captured epochs (default: all).
        max_samples: above this N, k-NN uses a fixed random subset of this size (said in notes).
        silhouette_max: the silhouette's sample cap (it costs O(n^2)).
        seed: seed of the split and subsets.

    Example:
        >>> sep = separation_scores(zlens.open_run("runs/digits"))
        >>> sep.knn_accuracy[-1], sep.describe()
    """
    classes = class_labels(run.labels)
    if classes is None:
        return None
    plan = plan_separation(classes[0], max_samples=max_samples, silhouette_max=silhouette_max, seed=seed)
    chosen = list(run.epochs if epochs is None else epochs)
    scores = [separation_at(z, plan) for _, z in read_epochs(run, chosen, kind)]
    return separation_from(plan, chosen, scores)


def separation_from(plan: SeparationPlan, epochs: list[int], scores: list[tuple[float, float]]) -> Separation:
    """Assemble a `Separation` from a plan and the `separation_at` scores of `epochs`."""
    test_codes = plan.codes[plan.test]
    chance = float(np.bincount(test_codes).max() / len(test_codes)) if len(test_codes) else float("nan")
    return Separation(list(epochs), [s[0] for s in scores], [s[1] for s in scores], plan.k,
                      len(plan.train), len(plan.test), chance, list(plan.notes))


@dataclass
class Movement:
    """Per-sample change between the first and the last captured epoch."""

    first_epoch: int
    last_epoch: int
    displacement: np.ndarray  # (N,) Euclidean distance between z rows (in z itself, not projected)
    error_first: np.ndarray | None  # (N,) reconstruction error, or None when not captured
    error_last: np.ndarray | None

    @property
    def error_change(self) -> np.ndarray | None:
        """(N,) error at the last epoch minus error at the first (negative: it improved)."""
        return None if self.error_first is None else self.error_last - self.error_first

    def top(self, by: str = "displacement", n: int = 10) -> np.ndarray:
        """Indices of the `n` samples that moved most, `by` "displacement" or "error" (|change|)."""
        change = self.error_change
        if by == "error" and change is None:
            raise ZlensError("no recon_error tap was captured: rank the samples by displacement.")
        values = self.displacement if by == "displacement" or change is None else np.abs(change)
        n = min(n, len(values))
        top = np.argpartition(-values, n - 1)[:n]
        return top[np.argsort(-values[top], kind="stable")]


def movement_scores(run, kind: str | None = None) -> Movement:
    """How far each sample's z and reconstruction error moved from the first to the last captured epoch.

    Example:
        >>> moved = movement_scores(zlens.open_run("runs/digits"))
        >>> moved.top("displacement", 5)         # the five samples whose z moved most
    """
    first, last = run.epochs[0], run.epochs[-1]
    (_, z0), (_, z1) = read_epochs(run, [first, last], kind)
    displacement = np.linalg.norm((z1.astype(np.float64) - z0).reshape(len(z0), -1), axis=1)
    err0 = err1 = None
    if "recon_error" in run.taps:
        err0, err1 = (np.asarray(run.recon_error(e, kind), dtype=np.float64) for e in (first, last))
    return Movement(first, last, displacement, err0, err1)
