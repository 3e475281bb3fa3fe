"""Results tables as pandas DataFrames: one numeric per-run table, then seed and clip aggregates built from it.

Every number comes from run records (``benchmarks.results_store.Run``); nothing here re-runs training.
Display tables hold formatted strings ("1.2M [0.9M, 1.5M] (2/3 seeds)"); the numeric frames stay available.
Each pose-error number exists for two evaluation horizons (``HORIZONS``, the 20 s one first: it leads the tables);
a run recorded before the 20 s horizon existed has it as "not measured", never as "not reached".
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from benchmarks.results_store import Run, with_recorded_options
from report.metrics import bootstrap_ci, geometric_mean, iqm, time_to_hold, time_to_threshold

QUALITY_BAR = 0.15  # metres; the DiffMimic paper's bar for a clip counted as mimicked
THRESHOLDS = (0.15, 0.10)
HORIZONS = ("20s", "cycle")  # curve-column suffixes (benchmarks.results_store), headline first
HORIZON_LABELS = {"20s": "20 s", "cycle": "cycle"}
NOT_MEASURED = "not measured"
BASELINES = ("ppo", "ppo_deepmimic")  # Adam PPO, and PPO as DeepMimic released it
BASELINE, TREATMENT = BASELINES[0], "diffmimic"
ABLATION_METHODS = ("diffmimic", "diffmimic_noreplay", "diffmimic_random")
METHOD_ORDER = ("diffmimic", "diffmimic_noreplay", "diffmimic_random", "ppo", "ppo_deepmimic")
KEY_COLUMNS = ["suite", "clip", "method"]


def reach_column(x: str, threshold: float, horizon: str) -> str:
    return f"{x}_to_{threshold:.2f}_{horizon}"


def hold_column(x: str, threshold: float, horizon: str) -> str:
    """The per-run column of ``report.metrics.time_to_hold``: from when on the run stayed at or below the bar."""
    return f"{x}_to_hold_{threshold:.2f}_{horizon}"


def pose_column(horizon: str) -> str:
    """The curve column of a horizon's pose error."""
    return f"pose_error_{horizon}"


def method_rank(method: str) -> tuple[int, str]:
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


def sort_methods(methods: Iterable[str]) -> list[str]:
    return sorted(set(methods), key=method_rank)


# ------------------------------------------------------------------------------------ per-run numbers


def per_run_table(runs: Sequence[Run], thresholds: Sequence[float] = THRESHOLDS) -> pd.DataFrame:
    """One row per run: key, status, totals, and per horizon: whether it was measured, the final and best pose
    error, samples/train seconds to reach each threshold and to hold it (to the run's end); the final evaluation's
    first fall (seconds, NaN: none)."""
    rows = []
    for run in runs:
        row = {
            "suite": run.key.suite,
            "clip": run.key.clip,
            "method": run.key.method,
            "seed": run.key.seed,
            "tier": run.manifest.get("tier"),
            "status": run.status,
            "total_samples": run.summary["total_samples"],
            "train_seconds": run.summary["train_seconds"],
            "compile_seconds": run.summary["compile_seconds"],
            "n_evals": run.summary["n_evals"],
        }
        for horizon in HORIZONS:
            errors = run.curve[pose_column(horizon)].to_numpy(dtype=float)
            row[f"measured_{horizon}"] = bool(np.isfinite(errors).any())
            row[f"final_pose_error_{horizon}"] = run.summary[f"final_pose_error_{horizon}"]
            row[f"best_pose_error_{horizon}"] = float(np.nanmin(errors)) if np.isfinite(errors).any() else math.nan
            for threshold in thresholds:
                for x in ("samples", "train_seconds"):
                    row[reach_column(x, threshold, horizon)] = time_to_threshold(
                        run.curve, threshold, x=x, column=pose_column(horizon))
                    row[hold_column(x, threshold, horizon)] = time_to_hold(
                        run.curve, threshold, x=x, column=pose_column(horizon))
        # Schema 1 records (one horizon) did not record falls over time.
        row["measured_first_fall"] = run.manifest.get("schema_version", 1) >= 2 and len(run.curve) > 0
        row["first_fall_seconds"] = float(run.curve["first_fall_seconds"].iloc[-1]) if len(run.curve) else math.nan
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
        return never if never == NOT_MEASURED else f"{never} (0/{n_seeds} {unit})"
    fmt = FORMATTERS[kind]
    text = fmt(mean)
    if not (math.isnan(low) or math.isnan(high)):
        text += f" [{fmt(low)}, {fmt(high)}]"
    if n < n_seeds:
        text += f" ({n}/{n_seeds} {unit})"
    return text


# ------------------------------------------------------------------------------- per (clip, method)


@dataclasses.dataclass(frozen=True)
class SeedMetric:
    """A per-run column aggregated over seeds, with its display label and the text for "no seed has a value"."""

    column: str
    label: str
    kind: str  # a FORMATTERS key
    never: str
    measured: str  # the per-run boolean column saying whether a run measured it at all


