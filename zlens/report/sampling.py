"""Which points and epochs the report draws, when there are too many to draw them all.

Subsets are fixed by a seed and sorted, so the same samples are followed across epochs.
"""

from __future__ import annotations

import numpy as np

from zlens.checks import check_count

DEFAULT_MAX_POINTS = 5000
MAX_FRAMES = 50


def draw_indices(n_samples: int, max_points: int | None, seed: int = 0) -> np.ndarray:
    """Sorted sample indices to draw: all of them when N <= `max_points`, else a fixed random subset.

    Example:
        >>> draw_indices(5, 10)
        array([0, 1, 2, 3, 4])
        >>> len(draw_indices(70_000, 5000))
        5000
    """
    if max_points is None or n_samples <= max_points:
        return np.arange(n_samples)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_samples, size=int(max_points), replace=False))


def spaced_epochs(epochs: list[int], max_count: int = MAX_FRAMES, *, keep: tuple[int, ...] = ()) -> list[int]:
    """At most `max_count` evenly spaced epochs of `epochs` (first and last always; `keep` too).

    Example:
        >>> spaced_epochs(list(range(100)), 5)
        [0, 25, 50, 74, 99]
        >>> spaced_epochs([0, 1, 2], 50)
        [0, 1, 2]
    """
    if len(epochs) <= max_count:
        return list(epochs)
    picks = np.unique(np.round(np.linspace(0, len(epochs) - 1, max_count)).astype(int))
    chosen = {epochs[i] for i in picks} | {e for e in keep if e in epochs}
    return sorted(chosen)


def count(n: int) -> str:
    """A count with thousands separators, as the page writes it: `count(70000) == "70,000"`."""
    return f"{int(n):,}"


def check_max_points(max_points: int | None) -> int | None:
    """`max_points` checked: a positive int, or None for "draw everything"."""
    if max_points is None:
        return None
    return check_count("max_points", max_points, or_also="None to draw all points")
