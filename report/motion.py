"""The report's Motion section: per clip and method, the first seed's recorded evaluation episode as a GIF, and an
interactive viewer page for every run that recorded one (``<run_dir>/rollout.npz``, written by the harness).

Pictures go under the report folder (``figures/motion/<suite>/<clip>/<method>/seed_<k>_<hash>.gif``,
``viewers/<suite>/<clip>/<method>/seed_<k>.html``), so that the links work the
same from REPORT.md and report.html and the folder can be moved as a whole. A GIF's name carries a hash of its
rollout and of :data:`RENDER_VERSION`, so a rebuild re-renders only what changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Sequence

from benchmarks.results_store import Run
from benchmarks.rollout_file import RolloutError, load_rollout, mean_pose_error, rollout_path
from report.render import render_gif
from report.tables import sort_methods
from report.viewer import write_viewer

RENDER_VERSION = "2"  # bump when render_gif's pictures change, so cached GIFs are redrawn


@dataclasses.dataclass(frozen=True)
class MotionTile:
    """One method's picture for a clip, with links to every seed's viewer page."""

    method: str
    seed: int
    gif: Path
    caption: str
    viewers: tuple[tuple[int, Path], ...]  # (seed, page), first seed first


@dataclasses.dataclass(frozen=True)
class MotionSection:
    clips: list[tuple[str, str, list[MotionTile]]]  # (suite, clip, tiles) in suite and clip order
    problems: list[tuple[Path, str]]  # rollouts that exist but could not be read
    files: list[Path]  # every GIF and viewer page the section uses


def _gif(run: Run, rollout, figures_dir: Path) -> Path:
    digest = hashlib.sha256(rollout_path(run.dir).read_bytes() + RENDER_VERSION.encode()).hexdigest()[:10]
    seed_dir = run.key.dir(figures_dir / "motion")  # mirrors the results layout, so no two runs share a name
    path = seed_dir.parent / f"{seed_dir.name}_{digest}.gif"
    if not path.exists():
        for stale in seed_dir.parent.glob(f"{seed_dir.name}_*.gif"):
            stale.unlink()
        render_gif(rollout, path)
    return path


def motion_section(runs: Sequence[Run], out_dir: Path) -> MotionSection:
    """Writes a viewer page for every run with a rollout and a GIF of each (suite, clip, method)'s first such
    seed; runs without ``rollout.npz`` are skipped, unreadable rollouts are listed in ``problems``."""
    figures_dir, viewers_dir = out_dir / "figures", out_dir / "viewers"
    clips, problems, files = [], [], []
    for suite, clip in sorted({(run.key.suite, run.key.clip) for run in runs}):
        tiles = []
        clip_runs = [run for run in runs if (run.key.suite, run.key.clip) == (suite, clip)]
        for method in sort_methods(run.key.method for run in clip_runs):
            shown, viewers = None, []
            for run in sorted((r for r in clip_runs if r.key.method == method), key=lambda r: r.key.seed):
                if not rollout_path(run.dir).exists():
                    continue
                try:
                    rollout = load_rollout(run.dir)
                except RolloutError as error:
                    problems.append((run.dir, str(error).removeprefix(f"{rollout_path(run.dir)}: ")))
                    continue
                title = f"{suite} / {clip} / {method} / seed {run.key.seed}"
                page = write_viewer(rollout, run.key.dir(viewers_dir).with_suffix(".html"), title)
                viewers.append((run.key.seed, page))
                files.append(page)
                if shown is None:
                    gif = _gif(run, rollout, figures_dir)
                    files.append(gif)
                    steps = len(rollout["pose_error"]) - 1
                    caption = (f"{method}, seed {run.key.seed}: pose error {mean_pose_error(rollout):.3f} m "
                               f"over the {steps}-step episode")
                    shown = (run.key.seed, gif, caption)
            if shown is not None:
                tiles.append(MotionTile(method, shown[0], shown[1], shown[2], tuple(viewers)))
        if tiles:
            clips.append((suite, clip, tiles))
    return MotionSection(clips, problems, files)