def seed_metrics(thresholds: Sequence[float] = THRESHOLDS) -> list[SeedMetric]:
    """Per horizon (20 s first): samples and train time to each threshold, samples to hold it, final and best pose
    error; then the final evaluation's first fall."""
    metrics = []
    for horizon in HORIZONS:
        name, measured = HORIZON_LABELS[horizon], f"measured_{horizon}"
        metrics += [SeedMetric(reach_column("samples", t, horizon), f"Samples to {t:.2f} m ({name})", "samples",
                               "not reached", measured) for t in thresholds]
        metrics += [SeedMetric(reach_column("train_seconds", t, horizon), f"Train time to {t:.2f} m ({name})",
                               "seconds", "not reached", measured) for t in thresholds]
        metrics += [SeedMetric(hold_column("samples", t, horizon), f"Samples to hold {t:.2f} m ({name})", "samples",
                               "not held", measured) for t in thresholds]
        metrics.append(SeedMetric(f"final_pose_error_{horizon}", f"Final pose error, {name} (m)", "metres", "n/a", measured))
        metrics.append(SeedMetric(f"best_pose_error_{horizon}", f"Best pose error, {name} (m)", "metres", "n/a", measured))
    metrics.append(SeedMetric("first_fall_seconds", "First fall, final policy (s)", "seconds", "no fall",
                              "measured_first_fall"))
    return metrics


def seed_stats(per_run: pd.DataFrame, thresholds: Sequence[float] = THRESHOLDS, n_boot: int = 2000) -> pd.DataFrame:
    """Long table: per (suite, clip, method, metric) the mean and 95% bootstrap CI over the seeds that have a
    value (seeds that never reached a threshold are counted in ``n_seeds`` but not averaged in; ``n_measured``
    counts the seeds whose records measured the metric at all)."""
    rows = []
    for (suite, clip, method), group in per_run.groupby(KEY_COLUMNS, sort=False):
        for metric in seed_metrics(thresholds):
            mean, low, high = bootstrap_ci(group[metric.column].to_numpy(dtype=float), n_boot=n_boot)
            n_measured = int(group[metric.measured].sum())
            rows.append({
                "suite": suite, "clip": clip, "method": method, "metric": metric.column, "label": metric.label,
                "kind": metric.kind, "never": metric.never if n_measured else NOT_MEASURED,
                "mean": mean, "ci_low": low, "ci_high": high,
                "n": int(group[metric.column].notna().sum()), "n_measured": n_measured, "n_seeds": len(group),
                "n_diverged": int((group["status"] == "diverged").sum()),
            })
    return pd.DataFrame(rows)


def _seeds_cell(n_seeds: int, n_diverged: int) -> str:
    return f"{n_seeds} ({n_diverged} diverged)" if n_diverged else str(n_seeds)


