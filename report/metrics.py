"""Plain-array metrics in the style of rliable: arrays in, numbers out, NaN for "not defined"."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

# A statistic reduces an array along an axis, like np.mean(values, axis=...).
Statistic = Callable[..., np.ndarray]


def time_to_threshold(curve: pd.DataFrame, threshold: float, x: str = "samples", column: str = "pose_error_20s") -> float:
    """The first ``x`` (samples, train_seconds, ...) at which the pose error in ``column`` (one evaluation
    horizon) is ``<= threshold``; NaN if never (or never measured).

    Taken at evaluation points, without interpolation: a run is credited only with what it was seen to reach.
    """
    reached = curve[column].to_numpy(dtype=float) <= threshold  # NaN compares False
    if not reached.any():
        return math.nan
    return float(curve[x].to_numpy()[np.argmax(reached)])


def time_to_hold(curve: pd.DataFrame, threshold: float, x: str = "samples", column: str = "pose_error_20s") -> float:
    """The first ``x`` from which every evaluation to the end of the curve has the pose error in ``column``
    ``<= threshold``: when the run reached the bar for good rather than touched it. NaN if the last evaluation is
    above it (or unmeasured); an unmeasured (NaN) evaluation in between breaks the hold like one above the bar.
    """
    held = curve[column].to_numpy(dtype=float) <= threshold  # NaN compares False
    if held.size == 0 or not held[-1]:
        return math.nan
    above = np.flatnonzero(~held)
    start = above[-1] + 1 if above.size else 0
    return float(curve[x].to_numpy()[start])


def iqm(values: Sequence[float] | np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Interquartile mean: the mean of the middle 50% (robust to an outlier seed, Agarwal et al. 2021).

    With ``axis=None`` NaNs are dropped and an empty input gives NaN; with an axis the array must be NaN-free.
    """
    if axis is None:
        array = _finite(values)
        return float(stats.trim_mean(array, 0.25)) if array.size else math.nan
    return stats.trim_mean(np.asarray(values, dtype=float), 0.25, axis=axis)


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[~np.isnan(array)]


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
    statistic: Statistic = np.mean,
    strata: Sequence | np.ndarray | None = None,
) -> tuple[float, float, float]:
    """(point estimate, low, high): percentile bootstrap confidence interval of ``statistic`` over ``values``.

    NaNs are dropped. With no values all three are NaN; with one value the interval is NaN (one seed says
    nothing about spread). ``strata`` (one label per value, e.g. the clip) resamples within each stratum,
    like rliable's stratified bootstrap, so every resample keeps each clip's share of runs.
    """
    array = np.asarray(values, dtype=float).ravel()
    labels = None if strata is None else np.asarray(strata).ravel()
    if labels is not None and len(labels) != len(array):
        raise ValueError(f"strata has {len(labels)} labels for {len(array)} values")
    keep = ~np.isnan(array)
    array = array[keep]
    if array.size == 0:
        return math.nan, math.nan, math.nan
    point = float(statistic(array, axis=0))
    if array.size == 1:
        return point, math.nan, math.nan
    rng = np.random.default_rng(seed)
    if labels is None:
        resamples = array[rng.integers(0, array.size, size=(n_boot, array.size))]
    else:
        labels = labels[keep]
        columns = []
        for label in np.unique(labels):
            members = array[labels == label]
            columns.append(members[rng.integers(0, members.size, size=(n_boot, members.size))])
        resamples = np.concatenate(columns, axis=1)
    estimates = statistic(resamples, axis=1)
    tail = 100 * (1 - ci) / 2
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return point, float(low), float(high)


def bootstrap_ratio_ci(
    numerator: Sequence[float] | np.ndarray,
    denominator: Sequence[float] | np.ndarray,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point, low, high): the ratio of the means of two independent samples (e.g. PPO's and DiffMimic's samples to
    the bar over their seeds), with a percentile bootstrap interval that resamples each side on its own.

    NaNs are dropped; either side empty (or a zero mean below): all NaN; one value on both sides: NaN interval.
    """
    top, bottom = _finite(numerator), _finite(denominator)
    if top.size == 0 or bottom.size == 0 or bottom.mean() <= 0:
        return math.nan, math.nan, math.nan
    point = float(top.mean() / bottom.mean())
    if top.size == 1 and bottom.size == 1:
        return point, math.nan, math.nan
    rng = np.random.default_rng(seed)
    top_means = top[rng.integers(0, top.size, size=(n_boot, top.size))].mean(axis=1)
    bottom_means = bottom[rng.integers(0, bottom.size, size=(n_boot, bottom.size))].mean(axis=1)
    tail = 100 * (1 - ci) / 2
    low, high = np.percentile(top_means / bottom_means, [tail, 100 - tail])
    return point, float(low), float(high)


def geometric_mean(values: Sequence[float] | np.ndarray) -> float:
    """Geometric mean of the positive finite values (the right average for ratios); NaN if none."""
    array = _finite(values)
    array = array[np.isfinite(array) & (array > 0)]
    return float(stats.gmean(array)) if array.size else math.nan
