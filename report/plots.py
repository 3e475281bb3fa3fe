"""Learning-curve figures per clip: pose error at both evaluation horizons against training samples and against
train wall-clock."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402

from benchmarks.results_store import Run  # noqa: E402
from report.tables import HORIZON_LABELS, HORIZONS, QUALITY_BAR, pose_column, sort_methods  # noqa: E402

X_AXES = (("samples", "training samples"), ("train_seconds", "train wall-clock (s)"))


def method_palette(methods: Sequence[str]) -> dict[str, tuple]:
    """One colour per method, the same in every figure."""
    ordered = sort_methods(methods)
    return dict(zip(ordered, sns.color_palette("colorblind", n_colors=max(len(ordered), 1))))


def seed_band(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(grid, mean, min, max) over seeds on the x range every seed covers, interpolating between evaluations.

    Seeds evaluate at different wall-clock times, so their curves share no x values; restricting to the common
    range keeps every point of the band an average over all seeds.
    """
    start = max(x[0] for x, _ in curves)
    end = min(x[-1] for x, _ in curves)
    grid = np.unique(np.concatenate([x[(x >= start) & (x <= end)] for x, _ in curves]))
    if grid.size == 0:
        empty = np.array([])
        return empty, empty, empty, empty
    stacked = np.stack([np.interp(grid, x, y) for x, y in curves])
    return grid, stacked.mean(axis=0), stacked.min(axis=0), stacked.max(axis=0)


def _y_top(runs: Sequence[Run]) -> float:
    values = np.concatenate([run.curve[pose_column(h)].to_numpy(dtype=float) for run in runs for h in HORIZONS])
    values = values[np.isfinite(values)]
    # A diverged seed can reach metres of error; clip the axis so the curves near the bar stay readable.
    return max(2 * QUALITY_BAR, 1.1 * float(np.percentile(values, 98))) if values.size else 1.0


def _wide_range(runs: Sequence[Run], x_column: str, ratio: float = 8.0) -> bool:
    ends = [float(run.curve[x_column].max()) for run in runs if len(run.curve)]
    ends = [end for end in ends if end > 0]
    return bool(ends) and max(ends) / min(ends) > ratio


def plot_seed_panel(axis, runs: Sequence[Run], x_column: str, y_column: str, palette: dict[str, tuple],
                bar: float | None = QUALITY_BAR) -> bool:
    """Per method the seed mean, a min-max band and faint seeds, and the quality ``bar`` (None: no bar); False when
    no run measured ``y_column``."""
    log_x = _wide_range(runs, x_column)
    drawn = False
    for method in sort_methods(run.key.method for run in runs):
        colour = palette[method]
        curves = []
        for run in sorted((r for r in runs if r.key.method == method), key=lambda r: r.key.seed):
            finite = run.curve[np.isfinite(run.curve[y_column]) & ((run.curve[x_column] > 0) | (not log_x))]
            x = finite[x_column].to_numpy(dtype=float)
            y = finite[y_column].to_numpy(dtype=float)
            if x.size:
                axis.plot(x, y, color=colour, alpha=0.3, linewidth=0.7)
                curves.append((x, y))
        if not curves:
            continue
        drawn = True
        n_seeds = len(curves)
        grid, mean, low, high = seed_band(curves)
        label = f"{method} ({n_seeds} seed{'s' if n_seeds != 1 else ''})"
        if grid.size:
            axis.fill_between(grid, low, high, color=colour, alpha=0.2, linewidth=0)
            axis.plot(grid, mean, color=colour, linewidth=1.8, label=label)
        else:
            axis.plot([], [], color=colour, label=label)
    if bar is not None:
        axis.axhline(bar, color="black", linestyle="--", linewidth=1, label=f"{bar:.2f} m bar")
    if log_x:
        # Methods an order of magnitude apart (PPO vs DiffMimic samples) would squash one into the y axis.
        axis.set_xscale("log")
    else:
        axis.set_xlim(left=0)
    axis.xaxis.set_major_formatter(EngFormatter(sep=""))
    return drawn


def plot_clip(runs: Sequence[Run], path: Path, palette: dict[str, tuple], title: str) -> Path:
    """Four panels: rows are the evaluation horizons (20 s, then one cycle), columns the x axes (samples, train
    seconds)."""
    sns.set_theme(style="whitegrid", context="paper")
    figure, axes = plt.subplots(len(HORIZONS), len(X_AXES), figsize=(10, 6.8), sharey=True, constrained_layout=True)
    for row, horizon in enumerate(HORIZONS):
        for col, (x_column, x_label) in enumerate(X_AXES):
            axis = axes[row, col]
            drawn = plot_seed_panel(axis, runs, x_column, pose_column(horizon), palette)
            if not drawn:
                axis.text(0.5, 0.5, f"{HORIZON_LABELS[horizon]} horizon not measured", transform=axis.transAxes,
                          ha="center", va="center", color="grey")
                axis.set_xticks([])
            axis.set_xlabel(f"{x_label}, log scale" if axis.get_xscale() == "log" else x_label)
        axes[row, 0].set_ylabel(f"pose error, {HORIZON_LABELS[horizon]} (m)")
    axes[0, 0].set_ylim(0, _y_top(runs))
    add_figure_legend(figure, axes)
    figure.suptitle(f"{title}: mean over seeds, band = min–max, faint lines = seeds")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def add_figure_legend(figure, axes) -> None:
    """One legend below the figure with every label drawn in any of ``axes``, each once."""
    handles = {}
    for axis in axes.ravel():
        for handle, label in zip(*axis.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        figure.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=len(handles),
                      fontsize="small")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def per_clip_figures(runs: Sequence[Run], figures_dir: str | Path, prefix: str, plot) -> list[tuple[str, str, Path]]:
    """``plot(clip_runs, path, palette, title)`` once per (suite, clip) into ``figures_dir/<prefix>_<suite>_<clip>.png``,
    every figure with the same method colours; returns (suite, clip, path) in suite and clip order."""
    figures_dir = Path(figures_dir)
    palette = method_palette([run.key.method for run in runs])
    written = []
    for suite, clip in sorted({(run.key.suite, run.key.clip) for run in runs}):
        clip_runs = [run for run in runs if (run.key.suite, run.key.clip) == (suite, clip)]
        path = figures_dir / f"{prefix}_{_slug(suite)}_{_slug(clip)}.png"
        written.append((suite, clip, plot(clip_runs, path, palette, f"{suite} / {clip}")))
    return written


def plot_learning_curves(runs: Sequence[Run], figures_dir: str | Path) -> list[tuple[str, str, Path]]:
    """One PNG per (suite, clip); returns (suite, clip, path) in suite and clip order."""
    return per_clip_figures(runs, figures_dir, "curves", plot_clip)
