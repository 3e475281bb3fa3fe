"""Results tables as pandas DataFrames: one numeric per-run table, then seed and clip aggregates built from it.

Every number comes from run records (``benchmarks.results_store.Run``); nothing here re-runs training.
Display tables hold formatted strings ("1.2M [0.9M, 1.5M] (2/3 seeds)"); the numeric frames stay available.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from benchmarks.results_store import Run
from report.metrics import bootstrap_ci, geometric_mean, iqm, time_to_threshold

QUALITY_BAR = 0.15  # metres; the DiffMimic paper's bar for a clip counted as mimicked
THRESHOLDS = (0.15, 0.10)
BASELINE, TREATMENT = "ppo", "diffmimic"
ABLATION_METHODS = ("diffmimic", "diffmimic_noreplay", "diffmimic_random")
METHOD_ORDER = ("diffmimic", "diffmimic_noreplay", "diffmimic_random", "ppo")
KEY_COLUMNS = ["suite", "clip", "method"]


def reach_column(x: str, threshold: float) -> str:
    return f"{x}_to_{threshold:.2f}"


def method_rank(method: str) -> tuple[int, str]:
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


def sort_methods(methods: Iterable[str]) -> list[str]:
    return sorted(set(methods), key=method_rank)


# ------------------------------------------------------------------------------------ per-run numbers


def per_run_table(runs: Sequence[Run], thresholds: Sequence[float] = THRESHOLDS) -> pd.DataFrame:
    """One row per run: key, status, totals, final pose error and samples/train seconds to each threshold."""
    rows = []
    for run in runs:
        row = {
            "suite": run.key.suite,
            "clip": run.key.clip,
            "method": run.key.method,
            "seed": run.key.seed,
            "tier": run.manifest.get("tier"),
            "status": run.status,
            "final_pose_error": run.summary["final_pose_error"],
            "total_samples": run.summary["total_samples"],
            "train_seconds": run.summary["train_seconds"],
            "compile_seconds": run.summary["compile_seconds"],
            "n_evals": run.summary["n_evals"],
        }
        for threshold in thresholds:
            for x in ("samples", "train_seconds"):
                row[reach_column(x, threshold)] = time_to_threshold(run.curve, threshold, x=x)
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["_rank"] = table["method"].map(method_rank)
    return table.sort_values(["suite", "clip", "_rank", "seed"]).drop(columns="_rank").reset_index(drop=True)


# ------------------------------------------------------------------------------------------ formatting


def format_samples(value: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def format_seconds(value: float) -> str:
    return f"{value:.3g} s" if abs(value) < 1000 else f"{value:,.0f} s"


def format_metres(value: float) -> str:
    return f"{value:.3f}"


def format_ratio(value: float) -> str:
    return f"{value:.3g}x"


FORMATTERS = {"samples": format_samples, "seconds": format_seconds, "metres": format_metres, "ratio": format_ratio}


def format_estimate(mean: float, low: float, high: float, n: int, n_seeds: int, kind: str, never: str,
                    unit: str = "seeds") -> str:
    """'mean [low, high]', annotated with 'k/N seeds' when only some seeds count, ``never`` when none do."""
    if n == 0:
        return f"{never} (0/{n_seeds} {unit})"
    fmt = FORMATTERS[kind]
    text = fmt(mean)
    if not (math.isnan(low) or math.isnan(high)):
        text += f" [{fmt(low)}, {fmt(high)}]"
    if n < n_seeds:
        text += f" ({n}/{n_seeds} {unit})"
    return text


# ------------------------------------------------------------------------------- per (clip, method)


def seed_metrics(thresholds: Sequence[float] = THRESHOLDS) -> list[tuple[str, str, str, str]]:
    """(column, label, kind, text when no seed has a value) for each column aggregated over seeds."""
    metrics = [(reach_column("samples", t), f"Samples to {t:.2f} m", "samples", "not reached") for t in thresholds]
    metrics += [(reach_column("train_seconds", t), f"Train time to {t:.2f} m", "seconds", "not reached") for t in thresholds]
    metrics.append(("final_pose_error", "Final pose error (m)", "metres", "n/a"))
    return metrics


def seed_stats(per_run: pd.DataFrame, thresholds: Sequence[float] = THRESHOLDS, n_boot: int = 2000) -> pd.DataFrame:
    """Long table: per (suite, clip, method, metric) the mean and 95% bootstrap CI over the seeds that have a
    value (seeds that never reached a threshold are counted in ``n_seeds`` but not averaged in)."""
    rows = []
    for (suite, clip, method), group in per_run.groupby(KEY_COLUMNS, sort=False):
        for column, label, kind, never in seed_metrics(thresholds):
            mean, low, high = bootstrap_ci(group[column].to_numpy(dtype=float), n_boot=n_boot)
            rows.append({
                "suite": suite, "clip": clip, "method": method, "metric": column, "label": label, "kind": kind,
                "never": never, "mean": mean, "ci_low": low, "ci_high": high,
                "n": int(group[column].notna().sum()), "n_seeds": len(group),
                "n_diverged": int((group["status"] == "diverged").sum()),
            })
    return pd.DataFrame(rows)


def _seeds_cell(n_seeds: int, n_diverged: int) -> str:
    return f"{n_seeds} ({n_diverged} diverged)" if n_diverged else str(n_seeds)


def main_table(per_run: pd.DataFrame, thresholds: Sequence[float] = THRESHOLDS, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Display table, one row per (suite, clip, method): seeds, samples and train time to each threshold,
    final pose error, each as mean [95% CI] over seeds."""
    if methods is not None:
        per_run = per_run[per_run["method"].isin(methods)]
    stats = seed_stats(per_run, thresholds)
    if stats.empty:
        return pd.DataFrame()
    rows = []
    for (suite, clip, method), group in stats.groupby(KEY_COLUMNS, sort=False):
        first = group.iloc[0]
        row = {"Suite": suite, "Clip": clip, "Method": method, "Seeds": _seeds_cell(first["n_seeds"], first["n_diverged"])}
        for stat in group.itertuples():
            row[stat.label] = format_estimate(stat.mean, stat.ci_low, stat.ci_high, stat.n, stat.n_seeds, stat.kind, stat.never)
        rows.append(row)
    return _drop_single_suite(pd.DataFrame(rows))


