"""Run records on disk: the one file format shared by the harness (writer) and the report (reader).

Layout, one directory per (suite, clip, method, seed)::

    <out>/<suite>/<clip>/<method>/seed_<k>/
        manifest.json   written first: config, key, tier, provenance, "schema_version": 2 (1 still read)
        curve.csv       one row per evaluation, rewritten atomically after every append
        summary.json    written last, only when the run ends; its curve_sha256 seals curve.csv

A run without summary.json is *incomplete* (still going, or killed); a run whose files do not parse or whose
curve no longer matches the sealed hash is *corrupt*. Every file is replaced with temp file + ``os.replace``,
so a kill at any moment leaves either the old or the new version of a file, never half of one.

This module must stay free of JAX (and of envs/methods): the report imports it to read results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

SCHEMA_VERSION = 2
# Schema 1 (before the two evaluation horizons) is still read: its one pose error is the cycle horizon.
READABLE_SCHEMA_VERSIONS = (1, 2)
DEFAULT_OUT = Path("results")

MANIFEST_FILE = "manifest.json"
CURVE_FILE = "curve.csv"
SUMMARY_FILE = "summary.json"
# A finished run's final training state (benchmarks.harness keeps it; benchmarks.policy_eval reads it).
FINAL_STATE_FILE = "final_state.msgpack"

FINISHED_STATUSES = ("complete", "diverged")
INCOMPLETE = "incomplete"

# Curve columns in file order. Samples and iteration are counts; the seconds are cumulative since the run
# started. Each evaluation measures two horizons of one episode from frame 0 (benchmarks/evaluator.py): `cycle`
# (one clip cycle) and `20s` (600 control steps, the cyclic clip extended; NaN for a clip that does not loop).
# pose_error_* are in metres (the headline metric, see DESIGN.md); fall_rate_* is the env's contact fall (1 if the
# episode fell within the horizon); height_fall_* is DiffMimic's fall flag (fraction of steps with the pelvis
# outside [0.2, 1.7] m); first_fall_seconds is the time of the first contact fall (NaN: none); diverged_seconds the
# time the simulation diverged (NaN: it did not; from then on the episode is scored as a failure). The optional
# columns may be NaN where a method has no such quantity (PPO has no replay, an evaluation-only row has no loss).
INT_COLUMNS = ("samples", "iteration")
HORIZONS = ("cycle", "20s")
# What one evaluation measures (benchmarks/evaluator.py returns exactly these).
EVALUATION_COLUMNS = (
    "pose_error_cycle",
    "pose_error_20s",
    "fall_rate_cycle",
    "fall_rate_20s",
    "height_fall_cycle",
    "height_fall_20s",
    "first_fall_seconds",
    "diverged_seconds",
)
# Training diagnostics, each over the updates since the previous evaluation: mean loss and mean raw gradient norm
# (before clipping) of the finite updates, mean replay rate, and the fraction of updates whose loss or gradient was
# non-finite (skipped: the harness keeps the state from before them).
TRAINING_COLUMNS = ("loss", "grad_norm", "replay_rate", "nonfinite_fraction")
# Columns added to schema 2 after its first files were written: read as NaN (not measured) where a file lacks them.
LATE_COLUMNS = ("nonfinite_fraction", "diverged_seconds")
CURVE_COLUMNS = ("samples", "iteration", "train_seconds", "compile_seconds", "eval_seconds", *EVALUATION_COLUMNS,
                 *TRAINING_COLUMNS)
OPTIONAL_CURVE_COLUMNS = (*EVALUATION_COLUMNS[2:], *TRAINING_COLUMNS)
# Schema 1 files: their columns, and what each became (the others are "not measured", NaN).
LEGACY_CURVE_COLUMNS = (
    "samples", "iteration", "train_seconds", "compile_seconds", "eval_seconds",
    "pose_error", "fall_rate", "loss", "grad_norm", "replay_rate",
)
# Each env option added after runs were recorded, and the value those runs had.
ENV_OPTIONS_BEFORE = {
    "torque_limits": "character",  # every PD torque clipped to the character's limits
    "joint_damping": "brax",  # the asset's damping on every joint
    "phase": "rounded",  # counted over a whole number of control steps
    "reset_above_ground": False,  # started from the reference frame as it is
    "fall_contact_distance": 0.01,  # a fall body within 1 cm of the floor was a fall
}


def with_recorded_options(env_config: dict) -> dict:
    """A copy of a manifest's env config with the options added since it was recorded (``ENV_OPTIONS_BEFORE``) set
    to the values the run had, for comparing it with, or rebuilding it as, today's config."""
    return {**ENV_OPTIONS_BEFORE, **env_config}


