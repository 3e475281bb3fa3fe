"""Training speed of this checkout against an older commit, measured side by side on the same machine.

    python -m benchmarks.side_by_side --old 590b341     # walk, quick tier, diffmimic and ppo, old/new/new/old

Each commit runs its own ``run_benchmark.py`` (its own code, its own defaults: the older one on one device, this one
on all of them) on the same clip at the quick tier, one seed, into a scratch folder; the training samples/s of a run
is its final sample count over its train seconds (compile and evaluation not counted), read from its ``curve.csv``.
Commits alternate (old, new, new, old, ...) so that drift in the machine's load falls on both alike. The record goes
to ``results/perf/side_by_side/<machine>.json``; ``python -m benchmarks.perf_table --readme`` puts it in the README.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tyro

REPO = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class SideBySideArgs:
    old: str
    """Git revision of the older code (a commit, tag or branch of this repository)."""
    clip: str = "walk"
    """Clip of the deepmimic suite both commits run."""
    methods: str = "diffmimic,ppo"
    """Comma-separated methods both commits have."""
    tier: str = "quick"
    """Tier both commits have (its wall-clock cap makes every run the same length)."""
    repeats: int = 2
    """Runs per commit (alternating old/new, new/old, ...); the median is reported."""
    name: str | None = None
    """File name of the record (default: the machine name of ``benchmarks.perf``)."""
    out: Path = REPO / "results" / "perf" / "side_by_side"
    """Folder of the record."""


class SideBySideError(RuntimeError):
    """A run of one commit failed or left no curve; the message names the commit and the log."""


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def read_rate(curve: Path) -> dict:
    """Samples, train seconds, samples/s and compile seconds of a finished run's ``curve.csv``."""
    try:
        with curve.open() as handle:
            rows = list(csv.DictReader(handle))
        last = rows[-1]
        samples, seconds = int(float(last["samples"])), float(last["train_seconds"])
        compile_seconds = float(rows[0]["compile_seconds"])
    except (OSError, IndexError, KeyError, ValueError) as error:
        raise SideBySideError(f"{curve}: not a finished run's curve ({type(error).__name__}: {error})") from error
    if seconds <= 0:
        raise SideBySideError(f"{curve}: no training time recorded")
    return {"samples": samples, "train_seconds": seconds, "samples_per_s": samples / seconds,
            "compile_seconds": compile_seconds}


def rates_by_commit(runs: list[dict], method: str) -> dict[str, list[float]]:
    """``method``'s samples/s of each run, sorted, for the old and the new commit."""
    return {commit: sorted(run["samples_per_s"] for run in runs if run["method"] == method and run["commit"] == commit)
            for commit in ("old", "new")}


def speedups(runs: list[dict]) -> dict[str, float]:
    """Per method: the median new samples/s over the median old samples/s."""
    result = {}
    for method in sorted({run["method"] for run in runs}):
        rates = rates_by_commit(runs, method)
        result[method] = statistics.median(rates["new"]) / statistics.median(rates["old"])
    return result


def _run_commit(root: Path, label: str, args: SideBySideArgs, out: Path, cache: Path, log: Path) -> None:
    command = [sys.executable, "run_benchmark.py", "--suite", "deepmimic", "--clips", args.clip, "--methods",
               args.methods, "--tier", args.tier, "--out", str(out), "--no-report"]
    # The commit's own packages first: the editable install of this checkout must not shadow an older worktree's.
    env = {**os.environ, "PYTHONPATH": str(root), "JAX_COMPILATION_CACHE_DIR": str(cache)}
    print(f"[{label}] {' '.join(command[1:])}  (log: {log})", flush=True)
    with log.open("a") as handle:
        done = subprocess.run(command, cwd=root, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SideBySideError(f"the {label} commit's run failed with exit code {done.returncode}; see {log}")


def run(args: SideBySideArgs) -> dict:
    from benchmarks.perf import machine_name

    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    old_commit = _git("rev-parse", args.old)
    new_commit, dirty = _git("rev-parse", "HEAD"), bool(_git("status", "--porcelain", "--untracked-files=no"))
    runs = []
    with tempfile.TemporaryDirectory(prefix="side_by_side_") as scratch_name:
        scratch = Path(scratch_name)
        old_root = scratch / "old"
        _git("worktree", "add", "--detach", str(old_root), old_commit)
        try:
            roots = {"old": old_root, "new": REPO}
            for repeat in range(args.repeats):
                order = ("old", "new") if repeat % 2 == 0 else ("new", "old")
                for label in order:
                    out = scratch / f"{label}-{repeat}"
                    _run_commit(roots[label], label, args, out, scratch / f"cache-{label}", scratch / f"{label}.log")
                    for method in methods:
                        rate = read_rate(out / "deepmimic" / args.clip / method / "seed_0" / "curve.csv")
                        runs.append({"commit": label, "repeat": repeat, "method": method, **rate})
                        print(f"[{label}] {method}: {rate['samples']:,} samples in {rate['train_seconds']:.1f} s "
                              f"= {rate['samples_per_s']:,.0f} samples/s", flush=True)
        finally:
            _git("worktree", "remove", "--force", str(old_root))
    return {
        "machine": {"name": args.name or machine_name(), "cpus": os.cpu_count()},
        "settings": {"clip": args.clip, "tier": args.tier, "methods": methods, "repeats": args.repeats},
        "old": {"ref": args.old, "commit": old_commit},
        "new": {"commit": new_commit, "dirty": dirty},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": runs,
        "speedup": speedups(runs),
    }


def main(argv=None) -> None:
    args = tyro.cli(SideBySideArgs, args=argv, description=__doc__.split("\n")[0])
    record = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{record['machine']['name']}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print("speed-up (new/old samples/s): " + ", ".join(f"{m} {s:.2f}x" for m, s in record["speedup"].items()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