def ablation_table(per_run: pd.DataFrame, thresholds: Sequence[float] = THRESHOLDS) -> pd.DataFrame:
    """The main table restricted to the Demonstration Replay ablation; empty unless two variants are present."""
    present = [m for m in ABLATION_METHODS if m in set(per_run["method"])]
    return main_table(per_run, thresholds, methods=present) if len(present) >= 2 else pd.DataFrame()


def _drop_single_suite(table: pd.DataFrame) -> pd.DataFrame:
    if "Suite" in table and table["Suite"].nunique() == 1:
        return table.drop(columns="Suite")
    return table


# ------------------------------------------------------------------------------------ over clips


def aggregate_table(per_run: pd.DataFrame, threshold: float = QUALITY_BAR, n_boot: int = 2000) -> pd.DataFrame:
    """Per method over all clips: IQM of final pose error with a clip-stratified bootstrap CI, and how many
    runs reached the bar."""
    rows = []
    for method in sort_methods(per_run["method"]):
        group = per_run[per_run["method"] == method]
        final = group["final_pose_error"].to_numpy(dtype=float)
        point, low, high = bootstrap_ci(final, n_boot=n_boot, statistic=iqm, strata=group["clip"].to_numpy())
        reached = int(group[reach_column("samples", threshold)].notna().sum())
        rows.append({
            "Method": method,
            "Clips": group["clip"].nunique(),
            "Runs": len(group),
            "IQM final pose error (m)": format_estimate(
                point, low, high, int((~np.isnan(final)).sum()), len(group), "metres", "n/a", unit="runs"),
            f"Runs reaching {threshold:.2f} m": f"{reached}/{len(group)}",
        })
    return pd.DataFrame(rows)