LEGACY_RENAMES = {"pose_error": "pose_error_cycle", "fall_rate": "fall_rate_cycle", "final_pose_error": "final_pose_error_cycle"}
MONOTONE_COLUMNS = ("samples", "iteration", "train_seconds", "compile_seconds", "eval_seconds")

# Provenance the writer insists on, so that every record can say where its numbers came from.
REQUIRED_MANIFEST_KEYS = (
    "config",
    "tier",
    "backend",
    "device",
    "git_commit",
    "package_versions",
    "xla_flags",
    "start_time",
)
KEY_FIELDS = ("suite", "clip", "method", "seed")
# Summary fields derived from the curve; the caller of finish() cannot override them.
DERIVED_SUMMARY_KEYS = (
    "final_pose_error_cycle",
    "final_pose_error_20s",
    "total_samples",
    "train_seconds",
    "compile_seconds",
    "eval_seconds",
    "n_evals",
    "curve_sha256",
)
DEFAULT_PACKAGES = ("jax", "jaxlib", "brax", "flax", "optax", "mujoco", "mujoco-mjx", "numpy", "mimicbench")

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class CorruptRunError(ValueError):
    """A run directory whose files are unreadable or inconsistent; the message names the file and the problem."""


# --------------------------------------------------------------------------------------------- keys