def main_table(per_run: pd.DataFrame, thresholds: Sequence[float] = (QUALITY_BAR,),
               methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Display table, one row per (suite, clip, method): seeds, then per horizon (20 s first) samples and train
    time to each threshold, samples to hold it, final and best pose error, then the final policy's first fall; each as mean [95% CI]
    over seeds."""
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


def ablation_table(per_run: pd.DataFrame, thresholds: Sequence[float] = (QUALITY_BAR,)) -> pd.DataFrame:
    """The main table restricted to the Demonstration Replay ablation; empty unless two variants are present."""
    present = [m for m in ABLATION_METHODS if m in set(per_run["method"])]
    return main_table(per_run, thresholds, methods=present) if len(present) >= 2 else pd.DataFrame()


def _drop_single_suite(table: pd.DataFrame) -> pd.DataFrame:
    if "Suite" in table and table["Suite"].nunique() == 1:
        return table.drop(columns="Suite")
    return table


# ------------------------------------------------------------------------------------ over clips


def aggregate_table(per_run: pd.DataFrame, threshold: float = QUALITY_BAR, n_boot: int = 2000) -> pd.DataFrame:
    """Per method over all clips and per horizon: IQM of final pose error with a clip-stratified bootstrap CI,
    and how many runs reached the bar (of those that measured the horizon)."""
    rows = []
    for method in sort_methods(per_run["method"]):
        group = per_run[per_run["method"] == method]
        row = {"Method": method, "Clips": group["clip"].nunique(), "Runs": len(group)}
        for horizon in HORIZONS:
            name = HORIZON_LABELS[horizon]
            final = group[f"final_pose_error_{horizon}"].to_numpy(dtype=float)
            point, low, high = bootstrap_ci(final, n_boot=n_boot, statistic=iqm, strata=group["clip"].to_numpy())
            n_measured = int(group[f"measured_{horizon}"].sum())
            reached = int(group[reach_column("samples", threshold, horizon)].notna().sum())
            row[f"IQM final pose error, {name} (m)"] = format_estimate(
                point, low, high, int((~np.isnan(final)).sum()), len(group), "metres",
                "n/a" if n_measured else NOT_MEASURED, unit="runs")
            row[f"Runs reaching {threshold:.2f} m ({name})"] = (
                f"{reached}/{n_measured}" if n_measured else NOT_MEASURED)
        rows.append(row)
    return pd.DataFrame(rows)


def ratio_stats(per_run: pd.DataFrame, threshold: float = QUALITY_BAR, baseline: str = BASELINE,
                treatment: str = TREATMENT, horizon: str = HORIZONS[0]) -> pd.DataFrame:
    """Per (suite, clip): baseline / treatment ratio of mean samples and mean train seconds to the bar at one
    horizon, over the seeds that reached it; NaN where either method never reached it."""
    rows = []
    for (suite, clip), group in per_run.groupby(["suite", "clip"], sort=False):
        if not {baseline, treatment} <= set(group["method"]):
            continue
        row = {"suite": suite, "clip": clip}
        for x in ("samples", "train_seconds"):
            column = reach_column(x, threshold, horizon)
            means = {m: group.loc[group["method"] == m, column].mean() for m in (baseline, treatment)}  # skips NaN
            reached = {m: int(group.loc[group["method"] == m, column].notna().sum()) for m in (baseline, treatment)}
            row[f"{x}_{baseline}"], row[f"{x}_{treatment}"] = means[baseline], means[treatment]
            row[f"{x}_reached"] = ", ".join(f"{m} {reached[m]}/{(group['method'] == m).sum()}" for m in (baseline, treatment))
            # A run already below the bar at its first evaluation took 0 samples: no ratio is defined then.
            defined = all(reached.values()) and means[treatment] > 0
            row[f"{x}_ratio"] = means[baseline] / means[treatment] if defined else math.nan
        row["measured"] = bool(group[f"measured_{horizon}"].any())
        rows.append(row)
    return pd.DataFrame(rows)


def ratio_table(per_run: pd.DataFrame, threshold: float = QUALITY_BAR, baseline: str = BASELINE,
                treatment: str = TREATMENT, horizon: str = HORIZONS[0]) -> pd.DataFrame:
    """Display table of ``ratio_stats`` with a final geometric-mean row over the clips where both reached."""
    ratios = ratio_stats(per_run, threshold, baseline, treatment, horizon)
    if ratios.empty:
        return pd.DataFrame()
    bar = f"{threshold:.2f} m"

    def cell(value: float, formatter, measured: bool = True) -> str:
        return ("—" if measured else NOT_MEASURED) if math.isnan(value) else formatter(value)

    rows = []
    for r in ratios.to_dict("records"):
        measured = r["measured"]
        rows.append({
            "Suite": r["suite"], "Clip": r["clip"],
            f"{baseline} samples to {bar}": cell(r[f"samples_{baseline}"], format_samples, measured),
            f"{treatment} samples to {bar}": cell(r[f"samples_{treatment}"], format_samples, measured),
            "Samples ratio": cell(r["samples_ratio"], format_ratio, measured),
            f"{baseline} train time to {bar}": cell(r[f"train_seconds_{baseline}"], format_seconds, measured),
            f"{treatment} train time to {bar}": cell(r[f"train_seconds_{treatment}"], format_seconds, measured),
            "Train time ratio": cell(r["train_seconds_ratio"], format_ratio, measured),
            "Seeds reached": r["samples_reached"] if measured else NOT_MEASURED,
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


def _env_settings_cell(env_command_line: dict | None) -> str:
    """The environment fields a run set with --env (records from before the option set none)."""
    def text(value):
        return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

    return ", ".join(f"{name}={text(value)}" for name, value in sorted((env_command_line or {}).items())) or "(none)"


def _commit_cell(manifest: dict) -> str:
    commit = manifest.get("git_commit") or "unknown"
    return commit[:10] + (" (dirty)" if manifest.get("git_dirty") else "")


def environment_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Distinct (device, backend, torque limits, fall contact distance, phase, --env settings, tier, versions, XLA
    flags, commit, Python) combinations found in the manifests, with counts."""
    combos: Counter = Counter()
    methods: dict[tuple, set] = {}
    for run in runs:
        m = run.manifest
        env = with_recorded_options(m.get("config", {}).get("env", {}))
        combo = (
            str(m.get("device", "?")), str(m.get("backend", "?")),
            str(env["torque_limits"]),
            f"{float(env['fall_contact_distance']) * 1000:g} mm",
            str(env["phase"]),
            _env_settings_cell(m.get("env_command_line")),
            str(m.get("tier", "?")),
            _packages_cell(m.get("package_versions")), m.get("xla_flags") or "(none)", _commit_cell(m),
            str(m.get("python", "?")),
        )
        combos[combo] += 1
        methods.setdefault(combo, set()).add(run.key.method)
    columns = ["Device", "Backend", "Torque limits", "Fall contact within", "Phase", "--env", "Tier", "Packages",
               "XLA flags", "Git commit", "Python"]
    rows = [dict(zip(columns, combo), Methods=", ".join(sort_methods(methods[combo])), Runs=count)
            for combo, count in combos.items()]
    return pd.DataFrame(rows, columns=[*columns, "Methods", "Runs"])
