"""Run records: round trip, atomic writes, detection of incomplete and corrupt runs, and schema 1 records."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import results_store
from benchmarks.results_store import (
    CURVE_COLUMNS,
    LEGACY_CURVE_COLUMNS,
    CorruptRunError,
    RunKey,
    RunWriter,
    clear_run,
    collect_provenance,
    is_finished,
    load_run,
    scan_runs,
    write_json_atomic,
)

REPO = Path(__file__).resolve().parent.parent
CLIPS = ("walk", "backflip")
METHODS = ("diffmimic", "diffmimic_noreplay", "ppo")
SEEDS = (0, 1)
# (samples per evaluation, samples for the error to fall by e, final pose error floor per clip)
SYNTHETIC = {
    "diffmimic": (90_000, 200_000, {"walk": 0.05, "backflip": 0.07}),
    "diffmimic_noreplay": (90_000, 300_000, {"walk": 0.08, "backflip": 0.085}),
    "ppo": (1_000_000, 4_000_000, {"walk": 0.09, "backflip": 0.12}),
}


def make_manifest(**overrides) -> dict:
    manifest = {
        "config": {"learning_rate": 3e-4, "num_envs": 300, "hidden": (512, 256)},
        "tier": "smoke",
        "backend": "spring",
        "device": "cpu (TFRT_CPU_0)",
        **collect_provenance(packages=("numpy", "pandas")),
    }
    manifest.update(overrides)
    return manifest


def synthetic_curve(key: RunKey, n_evals: int = 20) -> list[dict]:
    """A plausible learning curve: error decays exponentially in samples to a floor, seeds differ slightly; the
    20 s horizon decays more slowly to a floor 0.02 m higher, and the episode falls until 2 x scale samples."""
    per_eval, scale, floors = SYNTHETIC[key.method]
    rng = np.random.default_rng([CLIPS.index(key.clip), METHODS.index(key.method), key.seed])
    # Seed 1 of the no-replay variant stalls just above 0.10 m on the backflip: a "1/2 seeds" case.
    floor = floors[key.clip] + (0.025 if (key.method, key.clip, key.seed) == ("diffmimic_noreplay", "backflip", 1) else 0)
    seconds_per_sample = 2e-5 if key.method.startswith("diffmimic") else 2e-6
    rows = []
    for i in range(n_evals):
        samples = i * per_eval
        noise = 0.005 * rng.standard_normal()
        pose_error = floor + (0.6 - floor) * math.exp(-samples / scale) + abs(noise) * math.exp(-samples / scale)
        pose_error_20s = floor + 0.02 + (0.7 - floor) * math.exp(-samples / (1.5 * scale))
        fell = samples < 2 * scale
        first_fall = 1.0 + 10.0 * samples / (2 * scale)  # seconds into the episode: later as training goes on
        rows.append({
            "samples": samples,
            "iteration": i * 10,
            "train_seconds": samples * seconds_per_sample * (1 + 0.05 * key.seed),
            "compile_seconds": 40.0,
            "eval_seconds": 0.5 * i,
            "pose_error_cycle": pose_error,
            "pose_error_20s": pose_error_20s,
            "fall_rate_cycle": float(fell and first_fall <= 1.3),
            "fall_rate_20s": float(fell),
            "height_fall_cycle": 0.0,
            "height_fall_20s": (20.0 - first_fall) / 20.0 if fell else 0.0,
            "first_fall_seconds": first_fall if fell else math.nan,
            "diverged_seconds": 4.0 if (key.method, i) == ("ppo", 1) else math.nan,
            "loss": pose_error * 0.02,
            "grad_norm": 10.0 + rng.random(),
            "replay_rate": 0.05 * math.exp(-samples / scale) if key.method == "diffmimic" else math.nan,
            "nonfinite_fraction": 0.1 if (key.method, i) == ("diffmimic_noreplay", 3) else 0.0,
        })
    return rows


def write_run(out, key: RunKey, rows: list[dict], status: str | None = "complete", **summary) -> RunWriter:
    writer = RunWriter(out, key, make_manifest())
    for row in rows:
        writer.append(row)
    if status is not None:
        writer.finish(status, **summary)
    return writer


def write_synthetic_results(out, suite: str = "smoke") -> list[RunKey]:
    keys = [RunKey(suite, clip, method, seed) for clip in CLIPS for method in METHODS for seed in SEEDS]
    for key in keys:
        write_run(out, key, synthetic_curve(key))
    return keys


# ------------------------------------------------------------------------------------------------ tests


def test_round_trip(tmp_path):
    key = RunKey("smoke", "walk", "diffmimic", 3)
    rows = synthetic_curve(key)
    write_run(tmp_path, key, rows, reason=None, wall_seconds=12.5)
    run = load_run(key.dir(tmp_path))

    assert run.key == key and run.status == "complete"
    assert run.dir == tmp_path / "smoke" / "walk" / "diffmimic" / "seed_3"
    expected = pd.DataFrame(rows)[list(CURVE_COLUMNS)]
    pd.testing.assert_frame_equal(run.curve, expected, check_dtype=False, rtol=0, atol=0)  # exact, NaN included
    assert run.curve["samples"].dtype == np.int64
    assert run.manifest["schema_version"] == 2
    assert (run.manifest["suite"], run.manifest["seed"]) == ("smoke", 3)
    assert run.manifest["config"]["hidden"] == [512, 256]
    assert run.summary["final_pose_error_cycle"] == rows[-1]["pose_error_cycle"]
    assert run.summary["final_pose_error_20s"] == rows[-1]["pose_error_20s"]
    assert run.summary["total_samples"] == rows[-1]["samples"]
    assert run.summary["n_evals"] == len(rows)
    assert run.summary["wall_seconds"] == 12.5
    assert run.summary["curve_sha256"] == results_store.sha256_file(key.dir(tmp_path) / "curve.csv")
    assert is_finished(tmp_path, key)


def test_diverged_run_stores_nan_as_null(tmp_path):
    key = RunKey("smoke", "walk", "ppo", 0)
    rows = synthetic_curve(key, n_evals=3)
    rows[-1]["pose_error_cycle"] = rows[-1]["pose_error_20s"] = math.nan
    rows[-1]["grad_norm"] = math.inf
    write_run(tmp_path, key, rows, status="diverged", reason="non-finite loss at iteration 20")
    summary_text = (key.dir(tmp_path) / "summary.json").read_text()
    assert "NaN" not in summary_text and '"final_pose_error_20s": null' in summary_text  # strict JSON

    run = load_run(key.dir(tmp_path))
    assert run.status == "diverged" and run.summary["reason"].startswith("non-finite")
    assert math.isnan(run.summary["final_pose_error_cycle"]) and math.isnan(run.summary["final_pose_error_20s"])
    assert math.isnan(run.curve["pose_error_20s"].iloc[-1]) and math.isinf(run.curve["grad_norm"].iloc[-1])


def test_writes_leave_no_temp_files(tmp_path, monkeypatch):
    key = RunKey("smoke", "walk", "diffmimic", 0)
    writer = write_run(tmp_path, key, synthetic_curve(key, n_evals=5), status=None)
    assert sorted(p.name for p in key.dir(tmp_path).iterdir()) == ["curve.csv", "manifest.json"]
    before = (key.dir(tmp_path) / "curve.csv").read_bytes()

    # A failure between writing the temp file and renaming it keeps the old curve and cleans up the temp file.
    def fail_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError):
        writer.append({**synthetic_curve(key, n_evals=6)[-1]})
    monkeypatch.undo()
    assert (key.dir(tmp_path) / "curve.csv").read_bytes() == before
    assert sorted(p.name for p in key.dir(tmp_path).iterdir()) == ["curve.csv", "manifest.json"]

    writer.finish("complete")
    assert sorted(p.name for p in key.dir(tmp_path).iterdir()) == ["curve.csv", "manifest.json", "summary.json"]

    write_json_atomic(tmp_path / "x.json", {"a": np.float32(1.5), "b": np.int64(2), "c": float("nan")})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1.5, "b": 2, "c": None}
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["x.json"]


def test_truncated_curve_is_detected_and_left_out(tmp_path):
    keys = write_synthetic_results(tmp_path)
    bad = keys[0]
    curve_path = bad.dir(tmp_path) / "curve.csv"
    data = curve_path.read_bytes()
    curve_path.write_bytes(data[: len(data) - 40])  # chop the tail, as a copy cut short would

    with pytest.raises(CorruptRunError, match=r"curve\.csv.*sha256"):
        load_run(bad.dir(tmp_path))
    assert not is_finished(tmp_path, bad)

    runs, problems = scan_runs(tmp_path)
    assert len(runs) == len(keys) - 1 and bad not in [run.key for run in runs]
    assert [path for path, _ in problems] == [bad.dir(tmp_path)]
    assert "corrupt" in problems[0][1] and "sha256" in problems[0][1]


def test_missing_summary_is_incomplete_and_skipped(tmp_path):
    done = RunKey("smoke", "walk", "diffmimic", 0)
    partial = RunKey("smoke", "walk", "diffmimic", 1)
    write_run(tmp_path, done, synthetic_curve(done))
    write_run(tmp_path, partial, synthetic_curve(partial, n_evals=4), status=None)

    assert load_run(partial.dir(tmp_path)).status == "incomplete"
    assert len(load_run(partial.dir(tmp_path)).curve) == 4
    assert is_finished(tmp_path, done) and not is_finished(tmp_path, partial)
    assert not is_finished(tmp_path, RunKey("smoke", "walk", "diffmimic", 7))  # never started

    runs, problems = scan_runs(tmp_path)
    assert [run.key for run in runs] == [done]
    assert problems == [(partial.dir(tmp_path), "incomplete: no summary.json (4 evaluations so far)")]

    # Redo: a writer refuses to overwrite; clear_run removes the stale partial run first.
    with pytest.raises(FileExistsError, match="clear_run"):
        RunWriter(tmp_path, partial, make_manifest())
    clear_run(tmp_path, partial)
    clear_run(tmp_path, partial)  # no-op when absent
    write_run(tmp_path, partial, synthetic_curve(partial))
    assert is_finished(tmp_path, partial)


def test_resume_keeps_rows_up_to_checkpoint(tmp_path):
    key = RunKey("smoke", "walk", "diffmimic", 0)
    rows = synthetic_curve(key, n_evals=6)
    write_run(tmp_path, key, rows[:5], status=None)
    writer = RunWriter.resume(tmp_path, key, up_to_samples=rows[2]["samples"])
    writer.append(rows[3])
    writer.finish("complete")
    run = load_run(key.dir(tmp_path))
    assert run.curve["samples"].tolist() == [row["samples"] for row in rows[:4]]
    with pytest.raises(FileExistsError):
        RunWriter.resume(tmp_path, key, up_to_samples=0)


@pytest.mark.parametrize(
    ("file", "mangle", "message"),
    [
        ("summary.json", lambda text: text[:30], r"summary\.json: not valid JSON"),
        ("manifest.json", lambda text: "[1, 2]", r"manifest\.json: expected a JSON object"),
        ("manifest.json", lambda text: text.replace('"schema_version": 2', '"schema_version": 99'), "schema_version 99"),
        ("manifest.json", lambda text: text.replace('"clip": "walk"', '"clip": "run"'), "directory says 'walk'"),
        ("summary.json", lambda text: text.replace('"status": "complete"', '"status": "running"'), "status 'running'"),
    ],
)
def test_corrupt_json_names_file_and_problem(tmp_path, file, mangle, message):
    key = RunKey("smoke", "walk", "diffmimic", 0)
    write_run(tmp_path, key, synthetic_curve(key, n_evals=3))
    path = key.dir(tmp_path) / file
    path.write_text(mangle(path.read_text()))
    with pytest.raises(CorruptRunError, match=message):
        load_run(key.dir(tmp_path))
    runs, problems = scan_runs(tmp_path)
    assert runs == [] and len(problems) == 1


def _reseal(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["curve_sha256"] = results_store.sha256_file(run_dir / "curve.csv")
    (run_dir / "summary.json").write_text(json.dumps(summary))


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda text: text.replace("pose_error_20s", "pose_err", 1), r"missing columns \['pose_error_20s'\]"),
        (lambda text: text.replace("\n0,0,", "\n0,zero,", 1), r"non-numeric 'iteration' value 'zero' in data row 1"),
        (lambda text: text.replace("\n0,0,", "\n0.5,0,", 1), r"'samples' must hold integers"),
        (lambda text: "\n".join(text.splitlines()[:-1] + [text.splitlines()[-1][:5]]), "non-numeric"),
    ],
)
def test_bad_curve_values_name_column(tmp_path, mangle, message):
    key = RunKey("smoke", "walk", "diffmimic", 0)
    write_run(tmp_path, key, synthetic_curve(key, n_evals=3))
    path = key.dir(tmp_path) / "curve.csv"
    path.write_text(mangle(path.read_text()))
    _reseal(key.dir(tmp_path))  # so the parse check, not the hash check, must catch it
    with pytest.raises(CorruptRunError, match=message):
        load_run(key.dir(tmp_path))


def test_summary_must_agree_with_curve(tmp_path):
    key = RunKey("smoke", "walk", "diffmimic", 0)
    write_run(tmp_path, key, synthetic_curve(key, n_evals=3))
    path = key.dir(tmp_path) / "summary.json"
    path.write_text(path.read_text().replace('"n_evals": 3', '"n_evals": 4'))
    with pytest.raises(CorruptRunError, match="n_evals=4 but curve.csv has 3 rows"):
        load_run(key.dir(tmp_path))


def test_writer_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="path separators"):
        RunKey("smoke", "../etc", "ppo", 0)
    with pytest.raises(ValueError, match="must be an int"):
        RunKey("smoke", "walk", "ppo", "0")
    with pytest.raises(ValueError, match=r"manifest lacks \['device'\]"):
        RunWriter(tmp_path, RunKey("smoke", "walk", "ppo", 0), {k: v for k, v in make_manifest().items() if k != "device"})
    with pytest.raises(ValueError, match="disagrees"):
        RunWriter(tmp_path, RunKey("smoke", "walk", "ppo", 0), make_manifest(method="diffmimic"))

    key = RunKey("smoke", "walk", "ppo", 1)
    writer = RunWriter(tmp_path, key, make_manifest())
    rows = synthetic_curve(key, n_evals=3)
    writer.append(rows[1])
    with pytest.raises(ValueError, match="unknown curve columns"):
        writer.append({**rows[2], "reward": 1.0})
    for horizon in ("pose_error_cycle", "pose_error_20s"):  # every evaluation measures both horizons
        with pytest.raises(ValueError, match="lacks"):
            writer.append({k: v for k, v in rows[2].items() if k != horizon})
    with pytest.raises(ValueError, match="'samples' went backwards"):
        writer.append(rows[0])
    with pytest.raises(ValueError, match="status must be"):
        writer.finish("done")
    with pytest.raises(ValueError, match="derived from the curve"):
        writer.finish("complete", total_samples=5)
    writer.append({k: v for k, v in rows[2].items() if k not in ("loss", "replay_rate")} | {"pose_error_20s": None})
    writer.finish("complete")
    with pytest.raises(RuntimeError):
        writer.append(rows[2])
    curve = load_run(key.dir(tmp_path)).curve
    assert curve["loss"].isna().tolist() == [False, True]  # optional columns
    assert curve["pose_error_20s"].isna().tolist() == [False, True]  # None: not measured (a clip that does not loop)


def test_scan_missing_dir_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        scan_runs(tmp_path / "nope")
    assert scan_runs(tmp_path) == ([], [])


# ------------------------------------------------------------------------------------ schema 1 records


def test_committed_schema_1_record_reads_as_cycle_horizon():
    """results/quick-cpu predates the two horizons: its pose_error was one clip cycle, and no 20 s was measured."""
    run_dir = REPO / "results" / "quick-cpu" / "deepmimic" / "walk" / "diffmimic" / "seed_0"
    raw = pd.read_csv(run_dir / "curve.csv")
    assert list(raw.columns) == list(LEGACY_CURVE_COLUMNS)
    run = load_run(run_dir)
    assert run.manifest["schema_version"] == 1 and run.status == "complete"
    assert list(run.curve.columns) == list(CURVE_COLUMNS)
    assert run.curve["pose_error_cycle"].tolist() == raw["pose_error"].tolist()
    assert run.curve["fall_rate_cycle"].tolist() == raw["fall_rate"].tolist()
    for column in ("pose_error_20s", "fall_rate_20s", "height_fall_cycle", "height_fall_20s", "first_fall_seconds"):
        assert run.curve[column].isna().all(), column
    summary = json.loads((run_dir / "summary.json").read_text())
    assert run.summary["final_pose_error_cycle"] == summary["final_pose_error"] == raw["pose_error"].iloc[-1]
    assert math.isnan(run.summary["final_pose_error_20s"])


def _write_schema_1(out, key: RunKey, n_evals: int, finished: bool) -> None:
    """A run as the schema 1 writer left it: pose_error and fall_rate columns, final_pose_error in the summary."""
    run_dir = key.dir(out)
    run_dir.mkdir(parents=True)
    write_json_atomic(run_dir / "manifest.json", {**make_manifest(), **dataclasses.asdict(key), "schema_version": 1})
    lines = [",".join(LEGACY_CURVE_COLUMNS)]
    lines += [f"{i * 100},{i},{i * 1.5},40.0,{i * 0.5},{0.3 - 0.01 * i},0.0,0.01,10.0,nan" for i in range(n_evals)]
    (run_dir / "curve.csv").write_text("\n".join(lines) + "\n")
    if finished:
        write_json_atomic(run_dir / "summary.json", {
            "schema_version": 1, "status": "complete", "final_pose_error": 0.3 - 0.01 * (n_evals - 1),
            "total_samples": (n_evals - 1) * 100, "train_seconds": (n_evals - 1) * 1.5, "compile_seconds": 40.0,
            "eval_seconds": (n_evals - 1) * 0.5, "n_evals": n_evals,
            "curve_sha256": results_store.sha256_file(run_dir / "curve.csv")})


def test_schema_1_runs_load_resume_and_stay_sealed(tmp_path):
    done, partial = RunKey("smoke", "walk", "ppo", 0), RunKey("smoke", "walk", "ppo", 1)
    _write_schema_1(tmp_path, done, n_evals=3, finished=True)
    _write_schema_1(tmp_path, partial, n_evals=3, finished=False)
    runs, problems = scan_runs(tmp_path)
    assert [run.key for run in runs] == [done] and "incomplete" in problems[0][1]
    assert runs[0].curve["pose_error_cycle"].tolist() == pytest.approx([0.30, 0.29, 0.28])
    assert runs[0].summary["final_pose_error_cycle"] == pytest.approx(0.28)

    # Resuming rewrites the curve in today's columns, so the manifest must say schema 2 from then on.
    writer = RunWriter.resume(tmp_path, partial, up_to_samples=100)
    writer.append(synthetic_curve(partial, n_evals=3)[-1] | {"samples": 200, "iteration": 2, "train_seconds": 3.0,
                                                              "compile_seconds": 40.0, "eval_seconds": 1.0})
    writer.finish("complete")
    run = load_run(partial.dir(tmp_path))
    assert run.manifest["schema_version"] == 2
    assert run.curve["pose_error_cycle"].iloc[:2].tolist() == pytest.approx([0.30, 0.29])
    assert run.curve["pose_error_20s"].isna().tolist() == [True, True, False]  # measured from the resume on

    # A schema 1 file with schema 2 columns (or the reverse) is corrupt, not guessed at.
    shutil.copy(partial.dir(tmp_path) / "curve.csv", done.dir(tmp_path) / "curve.csv")
    _reseal(done.dir(tmp_path))
    with pytest.raises(CorruptRunError, match=r"missing columns \['pose_error', 'fall_rate'\] \(schema_version 1\)"):
        load_run(done.dir(tmp_path))


def test_curve_without_a_late_column_reads_as_not_measured(tmp_path):
    """Curves written before ``nonfinite_fraction`` existed (schema 2 all the same) still load: NaN, not measured."""
    key = RunKey("smoke", "walk", "diffmimic", 0)
    write_run(tmp_path, key, synthetic_curve(key, n_evals=3), status=None)  # incomplete: no hash seals the curve
    path = key.dir(tmp_path) / results_store.CURVE_FILE
    old = pd.read_csv(path).drop(columns=["nonfinite_fraction"])
    old.to_csv(path, index=False, na_rep="nan")  # as the writer spells NaN
    curve = load_run(key.dir(tmp_path)).curve
    assert list(curve.columns) == list(CURVE_COLUMNS) and curve["nonfinite_fraction"].isna().all()
    assert curve["pose_error_cycle"].tolist() == pytest.approx(old["pose_error_cycle"].tolist())
    # Resuming it rewrites the curve in today's columns.
    writer = RunWriter.resume(tmp_path, key, up_to_samples=10**9)
    assert "nonfinite_fraction" in path.read_text().splitlines()[0] and writer.n_evals == 3


def test_provenance_dirty_means_the_code_changed_not_the_results(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "curve.csv").write_text("samples\n0\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "start")
    assert collect_provenance(packages=(), repo_dir=tmp_path)["git_dirty"] is False
    (tmp_path / "results" / "curve.csv").unlink()  # a suite redoing a committed run
    assert collect_provenance(packages=(), repo_dir=tmp_path)["git_dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert collect_provenance(packages=(), repo_dir=tmp_path)["git_dirty"] is True
