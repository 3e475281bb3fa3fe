"""results/ -> REPORT.md and a self-contained report.html (figures inlined), from run records only.

The document is a list of blocks (heading, paragraph, table, figure, gallery) rendered twice, so the markdown and
the HTML always say the same thing.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence, Union

import pandas as pd

from benchmarks.results_store import scan_runs
from report.diagnostics import plot_all_diagnostics
from report.motion import MotionSection, motion_section
from report.plots import plot_learning_curves
from report.tables import (
    BASELINES,
    HORIZON_LABELS,
    HORIZONS,
    QUALITY_BAR,
    THRESHOLDS,
    ablation_table,
    aggregate_table,
    environment_table,
    main_table,
    per_run_table,
    ratio_stats,
    ratio_table,
    seed_stats,
    sort_methods,
)


class NoRunsError(ValueError):
    """The results directory holds no finished, valid run to report on."""


@dataclasses.dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclasses.dataclass(frozen=True)
class Paragraph:
    text: str  # `backticks` mark code in both renderings


@dataclasses.dataclass(frozen=True)
class Table:
    frame: pd.DataFrame


@dataclasses.dataclass(frozen=True)
class Figure:
    path: Path
    caption: str


@dataclasses.dataclass(frozen=True)
class GalleryItem:
    image: Path
    caption: str
    links: tuple[tuple[str, Path], ...] = ()  # (text, file under the report folder)
    links_label: str = ""


@dataclasses.dataclass(frozen=True)
class Gallery:
    """Pictures side by side (a one-row table in markdown), each with a caption and links."""

    items: tuple[GalleryItem, ...]


Block = Union[Heading, Paragraph, Table, Figure, Gallery]


@dataclasses.dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path
    figures: list[Path]
    data: list[Path]  # CSVs of the numbers behind the tables
    motion: list[Path] = dataclasses.field(default_factory=list)  # GIFs and viewer pages of recorded rollouts

    def all(self) -> list[Path]:
        return [self.markdown, self.html, *self.figures, *self.data, *self.motion]


# ------------------------------------------------------------------------------------------ rendering


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table, header first, cells escaped."""
    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(map(_md_cell, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def render_markdown(blocks: Sequence[Block], out_dir: Path) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.append(markdown_table(block.frame))
        elif isinstance(block, Figure):
            parts.append(f"![{block.caption}]({block.path.relative_to(out_dir).as_posix()})")
        elif isinstance(block, Gallery):
            def links(item: GalleryItem) -> str:
                targets = " ".join(f"[{text}]({path.relative_to(out_dir).as_posix()})" for text, path in item.links)
                return f"{item.links_label} {targets}".strip()

            rows = [[_md_cell(item.caption) for item in block.items],
                    [f"![{_md_cell(item.caption)}]({item.image.relative_to(out_dir).as_posix()})" for item in block.items],
                    [_md_cell(links(item)) for item in block.items]]
            lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(block.items)]
            lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
            parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _html_text(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1, h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #f3f3f3; padding: 0 .25em; border-radius: 3px; }
figure { margin: 1em 0; } figure img { max-width: 100%; } figcaption { color: #555; font-size: .9em; }
.gallery { display: flex; flex-wrap: wrap; gap: 1.5em; } .gallery figure { margin: .5em 0; }
"""

IMAGE_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".svg": "image/svg+xml"}


def _inline_image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:{IMAGE_TYPES[path.suffix.lower()]};base64,{data}" alt="{html.escape(alt)}">'


def render_html(blocks: Sequence[Block], title: str, out_dir: Path) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{_html_text(block.text)}</p>")
        elif isinstance(block, Table):
            parts.append(block.frame.to_html(index=False, escape=True, border=0, na_rep=""))
        elif isinstance(block, Figure):
            parts.append(f"<figure>{_inline_image(block.path, block.caption)}"
                         f"<figcaption>{html.escape(block.caption)}</figcaption></figure>")
        elif isinstance(block, Gallery):
            figures = []
            for item in block.items:
                links = " ".join(f'<a href="{html.escape(path.relative_to(out_dir).as_posix())}">{html.escape(text)}</a>'
                                 for text, path in item.links)
                figures.append(f"<figure>{_inline_image(item.image, item.caption)}<figcaption>"
                               f"{html.escape(item.caption)}<br>{html.escape(item.links_label)} {links}</figcaption></figure>")
            parts.append(f'<div class="gallery">{"".join(figures)}</div>')
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


# ------------------------------------------------------------------------------------------- content


def _table_or_note(frame: pd.DataFrame, note: str) -> Block:
    return Table(frame) if not frame.empty else Paragraph(note)


def write_data_tables(runs, out_dir: Path) -> tuple[pd.DataFrame, list[Path]]:
    """The report's numbers without its figures: ``per_run.csv`` and ``seed_stats.csv`` in ``out_dir``; returns
    the per-run table and the two paths."""
    per_run = per_run_table(runs, THRESHOLDS)
    data_paths = [out_dir / "per_run.csv", out_dir / "seed_stats.csv"]
    per_run.to_csv(data_paths[0], index=False)
    seed_stats(per_run, THRESHOLDS).to_csv(data_paths[1], index=False)
    return per_run, data_paths


def build_report(results_dir: str | Path, out_dir: str | Path | None = None) -> ReportPaths:
    """Read every run under ``results_dir`` and write REPORT.md, report.html, figures/ and data CSVs to
    ``out_dir`` (default ``<results_dir>/report``). Raises NoRunsError when no finished valid run exists."""
    results_dir = Path(results_dir)
    out_dir = Path(out_dir) if out_dir is not None else results_dir / "report"
    runs, problems = scan_runs(results_dir)
    if not runs:
        detail = "".join(f"\n  {path}: {problem}" for path, problem in problems)
        # Result sets kept side by side (results/long-cpu, results/quick-cpu, ...) sit one level down; each is
        # reported on its own, never mixed with the others.
        nested = sorted({str(run.parents[3]) for run in results_dir.glob("*/*/*/*/seed_*") if run.is_dir()})
        hint = f"\n  it holds result sets one level down; report one of them: {', '.join(nested)}" if nested else ""
        raise NoRunsError(f"no finished runs under {results_dir} "
                          f"(expected <suite>/<clip>/<method>/seed_<k>/summary.json){detail}{hint}")
    out_dir.mkdir(parents=True, exist_ok=True)

    per_run, data_paths = write_data_tables(runs, out_dir)
    figures = plot_learning_curves(runs, out_dir / "figures")
    diagnostics = plot_all_diagnostics(runs, out_dir / "figures")
    motion = motion_section(runs, out_dir)

    bar = f"{QUALITY_BAR:.2f} m"
    suites = ", ".join(sorted(per_run["suite"].unique()))
    blocks: list[Block] = [
        Heading("MimicBench report", 1),
        Paragraph(
            f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from `{results_dir}`: {len(runs)} finished runs "
            f"(suite {suites}; {per_run['clip'].nunique()} clips; methods {', '.join(sort_methods(per_run['method']))}; "
            f"{len(problems)} runs left out)."
        ),
        Paragraph(
            "Pose error is the mean distance between root-relative body positions of simulation and reference, "
            "in metres, over one deterministic evaluation episode from frame 0 (mean action, no replay, no early "
            "termination), read at two horizons of that episode: 20 s (600 control steps, the cyclic clip "
            "extended; the paper's *cycled*) and one clip cycle (the paper's *learned*). A sample is one "
            "simulated control step of one training environment. Samples and train time to a threshold are read "
            "at the first evaluation whose pose error is at or below it; samples to hold it, at the first "
            "evaluation from which every later one is at or below it to the end of the run (a run that ends "
            "above it has not held it); best is the lowest over the curve. "
            "First fall is the time of the final policy's first fall in its evaluation episode, averaged over "
            "the seeds that fell (k/N: k seeds fell). Cells give the mean over seeds and a 95% percentile "
            "bootstrap CI (2000 resamples); where only k of N seeds reached a threshold the mean is over those k "
            "and the cell says k/N. Train time excludes compile and evaluation time. "
            "\"not measured\": the run records predate that horizon (or the clip does not loop)."
        ),
        Paragraph(_horizon_lengths(runs)),
        Heading("Main results"),
        Table(main_table(per_run)),
        Heading("Aggregate over clips"),
        Paragraph(f"Interquartile mean of final pose error over all runs of a method, with a clip-stratified "
                  f"bootstrap CI; and how many runs reached {bar}, per horizon."),
        Table(aggregate_table(per_run)),
    ]
    # One ratio table per PPO baseline that has runs (Adam PPO, DeepMimic's released PPO), and per horizon.
    baselines = [b for b in BASELINES if b in set(per_run["method"])] or [BASELINES[0]]
    for baseline in baselines:
        for horizon in HORIZONS:
            blocks += [
                Paragraph(f"{baseline} / diffmimic ratios of the mean samples and train time to {bar} at the "
                          f"{HORIZON_LABELS[horizon]} horizon (above 1: DiffMimic is faster), per clip where both "
                          "reached it, with the geometric mean over those clips."),
                _ratio_block(per_run, horizon, baseline),
            ]
    blocks += [
        Heading("Ablation: Demonstration Replay"),
        _table_or_note(ablation_table(per_run),
                       "Fewer than two of diffmimic, diffmimic_noreplay, diffmimic_random are present."),
        Heading("Learning curves"),
    ]
    blocks += [Figure(path, f"{suite} / {clip}: pose error at the 20 s (top) and cycle (bottom) horizons vs samples "
                            "and vs train time") for suite, clip, path in figures]
    blocks += [
        Heading("Training diagnostics"),
        Paragraph("Why a curve looks the way it does, per evaluation: the fraction of training steps that "
                  "Demonstration Replay replaced by the reference (DiffMimic; a policy that leans on replay scores "
                  "well in training and falls alone), the raw gradient norm before clipping (mean over the updates "
                  "since the previous evaluation), the fraction of those updates whose loss or gradient was "
                  "non-finite (skipped: the state before them is kept), and the time of the first fall in the "
                  "evaluation episode (at the top: no fall in the whole episode)."),
    ]
    blocks += [Figure(path, f"{suite} / {clip}: training diagnostics vs samples") for suite, clip, path in diagnostics]
    blocks += _motion_blocks(motion, results_dir)
    blocks += [
        Heading("Environment"),
        Paragraph("Distinct hardware and software combinations recorded in the run manifests."),
        Table(environment_table(runs)),
        Heading("Runs left out"),
    ]
    if problems:
        blocks.append(Table(pd.DataFrame(
            [{"Run": str(path.relative_to(results_dir)), "Problem": problem} for path, problem in problems])))
    else:
        blocks.append(Paragraph("None: every run directory was finished and valid."))

    markdown_path, html_path = out_dir / "REPORT.md", out_dir / "report.html"
    markdown_path.write_text(render_markdown(blocks, out_dir))
    html_path.write_text(render_html(blocks, "MimicBench report", out_dir))
    return ReportPaths(markdown_path, html_path, [path for _, _, path in figures + diagnostics], data_paths,
                       motion.files)


def _ratio_block(per_run: pd.DataFrame, horizon: str, baseline: str) -> Block:
    ratios = ratio_stats(per_run, horizon=horizon, baseline=baseline)
    if ratios.empty:
        return Paragraph(f"No clip has runs of both {baseline} and diffmimic.")
    if not ratios["measured"].any():
        return Paragraph(f"The {HORIZON_LABELS[horizon]} horizon was not measured in these run records.")
    return Table(ratio_table(per_run, horizon=horizon, baseline=baseline))


def _horizon_lengths(runs) -> str:
    """The long horizon's length per tier, from the run manifests (the smoke tier shortens it; the columns keep
    the name "20 s")."""
    lengths: dict[str, set] = {}
    for run in runs:
        evaluation = run.manifest.get("config", {}).get("evaluation")
        if evaluation is None:
            text = "not measured (run records from before the two horizons)"
        elif evaluation.get("long_frames") is None:
            text = "none (a clip that does not loop)"
        else:
            text = f"{evaluation['long_frames']} steps"
        lengths.setdefault(str(run.manifest.get("tier", "?")), set()).add(text)
    parts = [f"tier {tier}: {', '.join(sorted(texts))}" for tier, texts in sorted(lengths.items())]
    return "Long (20 s) horizon as recorded in the run manifests: " + "; ".join(parts) + "."


def _motion_blocks(motion: MotionSection, results_dir: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Motion")]
    if not motion.clips:
        blocks.append(Paragraph("No finished run has a recorded evaluation episode (`rollout.npz` in its run "
                                "directory), so there is nothing to show."))
    else:
        blocks.append(Paragraph(
            f"Each method's first seed replaying its final policy over the evaluation episode (from frame 0, no "
            f"replay): the simulated character solid (blue), the reference as a ghost (orange), pose error per "
            f"frame in the corner (green at or below the {QUALITY_BAR:.2f} m bar). The viewer links open an "
            "interactive page per seed (orbit by dragging, scrub, overlay or side by side)."))
    for suite, clip, tiles in motion.clips:
        blocks.append(Heading(f"{suite} / {clip}", 3))
        blocks.append(Gallery(tuple(
            GalleryItem(tile.gif, tile.caption, tuple((f"seed {seed}", page) for seed, page in tile.viewers),
                        "interactive viewer:")
            for tile in tiles)))
    if motion.problems:
        blocks.append(Paragraph("Rollouts that could not be read (the runs' results are unaffected):"))
        blocks.append(Table(pd.DataFrame([{"Run": str(path.relative_to(results_dir)), "Problem": problem}
                                          for path, problem in motion.problems])))
    return blocks
