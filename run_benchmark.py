"""MimicBench: run a suite of motion-mimicking benchmarks and write a paper-style report.

    python run_benchmark.py --suite smoke                              # embedded clip, no download, ~2 minutes
    python run_benchmark.py --suite deepmimic --methods diffmimic,ppo  # the 12 DeepMimic clips (needs the data)
    python run_benchmark.py list                                       # suites, methods, tiers, clips
    python run_benchmark.py fetch                                      # download DeepMimic's clips (sha256-checked)
    python run_benchmark.py view results/smoke/synthetic/diffmimic/seed_0   # watch a run's policy against the clip
    python -m report results/                                          # rebuild the report without training

Every (clip, method, seed) run is recorded under ``--out`` as it trains; rerunning the same command resumes:
finished runs are kept, interrupted ones continue from their last checkpoint.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Literal

import tyro


@dataclasses.dataclass
class BenchmarkArgs:
    """Run every clip of a suite with every method and seed, then write the report."""

    suite: str = "smoke"
    """Suite to run: `smoke` (the embedded synthetic clip) or `deepmimic` (12 DeepMimic clips); see `list`."""
    methods: str = "diffmimic,ppo"
    """Comma-separated method names (built-in or plugin); see `list`."""
    clips: str | None = None
    """Comma-separated clip names of the suite, or DeepMimic-format motion files (default: the whole suite)."""
    seeds: str = "1"
    """A count (`3` = seeds 0, 1, 2) or a comma-separated list of seeds (`0,5`)."""
    tier: str | None = None
    """Budget tier: `smoke` (seconds), `quick` (minutes per run on CPU), `paper` (DiffMimic's settings, for a GPU).
    Default: `smoke` for the smoke suite, else `quick`."""
    backend: str = "spring"
    """Brax physics backend: spring, positional, generalized or mjx."""
    data_dir: str | None = None
    """DeepMimic data folder (default: $MIMICBENCH_DATA, else the cache filled by `fetch`)."""
    out: Path = Path("results")
    """Results folder; the report is written to OUT/report."""
    resume: bool = True
    """Keep finished runs and continue interrupted ones; --no-resume redoes every run."""
    report: bool = True
    """Build OUT/report after the runs."""
    record_every: int = 0
    """Besides the final policy's episode (always saved), save the evaluation episode at every Nth evaluation to
    RUN/rollouts/samples_<k>.npz for `view` (each costs one extra compile of a few seconds)."""
    executor: Literal["local", "ray"] = "local"
    """Where runs execute: `local` (one after another in this process) or `ray` (every run a Ray task on a cluster;
    OUT must be on a filesystem every node can write)."""
    ray_address: str | None = None
    """Ray cluster to run on (`HOST:PORT` of `ray start --head`); default: the cluster `ray start` runs on this machine
    (or $RAY_ADDRESS), else a new local Ray instance."""
    ray_cpus_per_run: float = 1.0
    """CPU cores each Ray task asks for."""
    ray_gpus_per_run: float | None = None
    """GPUs each Ray task asks for (default: 1 if the cluster has GPUs, else 0; a fraction shares a GPU)."""


def _list() -> int:
    from benchmarks.suites import SUITES
    from benchmarks.tiers import TIERS
    from envs.data import MOTION_NAMES
    from methods import get_method, list_methods

    print("suites:")
    for name, clips in SUITES.items():
        print(f"  {name:10s} {', '.join(spec.label for spec in clips)}")
    print("methods:")
    for name in list_methods():
        try:
            description = get_method(name).description
        except Exception as err:  # a broken plugin is listed with its problem, not fatal
            description = f"(cannot load: {err})"
        print(f"  {name:20s} {description}")
    print("tiers:")
    for tier in TIERS.values():
        print(f"  {tier.name:10s} {tier.description}")
    print(f"clips: synthetic, {', '.join(MOTION_NAMES)}, or any DeepMimic-format motion file")
    return 0


def _fetch(argv: list[str]) -> int:
    from envs.data import main as data_main

    return data_main(["fetch", *argv])


def _plan(args: BenchmarkArgs):
    """Every run of the command, validated before anything compiles."""
    from benchmarks.harness import RunSpec, seeds_from
    from benchmarks.suites import resolve_suite
    from benchmarks.tiers import get_tier
    from envs import BACKENDS
    from envs.reference import resolve_clip_path
    from methods import check_compatible, get_method

    if args.backend not in BACKENDS:
        raise ValueError(f"unknown backend '{args.backend}': valid backends are {', '.join(BACKENDS)}")
    tier = get_tier(args.tier or ("smoke" if args.suite == "smoke" else "quick"))
    clips = resolve_suite(args.suite, [c.strip() for c in args.clips.split(",")] if args.clips else None)
    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    if not methods:
        raise ValueError("--methods is empty")
    for name in methods:
        check_compatible(get_method(name), args.backend)
    for spec in clips:
        resolve_clip_path(spec.clip, args.data_dir)  # a missing file or unknown clip fails here, not mid-suite
    seeds = seeds_from(args.seeds)
    return [
        RunSpec(args.suite, spec, method, seed, tier, args.backend, args.data_dir, args.record_every)
        for spec in clips
        for method in methods
        for seed in seeds
    ]


def _enable_compilation_cache() -> None:
    """Seeds of the same (clip, method) compile to the same program: JAX's persistent cache compiles it once."""
    import os

    import jax

    cache = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(Path.home() / ".cache" / "mimicbench" / "jax")
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 5.0)


def _run(args: BenchmarkArgs) -> int:
    from benchmarks.executors import make_executor

    executor = make_executor(
        args.executor, ray_address=args.ray_address, cpus_per_run=args.ray_cpus_per_run, gpus_per_run=args.ray_gpus_per_run
    )
    _enable_compilation_cache()

    plan = _plan(args)
    print(f"{len(plan)} runs: suite={args.suite} tier={plan[0].tier.name} backend={args.backend} out={args.out}")
    result = executor.run(plan, args.out, resume=args.resume)
    if args.report:
        from report.build import build_report

        paths = build_report(args.out)
        print(f"report: {paths.markdown} and {paths.html}")
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["list"]:
        return _list()
    if argv[:1] == ["fetch"]:
        return _fetch(argv[1:])
    if argv[:1] == ["view"]:
        from report.viewer import main as view_main

        return view_main(argv[1:])
    args = tyro.cli(BenchmarkArgs, args=argv, description=__doc__)
    from benchmarks.suites import UnknownSuiteError
    from benchmarks.tiers import UnknownTierError
    from envs.character import CharacterError
    from envs.data import DataError
    from envs.motion import MotionError
    from methods import IncompatibleMethodError, UnknownMethodError

    try:
        return _run(args)
    except (UnknownSuiteError, UnknownTierError, UnknownMethodError, IncompatibleMethodError, DataError, MotionError, CharacterError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
