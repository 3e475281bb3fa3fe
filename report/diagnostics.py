"""Diagnostics figures per clip: what explains a learning curve (replay leaned on, exploding or skipped gradients,
early falls), from the curve's training columns and its evaluations."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from benchmarks.results_store import Run
from report.plots import add_figure_legend, per_clip_figures, plot_seed_panel

# Clips recorded before manifests carried their control step: every shipped clip of those records ran at 30 Hz.
DEFAULT_CONTROL_DT = 1 / 30

# (curve column, axis label, log y): the panels, left to right and top to bottom.
PANELS = (
    ("replay_rate", "replay rate (training steps replayed)", False),
    ("grad_norm", "gradient norm before clipping", True),
    ("nonfinite_fraction", "non-finite updates (fraction, skipped)", False),
    ("fall_seconds", "first fall in evaluation (s); top = no fall", False),
)


def episode_seconds(run: Run) -> float:
    """Length of the run's evaluation episode in seconds (its longer horizon)."""
    evaluation = run.manifest.get("config", {}).get("evaluation") or {}
    frames = evaluation.get("long_frames") or evaluation.get("cycle_frames")
    if frames is None:
        return math.nan
    return frames * float(run.manifest.get("control_dt", DEFAULT_CONTROL_DT))


def with_fall_seconds(run: Run) -> Run:
    """The run with a ``fall_seconds`` column: the first fall's time, or the whole episode where none fell (a curve
    that reaches the top has stopped falling)."""
    curve = run.curve.copy()
    curve["fall_seconds"] = curve["first_fall_seconds"].fillna(episode_seconds(run))
    return dataclasses.replace(run, curve=curve)


def plot_diagnostics(runs: Sequence[Run], path: Path, palette: dict[str, tuple], title: str) -> Path:
    sns.set_theme(style="whitegrid", context="paper")
    figure, axes = plt.subplots(2, 2, figsize=(10, 6.8), constrained_layout=True)
    runs = [with_fall_seconds(run) for run in runs]
    for axis, (column, label, log_y) in zip(axes.ravel(), PANELS):
        if not plot_seed_panel(axis, runs, "samples", column, palette, bar=None):
            axis.text(0.5, 0.5, "not measured", transform=axis.transAxes, ha="center", va="center", color="grey")
            axis.set_xticks([])
        elif log_y:
            axis.set_yscale("log")
        axis.set_ylabel(label)
        axis.set_xlabel("training samples, log scale" if axis.get_xscale() == "log" else "training samples")
    add_figure_legend(figure, axes)
    figure.suptitle(f"{title}: training diagnostics per evaluation (mean over seeds, band = min–max)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_all_diagnostics(runs: Sequence[Run], figures_dir: str | Path) -> list[tuple[str, str, Path]]:
    """One PNG per (suite, clip); returns (suite, clip, path) in suite and clip order."""
    return per_clip_figures(runs, figures_dir, "diagnostics", plot_diagnostics)