def ratio_stats(per_run: pd.DataFrame, threshold: float = QUALITY_BAR, baseline: str = BASELINE,
                treatment: str = TREATMENT) -> pd.DataFrame:
    """Per (suite, clip): baseline / treatment ratio of mean samples and mean train seconds to the bar, over the
    seeds that reached it; NaN where either method never reached it."""
    rows = []
    for (suite, clip), group in per_run.groupby(["suite", "clip"], sort=False):
        if not {baseline, treatment} <= set(group["method"]):
            continue
        row = {"suite": suite, "clip": clip}
        for x in ("samples", "train_seconds"):
            column = reach_column(x, threshold)
            means = {m: group.loc[group["method"] == m, column].mean() for m in (baseline, treatment)}  # skips NaN
            reached = {m: int(group.loc[group["method"] == m, column].notna().sum()) for m in (baseline, treatment)}
            row[f"{x}_{baseline}"], row[f"{x}_{treatment}"] = means[baseline], means[treatment]
            row[f"{x}_reached"] = ", ".join(f"{m} {reached[m]}/{(group['method'] == m).sum()}" for m in (baseline, treatment))
            # A run already below the bar at its first evaluation took 0 samples: no ratio is defined then.
            defined = all(reached.values()) and means[treatment] > 0
            row[f"{x}_ratio"] = means[baseline] / means[treatment] if defined else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def ratio_table(per_run: pd.DataFrame, threshold: float = QUALITY_BAR, baseline: str = BASELINE,
                treatment: str = TREATMENT) -> pd.DataFrame:
    """Display table of ``ratio_stats`` with a final geometric-mean row over the clips where both reached."""
    ratios = ratio_stats(per_run, threshold, baseline, treatment)
    if ratios.empty:
        return pd.DataFrame()
    bar = f"{threshold:.2f} m"

    def cell(value: float, formatter) -> str:
        return "—" if math.isnan(value) else formatter(value)

    rows = []
    for r in ratios.to_dict("records"):
        rows.append({
            "Suite": r["suite"], "Clip": r["clip"],
            f"{baseline} samples to {bar}": cell(r[f"samples_{baseline}"], format_samples),
            f"{treatment} samples to {bar}": cell(r[f"samples_{treatment}"], format_samples),
            "Samples ratio": cell(r["samples_ratio"], format_ratio),
            f"{baseline} train time to {bar}": cell(r[f"train_seconds_{baseline}"], format_seconds),
            f"{treatment} train time to {bar}": cell(r[f"train_seconds_{treatment}"], format_seconds),
            "Train time ratio": cell(r["train_seconds_ratio"], format_ratio),
            "Seeds reached": r["samples_reached"],
        })
    n_samples = int(ratios["samples_ratio"].notna().sum())
    n_seconds = int(ratios["train_seconds_ratio"].notna().sum())
    rows.append({
        "Suite": "", "Clip": f"geometric mean ({n_samples}/{len(ratios)} clips)",
        "Samples ratio": cell(geometric_mean(ratios["samples_ratio"]), format_ratio),
        "Train time ratio": cell(geometric_mean(ratios["train_seconds_ratio"]), format_ratio)
        + ("" if n_seconds == n_samples else f" ({n_seconds} clips)"),
    })
    table = pd.DataFrame(rows).fillna("")
    return table.drop(columns="Suite") if ratios["suite"].nunique() == 1 else table


# ---------------------------------------------------------------------------------------- environment


def _packages_cell(versions: dict | None) -> str:
    return ", ".join(f"{name} {version}" for name, version in sorted((versions or {}).items()) if version)


def _commit_cell(manifest: dict) -> str:
    commit = manifest.get("git_commit") or "unknown"
    return commit[:10] + (" (dirty)" if manifest.get("git_dirty") else "")


def environment_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Distinct (device, backend, versions, XLA flags, commit) combinations found in the manifests, with counts."""
    combos: Counter = Counter()
    methods: dict[tuple, set] = {}
    for run in runs:
        m = run.manifest
        combo = (
            str(m.get("device", "?")), str(m.get("backend", "?")), str(m.get("tier", "?")),
            _packages_cell(m.get("package_versions")), m.get("xla_flags") or "(none)", _commit_cell(m),
            str(m.get("python", "?")),
        )
        combos[combo] += 1
        methods.setdefault(combo, set()).add(run.key.method)
    columns = ["Device", "Backend", "Tier", "Packages", "XLA flags", "Git commit", "Python"]
    rows = [dict(zip(columns, combo), Methods=", ".join(sort_methods(methods[combo])), Runs=count)
            for combo, count in combos.items()]
    return pd.DataFrame(rows, columns=[*columns, "Methods", "Runs"])