@dataclasses.dataclass(frozen=True, order=True)
class RunKey:
    """Identifies one run; also its place on disk, so each field must be a safe path component."""

    suite: str
    clip: str
    method: str
    seed: int

    def __post_init__(self) -> None:
        for field in ("suite", "clip", "method"):
            value = getattr(self, field)
            if not isinstance(value, str) or not _NAME_PATTERN.match(value):
                raise ValueError(f"RunKey.{field}={value!r}: use letters, digits and _ . + - (no path separators)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"RunKey.seed={self.seed!r} must be an int")

    def dir(self, out: str | os.PathLike = DEFAULT_OUT) -> Path:
        return Path(out) / self.suite / self.clip / self.method / f"seed_{self.seed}"

    @classmethod
    def from_dir(cls, run_dir: str | os.PathLike) -> "RunKey":
        run_dir = Path(run_dir)
        match = re.fullmatch(r"seed_(-?\d+)", run_dir.name)
        if match is None or len(run_dir.parts) < 4:
            raise ValueError(f"{run_dir}: not a run directory (<suite>/<clip>/<method>/seed_<k>)")
        return cls(run_dir.parent.parent.parent.name, run_dir.parent.parent.name, run_dir.parent.name, int(match[1]))


# ---------------------------------------------------------------------------------------- atomic IO


def _jsonable(value: Any) -> Any:
    """Plain JSON values; non-finite floats become null so the files stay strict JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # numpy (or any array) scalar
        return _jsonable(value.item())
    raise TypeError(f"cannot store {type(value).__name__} value {value!r} in a run record")


_UMASK = os.umask(0)
os.umask(_UMASK)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers (and a kill) see either the old file or the whole new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are meant to be shared like any file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    text = json.dumps(_jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_bytes_atomic(path, text.encode())


def sha256_file(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------- provenance


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def collect_provenance(packages: tuple[str, ...] = DEFAULT_PACKAGES, repo_dir: str | os.PathLike | None = None) -> dict:
    """The JAX-free part of a manifest: git commit, package versions, XLA flags, start time.

    The harness adds ``config``, ``tier``, ``backend`` and ``device`` (those need the live JAX runtime).
    """
    repo = Path(repo_dir) if repo_dir is not None else Path(__file__).resolve().parent.parent
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    # Dirty means the code differs from the commit: committed results being rewritten or removed (a suite that
    # redoes its runs, a rebuilt report) do not count.
    status = _git(["status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)results"], repo)
    return {
        "git_commit": _git(["rev-parse", "HEAD"], repo),
        "git_dirty": None if status is None else bool(status),
        "package_versions": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "start_time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


# -------------------------------------------------------------------------------------------- writer


def _format_value(column: str, value: Any) -> str:
    if column in INT_COLUMNS:
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"curve column {column!r} must be an integer, got {value!r}")
        return str(int(number))
    return repr(float(value))  # repr round-trips exactly; nan/inf are read back by pandas


class RunWriter:
    """Writes one run: the manifest at construction, a curve row per evaluation, the summary at the end.

    The run directory must not exist yet (or be empty): call ``clear_run`` first to redo a stale partial run.
    Resuming mid-run from a checkpoint is ``RunWriter.resume(out, key, up_to_samples)``.
    """

    def __init__(self, out: str | os.PathLike, key: RunKey, manifest: Mapping[str, Any]):
        self.key = key
        self.dir = key.dir(out)
        missing = [name for name in REQUIRED_MANIFEST_KEYS if name not in manifest]
        if missing:
            raise ValueError(f"manifest lacks {missing}; build it from collect_provenance() plus config/tier/backend/device")
        for field in KEY_FIELDS:
            if field in manifest and manifest[field] != getattr(key, field):
                raise ValueError(f"manifest {field}={manifest[field]!r} disagrees with the run key {key}")
        if self.dir.exists() and any(self.dir.iterdir()):
            raise FileExistsError(f"{self.dir} already holds a run; check is_finished() and call clear_run() to redo it")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest = {**manifest, **dataclasses.asdict(key), "schema_version": SCHEMA_VERSION}
        write_json_atomic(self.dir / MANIFEST_FILE, self.manifest)
        self._lines: list[str] = []
        self._last: dict[str, float] | None = None
        self._finished = False
        self._write_curve()

    @classmethod
    def resume(cls, out: str | os.PathLike, key: RunKey, up_to_samples: int) -> "RunWriter":
        """Reopen an unfinished run, keeping the curve rows at or before a checkpoint's sample count."""
        run = load_run(key.dir(out))
        if run.status != INCOMPLETE:
            raise FileExistsError(f"{run.dir} is already finished ({run.status}); nothing to resume")
        writer = cls.__new__(cls)
        writer.key, writer.dir, writer.manifest = key, run.dir, run.manifest
        writer._lines, writer._last, writer._finished = [], None, False
        if run.manifest["schema_version"] != SCHEMA_VERSION:  # the curve is rewritten in today's columns
            writer.manifest = {**run.manifest, "schema_version": SCHEMA_VERSION}
            write_json_atomic(writer.dir / MANIFEST_FILE, writer.manifest)
        for row in run.curve[run.curve["samples"] <= up_to_samples][list(CURVE_COLUMNS)].to_dict("records"):
            writer._add(row)
        writer._write_curve()
        return writer

    @property
    def n_evals(self) -> int:
        """Curve rows written so far."""
        return len(self._lines)

    def append(self, row: Mapping[str, Any]) -> None:
        """Add one evaluation row (see CURVE_COLUMNS) and rewrite curve.csv atomically."""
        if self._finished:
            raise RuntimeError(f"{self.dir}: run already finished")
        unknown = set(row) - set(CURVE_COLUMNS)
        if unknown:
            raise ValueError(f"unknown curve columns {sorted(unknown)}; allowed: {CURVE_COLUMNS}")
        missing = [c for c in CURVE_COLUMNS if c not in row and c not in OPTIONAL_CURVE_COLUMNS]
        if missing:
            raise ValueError(f"curve row lacks {missing} (pose_error_20s may be None: not measured)")
        self._add({c: math.nan if row.get(c) is None else row[c] for c in CURVE_COLUMNS})
        self._write_curve()

    def _add(self, row: Mapping[str, Any]) -> None:
        cells = [_format_value(c, row[c]) for c in CURVE_COLUMNS]
        values = {c: float(row[c]) for c in CURVE_COLUMNS}
        if self._last is not None:
            for column in MONOTONE_COLUMNS:
                if values[column] < self._last[column]:
                    raise ValueError(f"curve column {column!r} went backwards: {self._last[column]} -> {values[column]}")
        self._lines.append(",".join(cells))
        self._last = values

    def _curve_bytes(self) -> bytes:
        return ("\n".join([",".join(CURVE_COLUMNS), *self._lines]) + "\n").encode()

    def _write_curve(self) -> None:
        write_bytes_atomic(self.dir / CURVE_FILE, self._curve_bytes())

    def finish(self, status: str, reason: str | None = None, **extra: Any) -> dict:
        """Seal the run: write summary.json (last) with totals derived from the curve and its sha256."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"status must be one of {FINISHED_STATUSES}, got {status!r}")
        clash = set(extra) & (set(DERIVED_SUMMARY_KEYS) | {"status", "schema_version"})
        if clash:
            raise ValueError(f"summary fields {sorted(clash)} are derived from the curve and cannot be passed")
        last = self._last or {c: (0 if c in INT_COLUMNS else math.nan) for c in CURVE_COLUMNS}
        summary = {
            **extra,
            "schema_version": SCHEMA_VERSION,
            "status": status,
            "final_pose_error_cycle": last["pose_error_cycle"],
            "final_pose_error_20s": last["pose_error_20s"],
            "total_samples": int(last["samples"]),
            "train_seconds": last["train_seconds"] if self._last else 0.0,
            "compile_seconds": last["compile_seconds"] if self._last else 0.0,
            "eval_seconds": last["eval_seconds"] if self._last else 0.0,
            "n_evals": len(self._lines),
            "curve_sha256": hashlib.sha256(self._curve_bytes()).hexdigest(),
            "finish_time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if reason is not None:
            summary["reason"] = reason
        write_json_atomic(self.dir / SUMMARY_FILE, summary)
        self._finished = True
        return summary


# -------------------------------------------------------------------------------------------- reader


@dataclasses.dataclass
class Run:
    key: RunKey
    dir: Path
    manifest: dict
    curve: pd.DataFrame
    summary: dict | None  # None while the run is incomplete

    @property
    def status(self) -> str:
        return self.summary["status"] if self.summary is not None else INCOMPLETE


def read_json_object(path: Path) -> dict:
    """The JSON object in `path`; CorruptRunError naming the file if it is missing, not JSON or not an object."""
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise CorruptRunError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptRunError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(obj, dict):
        raise CorruptRunError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _read_curve(path: Path, schema_version: int = SCHEMA_VERSION) -> pd.DataFrame:
    """The curve as numbers in CURVE_COLUMNS; a schema 1 file's columns are renamed (LEGACY_RENAMES) and the
    horizons it did not measure are NaN."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise CorruptRunError(f"{path}: missing") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CorruptRunError(f"{path}: not a readable CSV ({error})") from None
    columns = LEGACY_CURVE_COLUMNS if schema_version == 1 else CURVE_COLUMNS
    missing = [c for c in columns if c not in raw.columns and c not in LATE_COLUMNS]
    columns = [c for c in columns if c in raw.columns]
    if missing:
        raise CorruptRunError(f"{path}: missing columns {missing} (schema_version {schema_version})")
    curve = pd.DataFrame(index=raw.index)
    for column in columns:
        text = raw[column].str.strip()
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() & (text.str.lower() != "nan")
        if bad.any():
            row = int(bad.idxmax())
            raise CorruptRunError(f"{path}: non-numeric {column!r} value {raw[column][row]!r} in data row {row + 1}")
        if column in INT_COLUMNS:
            if not (numbers.notna() & (numbers.abs() != math.inf) & (numbers == numbers.round())).all():
                raise CorruptRunError(f"{path}: column {column!r} must hold integers")
            numbers = numbers.astype("int64")
        else:
            numbers = numbers.astype("float64")
        curve[LEGACY_RENAMES.get(column, column) if schema_version == 1 else column] = numbers
    for column in MONOTONE_COLUMNS:
        if (curve[column].diff() < 0).any():
            raise CorruptRunError(f"{path}: column {column!r} decreases")
    return curve.reindex(columns=list(CURVE_COLUMNS))  # columns a schema 1 file lacks: NaN, not measured


def _as_float(value: Any) -> float:
    return math.nan if value is None else float(value)


def load_run(run_dir: str | os.PathLike) -> Run:
    """Read and validate one run directory; raises CorruptRunError naming the file and the problem."""
    run_dir = Path(run_dir)
    try:
        key = RunKey.from_dir(run_dir)
    except ValueError as error:
        raise CorruptRunError(str(error)) from None
    manifest_path = run_dir / MANIFEST_FILE
    manifest = read_json_object(manifest_path)
    schema_version = manifest.get("schema_version")
    if schema_version not in READABLE_SCHEMA_VERSIONS:
        raise CorruptRunError(f"{manifest_path}: schema_version {schema_version!r}, expected one of {READABLE_SCHEMA_VERSIONS}")
    missing = [k for k in (*KEY_FIELDS, *REQUIRED_MANIFEST_KEYS) if k not in manifest]
    if missing:
        raise CorruptRunError(f"{manifest_path}: missing keys {missing}")
    for field in KEY_FIELDS:
        if manifest[field] != getattr(key, field):
            raise CorruptRunError(f"{manifest_path}: {field}={manifest[field]!r} but the directory says {getattr(key, field)!r}")

    curve_path = run_dir / CURVE_FILE
    summary_path = run_dir / SUMMARY_FILE
    if not summary_path.exists():
        return Run(key, run_dir, manifest, _read_curve(curve_path, schema_version), None)

    summary = read_json_object(summary_path)
    if schema_version == 1:
        summary = {LEGACY_RENAMES.get(k, k): v for k, v in summary.items()}
        summary.setdefault("final_pose_error_20s", None)  # not measured
    missing = [k for k in ("status", *DERIVED_SUMMARY_KEYS) if k not in summary]
    if missing:
        raise CorruptRunError(f"{summary_path}: missing keys {missing}")
    if summary["status"] not in FINISHED_STATUSES:
        raise CorruptRunError(f"{summary_path}: status {summary['status']!r} is not one of {FINISHED_STATUSES}")
    if not curve_path.exists():
        raise CorruptRunError(f"{curve_path}: missing")
    digest = sha256_file(curve_path)
    if digest != summary["curve_sha256"]:
        raise CorruptRunError(
            f"{curve_path}: sha256 {digest[:12]}... does not match summary.json's {str(summary['curve_sha256'])[:12]}... "
            "(the curve was truncated or edited after the run finished)"
        )
    curve = _read_curve(curve_path, schema_version)
    if summary["n_evals"] != len(curve):
        raise CorruptRunError(f"{summary_path}: n_evals={summary['n_evals']} but curve.csv has {len(curve)} rows")
    last_samples = int(curve["samples"].iloc[-1]) if len(curve) else 0
    if summary["total_samples"] != last_samples:
        raise CorruptRunError(f"{summary_path}: total_samples={summary['total_samples']} but curve.csv ends at {last_samples}")
    for name in ("final_pose_error_cycle", "final_pose_error_20s", "train_seconds", "compile_seconds", "eval_seconds"):
        summary[name] = _as_float(summary[name])
    return Run(key, run_dir, manifest, curve, summary)


def run_dirs(out: str | os.PathLike) -> list[Path]:
    return sorted(d for d in Path(out).glob("*/*/*/seed_*") if d.is_dir())


def scan_runs(out: str | os.PathLike = DEFAULT_OUT) -> tuple[list[Run], list[tuple[Path, str]]]:
    """All finished (complete or diverged) valid runs under ``out``, and (path, problem) for every other run dir."""
    out = Path(out)
    if not out.is_dir():
        raise FileNotFoundError(f"results directory {out} does not exist")
    runs, problems = [], []
    for run_dir in run_dirs(out):
        try:
            run = load_run(run_dir)
        except CorruptRunError as error:
            problems.append((run_dir, f"corrupt: {error}"))
            continue
        if run.status == INCOMPLETE:
            problems.append((run_dir, f"incomplete: no {SUMMARY_FILE} ({len(run.curve)} evaluations so far)"))
        else:
            runs.append(run)
    return runs, problems


def is_finished(out: str | os.PathLike, key: RunKey) -> bool:
    """True when the run has a valid summary whose hash matches its curve, so a resume may skip it."""
    try:
        return load_run(key.dir(out)).status in FINISHED_STATUSES
    except CorruptRunError:
        return False


def clear_run(out: str | os.PathLike, key: RunKey) -> None:
    """Delete a run's directory (a stale partial or corrupt run) before redoing it; no-op if absent."""
    run_dir = key.dir(out)
    if run_dir.exists():
        shutil.rmtree(run_dir)


__all__ = [
    "CURVE_COLUMNS",
    "CorruptRunError",
    "Run",
    "RunKey",
    "RunWriter",
    "SCHEMA_VERSION",
    "clear_run",
    "collect_provenance",
    "is_finished",
    "load_run",
    "scan_runs",
    "write_json_atomic",
]
