"""MimicBench: run a suite of motion-mimicking benchmarks and write a paper-style report.

    python run_benchmark.py                                            # the main job: diffmimic vs ppo, ~5 minutes
    python run_benchmark.py --suite deepmimic --methods diffmimic,ppo  # the 12 DeepMimic clips (needs the data)
    python run_benchmark.py list                                       # suites, methods, tiers, clips
    python run_benchmark.py fetch                                      # download DeepMimic's clips (sha256-checked)
    python run_benchmark.py fetch --source diffmimic --accept-licence  # DiffMimic's SMPL/SWORDSHIELD clips (non-commercial)
    python run_benchmark.py view results/smoke/synthetic/diffmimic/seed_0   # watch a run's policy against the clip
    python run_benchmark.py report results                             # rebuild the report without training

`run` is the default subcommand: options without a subcommand are the run's (`run --help` lists them). Every
(clip, method, seed) run is recorded under --out as it trains; rerunning the same command resumes: finished runs
are kept, interrupted ones continue from their last checkpoint (--stop-after-minutes spreads long runs over
bounded calls).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Annotated, Literal, Union

import tyro

from benchmarks.console import quiet_libraries
from benchmarks.host_devices import cpu_cores, request_host_devices
from benchmarks.input_errors import input_errors
from benchmarks.overrides import parse_seeds, parse_set
from benchmarks.tiers import TIERS

SUBCOMMANDS = ("run", "list", "fetch", "view", "report")
# Shown as the choices in --help without importing JAX; tests/test_cli.py checks them against the registries.
SUITE_CHOICES = ("smoke", "deepmimic", "amass", "aist", "swordshield")
BACKEND_CHOICES = ("spring", "positional", "generalized", "mjx")
TORQUE_LIMIT_CHOICES = ("none", "character")
PHASE_CHOICES = ("exact", "rounded")


def _choices(names) -> str:
    return "{" + ",".join(names) + "}"


@dataclasses.dataclass
class RunArgs:
    """Run every clip of a suite with every method and seed, then write the report (the default subcommand)."""

    suite: Annotated[str, tyro.conf.arg(metavar=_choices(SUITE_CHOICES))] = "smoke"
    """`smoke`: the embedded synthetic clip (no download); `deepmimic`: DeepMimic's 12 clips; `amass`, `aist`,
    `swordshield`: DiffMimic's SMPL and SWORDSHIELD clips (`fetch --source diffmimic`; swordshield's Reallusion
    clips also `fetch --source ase`; see `list`)."""
    methods: str = "diffmimic,ppo"
    """Comma-separated method names (built-in or plugin); see `list`."""
    clips: str | None = None
    """Comma-separated clip names of the suite, DeepMimic motion files, DiffMimic state files or poselib motions
    (.npy; the character is inferred from the file) (default: the whole suite)."""
    seeds: str | None = None
    """Comma-separated seeds: `0` is seed 0, `0,1,2` three seeds (default: seed 0)."""
    num_seeds: int | None = None
    """Run seeds 0 .. N-1 (instead of --seeds)."""
    tier: Annotated[str | None, tyro.conf.arg(metavar=_choices(TIERS))] = None
    """Budget tier (default: `demo`, the 5-minute main job, for the smoke suite, else `quick`); see `list`."""
    backend: Annotated[str, tyro.conf.arg(metavar=_choices(BACKEND_CHOICES))] = "spring"
    """Brax physics backend."""
    torque_limits: Annotated[str, tyro.conf.arg(metavar=_choices(TORQUE_LIMIT_CHOICES))] = "none"
    """PD torques: `none` unclipped (DiffMimic's controller, the default), `character` clipped to the character's own
    limits (humanoid3d: DeepMimic's `TorqueLim`, 50-200 N m; FIDELITY.md section 3)."""
    phase: Annotated[str, tyro.conf.arg(metavar=_choices(PHASE_CHOICES))] = "exact"
    """The clip's phase: `exact` from its duration (the default), `rounded` over a whole number of control steps, as
    before 6 December 2026 (the long tier's suite runs with it; FIDELITY.md, *Phase*)."""
    data_dir: str | None = None
    """DeepMimic data folder (default: $MIMICBENCH_DATA, else the cache filled by `fetch`); DiffMimic's clips are read
    from $MIMICBENCH_DIFFMIMIC_DATA, else the cache filled by `fetch --source diffmimic`."""
    out: Path = Path("results")
    """Results folder; the report is written to OUT/report."""
    resume: bool = True
    """Keep finished runs and continue interrupted ones; --no-resume redoes every run."""
    stop_after_minutes: float | None = None
    """Stop cleanly once this many minutes of wall-clock have passed (compile, training and evaluation): the run in
    progress is checkpointed after its current update and no further run starts; the same command continues them.
    Exit code 3 says runs are left (e.g. `until python run_benchmark.py ... --stop-after-minutes 9; do :; done`)."""
    report: bool = True
    """Build OUT/report after the runs."""
    record_every: int = 0
    """Also save the episode of every Nth evaluation to RUN/rollouts/samples_<k>.npz for `view` (one extra compile)."""
    max_samples: int | None = None
    """Override the tier: training samples per run."""
    max_train_minutes: float | None = None
    """Override the tier: train minutes per run (compile and evaluation time not counted)."""
    eval_every_samples: int | None = None
    """Override the tier: evaluate every this many samples."""
    eval_frames: int | None = None
    """Override the tier: control steps of the cycle horizon (default: one clip cycle); the evaluation episode also
    covers the tier's long horizon (600 steps; 32 on the smoke tier)."""
    num_envs: int | None = None
    """Override every method's `num_envs` (parallel environments per update)."""
    set: Annotated[tuple[str, ...], tyro.conf.UseAppendAction, tyro.conf.arg(metavar="METHOD.FIELD=VALUE")] = ()
    """Set a method's config field, e.g. `diffmimic.learning_rate=1e-4` (`diffmimic`: and its ablations); repeatable."""
    env: Annotated[tuple[str, ...], tyro.conf.UseAppendAction, tyro.conf.arg(metavar="FIELD=VALUE")] = ()
    """Set an environment config field (envs.MimicConfig) for every run, e.g. `observation=timestamp`,
    `joint_damping=diffmimic`, `inertia=geometric`; repeatable. Fields a method sets itself are refused."""
    verbose: bool = False
    """Show JAX/XLA log output and library import messages (hidden by default)."""
    devices: int | None = None
    """Devices to split each run's training batch over (default: all: one per CPU core, or every GPU; `ppo` keeps
    to one, where it is faster on CPU); results do not depend on it beyond float rounding."""
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


@dataclasses.dataclass
class ListArgs:
    """List the suites, methods, tiers and clips."""

    verbose: bool = False
    """Show JAX/XLA log output and library import messages."""


@dataclasses.dataclass
class FetchArgs:
    """Download a source's reference data from its pinned commit, each file checked against its sha256."""

    source: Literal["deepmimic", "diffmimic", "ase"] = "deepmimic"
    """`deepmimic`: DeepMimic's character and clips (MIT); `diffmimic`: DiffMimic's SMPL and SWORDSHIELD clips (S-Lab
    License, non-commercial); `ase`: ASE's characters, AMP and Reallusion clips (NVIDIA and Reallusion, non-commercial)."""
    dest: str | None = None
    """Target folder (default: ~/.cache/mimicbench/<source>, or under $XDG_CACHE_HOME)."""
    force: bool = False
    """Download files that are already present again."""
    accept_licence: bool = False
    """Accept the non-commercial licence of `diffmimic` or `ase` (required to fetch them)."""


@dataclasses.dataclass
class ViewArgs:
    """Write (and optionally open) an HTML page that plays a run's recorded evaluation episode: the policy's
    character against the reference motion, drawn with the character's own shapes, and the pose error per frame."""

    rollout: Annotated[tyro.conf.Positional[Path], tyro.conf.arg(metavar="RUN_DIR_OR_ROLLOUT")]
    """A run directory (OUT/<suite>/<clip>/<method>/seed_<k>) or a rollout .npz file."""
    out: Path | None = None
    """HTML file to write (default: viewer.html next to the rollout)."""
    open: bool = False
    """Open the page in the default web browser."""


@dataclasses.dataclass
class ReportArgs:
    """Build REPORT.md and report.html from the finished runs under RESULTS (no training, no JAX)."""

    results: Annotated[tyro.conf.Positional[Path], tyro.conf.arg(metavar="RESULTS")] = Path("results")
    """The results folder of `run` (its --out)."""
    out: Path | None = None
    """Where to write the report (default: RESULTS/report)."""


Command = Union[
    Annotated[RunArgs, tyro.conf.subcommand("run")],
    Annotated[ListArgs, tyro.conf.subcommand("list")],
    Annotated[FetchArgs, tyro.conf.subcommand("fetch")],
    Annotated[ViewArgs, tyro.conf.subcommand("view")],
    Annotated[ReportArgs, tyro.conf.subcommand("report")],
]


def parse(argv: list[str]):
    """The subcommand's arguments; options without a subcommand are the run's (the documented bare command)."""
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]
    return tyro.cli(Command, args=argv, prog="run_benchmark.py", description=__doc__)


# -------------------------------------------------------------------------------------------------- list


def _list() -> int:
    from benchmarks.suites import SUITES
    from envs.data import MOTION_NAMES
    from envs.licensed_data import DIFFMIMIC_CLIPS, REALLUSION_CLIPS
    from methods import get_method, list_methods

    print("suites:")
    for name, clips in SUITES.items():
        print(f"  {name:12s} {', '.join(spec.label for spec in clips)}")
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
    print(f"clips: synthetic, {', '.join(MOTION_NAMES)}, {', '.join(DIFFMIMIC_CLIPS)}, {len(REALLUSION_CLIPS)} "
          "Reallusion clips (RL_Avatar_*, see the swordshield suite), or any DeepMimic motion file, DiffMimic state "
          "file or poselib motion (.npy)")
    return 0


def _fetch(args: FetchArgs) -> int:
    options = [*(["--dest", args.dest] if args.dest else []), *(["--force"] if args.force else [])]
    if args.source == "deepmimic":
        from envs.data import main as data_main

        return data_main(["fetch", *options])
    from envs.licensed_data import main as licensed_main

    return licensed_main(["fetch", "--source", args.source, *options,
                          *(["--accept-licence"] if args.accept_licence else [])])


# --------------------------------------------------------------------------------------------------- run


def make_plan(args: RunArgs):
    """Every run of the command, validated as a whole before anything compiles."""
    from benchmarks.plan import PlanRequest, default_tier, make_plan as plan_runs

    request = PlanRequest(
        suite=args.suite,
        methods=[name.strip() for name in args.methods.split(",") if name.strip()],
        seeds=parse_seeds(args.seeds, args.num_seeds),
        tier=args.tier or default_tier(args.suite),
        backend=args.backend,
        clips=[clip.strip() for clip in args.clips.split(",") if clip.strip()] if args.clips else None,
        data_dir=args.data_dir,
        record_every=args.record_every,
        budgets=dict(max_samples=args.max_samples, max_train_minutes=args.max_train_minutes,
                     eval_every_samples=args.eval_every_samples, eval_frames=args.eval_frames),
        num_envs=args.num_envs,
        settings=parse_set(args.set),
        devices=args.devices,
        torque_limits=args.torque_limits,
        phase=args.phase,
        env_settings=args.env,
    )
    return plan_runs(request)


def _describe(plan, args: RunArgs) -> str:
    tier = plan[0].tier
    budget = f"{tier.max_samples:,} samples" + (
        f" or {tier.max_train_seconds:.0f} s of training" if tier.max_train_seconds is not None else "")
    settings = sorted({f"{spec.method}.{name}={value}" for spec in plan for name, value in spec.config_overrides})
    env = plan[0].env_overrides
    return (f"{len(plan)} runs: suite={args.suite} tier={tier.name} ({budget} per run, evaluation every "
            f"{tier.eval_every_samples:,} samples) backend={args.backend} torque_limits={args.torque_limits} "
            f"phase={args.phase} out={args.out}"
            + (f"\nsettings: {', '.join(settings)}" if settings else "")
            + (f"\nenvironment: {', '.join(f'{name}={value}' for name, value in env)}" if env else ""))


def _warn_of_finished_runs_with_other_settings(found, out) -> None:
    """``found``: (run folder, differences) of the finished runs recorded under other settings (plan.check_recorded_runs)."""
    if found:
        listed = "; ".join(f"{run_dir} ({', '.join(changes)})" for run_dir, changes in found[:3])
        more = f"; and {len(found) - 3} more" if len(found) > 3 else ""
        print(f"warning: {len(found)} finished run(s) under {out} were recorded under other settings than this "
              f"command's and are kept as they are (delete a run's folder to redo it): {listed}{more}",
              file=sys.stderr, flush=True)


# Exit code of a run command stopped by --stop-after-minutes with runs left (1: a run failed; 2: bad input).
EXIT_UNFINISHED = 3
EXIT_INTERRUPTED = 130  # the shell's code for a process ended by Ctrl-C (128 + SIGINT)


def _run(args: RunArgs) -> int:
    from benchmarks.executors import make_executor
    from benchmarks.plan import check_recorded_runs

    started = time.monotonic()
    if args.stop_after_minutes is not None and args.stop_after_minutes <= 0:
        raise ValueError(f"--stop-after-minutes must be positive, got {args.stop_after_minutes}")
    executor = make_executor(
        args.executor, ray_address=args.ray_address, cpus_per_run=args.ray_cpus_per_run, gpus_per_run=args.ray_gpus_per_run
    )
    plan = make_plan(args)
    finished_elsewhere = check_recorded_runs(plan, args.out) if args.resume else []
    print(_describe(plan, args), flush=True)
    _warn_of_finished_runs_with_other_settings(finished_elsewhere, args.out)
    deadline = None if args.stop_after_minutes is None else started + 60 * args.stop_after_minutes
    result = executor.run(plan, args.out, resume=args.resume, **({} if deadline is None else {"deadline": deadline}))
    if result.unfinished:
        print(f"stopped after {args.stop_after_minutes:g} minutes: {len(result.unfinished)} of {len(plan)} runs not "
              "finished; run the same command again to continue them", flush=True)
    if args.report:
        from report.build import NoRunsError, build_report

        try:
            paths = build_report(args.out)
            print(f"report: {paths.markdown} and {paths.html}")
        except NoRunsError:
            print(f"no finished runs under {args.out} yet: no report", flush=True)
    if not result.ok:
        return 1
    return EXIT_UNFINISHED if result.unfinished else 0


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse(list(sys.argv[1:] if argv is None else argv))
    if isinstance(args, (RunArgs, ListArgs, FetchArgs)):  # those import JAX (view and report never do)
        # Before anything imports JAX: XLA reads its log level once, when jaxlib loads.
        # Also before JAX (quiet_libraries imports it): one XLA host device per core, or as many as --devices asks.
        request_host_devices(max(cpu_cores(), getattr(args, "devices", None) or 1))
        quiet_libraries(verbose=getattr(args, "verbose", False))
    if isinstance(args, ListArgs):
        return _list()
    if isinstance(args, FetchArgs):
        return _fetch(args)
    if isinstance(args, ViewArgs):
        from report.viewer import main as view_main

        return view_main([str(args.rollout), *(["--out", str(args.out)] if args.out else []),
                          *(["--open"] if args.open else [])])
    if isinstance(args, ReportArgs):
        from report.build import NoRunsError, build_report

        try:
            paths = build_report(args.results, args.out)
        except (NoRunsError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"report: {paths.markdown} and {paths.html}")
        return 0
    try:
        return _run(args)
    except input_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: every record on disk is whole (atomic writes), so say how to go on
        then = ("run the same command again to continue the interrupted run from its last evaluation checkpoint"
                if args.resume else "--no-resume was given: the same command would redo every run; drop it to continue")
        print(f"\ninterrupted: finished runs under {args.out} are kept; {then}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
