"""Executors: how the runs of a suite's plan are carried out.

Both hand every (clip, method, seed) run to the same :func:`benchmarks.harness.run`, so a run's results are the same
files in the same ``<out>/<suite>/<clip>/<method>/seed_<k>/`` layout whichever executor ran it, and resume works across
executors:

- :class:`LocalExecutor`: one run after another in this process, a progress bar per run and a one-line summary.
- :class:`RayExecutor`: every run is a Ray task asking for the resources one run needs (one GPU where the cluster has
  GPUs, else some CPU cores), on a running cluster (``ray start`` on the nodes) or a local Ray instance. ``<out>``
  must be a path every node can write (a shared filesystem). A task whose worker or node dies is retried by Ray and
  continues from the run's last checkpoint; finished runs are never redone.

A run that fails never stops the others: the executor reports it (one line: the run and the reason) and goes on.
Ray is imported only by :class:`RayExecutor`, and only when it runs.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Sequence

from benchmarks import results_store as store
from benchmarks.harness import Progress, RunSpec
from benchmarks.host_devices import with_host_devices

# A worker reports a run's progress to the driver at most this often (seconds); the driver polls twice as often.
PROGRESS_INTERVAL = 1.0
POLL_INTERVAL = 0.25
# The driver's settings that decide how a run executes, passed on to every Ray worker (they do not change results).
FORWARDED_ENV = ("MIMICBENCH_DATA", "MIMICBENCH_DIFFMIMIC_DATA", "MIMICBENCH_ASE_DATA", "JAX_COMPILATION_CACHE_DIR",
                 "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "XLA_FLAGS", "TF_CPP_MIN_LOG_LEVEL")


@dataclasses.dataclass(frozen=True)
class RunFailure:
    run: RunSpec
    reason: str
    """One line: the exception type and message, or what happened to the worker."""


@dataclasses.dataclass
class SuiteResult:
    """What a suite's execution produced: the summary of every finished run, and the runs that failed."""

    summaries: dict[store.RunKey, dict] = dataclasses.field(default_factory=dict)
    failures: list[RunFailure] = dataclasses.field(default_factory=list)
    unfinished: list[RunSpec] = dataclasses.field(default_factory=list)
    """Runs left for a later invocation because the deadline passed (the first may be checkpointed half-way)."""

    @property
    def ok(self) -> bool:
        return not self.failures


def run_label(spec: RunSpec) -> str:
    return f"{spec.clip.label}/{spec.method}/seed {spec.seed}"


def metres(value: float | None) -> str:
    """A pose error for the console; '-' when not measured (no evaluation yet after a resume, or a clip that does not loop)."""
    return "-" if value is None or math.isnan(value) else f"{value:.3f} m"


def long_horizon_label(tier) -> str:
    """The console's name of the long (``20s``) horizon: "20 s" at its usual 600 steps, else its step count."""
    return "20 s" if tier.long_eval_frames == 600 else f"{tier.long_eval_frames} steps"


def summary_line(summary: dict, tier) -> str:
    return (
        f"{summary['status']}, pose error {metres(summary['final_pose_error_20s'])} ({long_horizon_label(tier)}), "
        f"{metres(summary['final_pose_error_cycle'])} (cycle) after "
        f"{summary['total_samples']:,} samples, train {summary['train_seconds']:.1f}s, "
        f"compile {summary['compile_seconds']:.1f}s, eval {summary['eval_seconds']:.1f}s"
    )


def enable_compilation_cache() -> None:
    """Seeds of the same (clip, method) compile to the same program: JAX's persistent cache compiles it once."""
    import jax

    cache = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(Path.home() / ".cache" / "mimicbench" / "jax")
    jax.config.update("jax_compilation_cache_dir", cache)
    # Programs that compile in under 5 s are cheaper to recompile than to keep; a threshold set in the environment
    # (the tests set 1 s, so that their small programs are shared) is kept, not raised for the rest of the process.
    minimum = float(os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", 5.0))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", minimum)


def _one_line(error: BaseException) -> str:
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


# ------------------------------------------------------------------------------------------------ in process


def advance(bar, value: float) -> None:
    """Moves a progress bar to ``value``, at most to its total: a run's last update overshoots its time budget, and
    tqdm drops the total of a bar past it (its ``{total:.0f}`` format then fails on None)."""
    bar.update(min(value, bar.total) - bar.n)


class LocalExecutor:
    """Runs the plan in this process, one run after another."""

    def run(self, plan: Sequence[RunSpec], out: str | os.PathLike, *, resume: bool = True,
            deadline: float | None = None) -> SuiteResult:
        """``deadline`` (a ``time.monotonic()`` value): no run starts after it, and the run going on when it passes
        is checkpointed after its current update; the rest are listed in ``SuiteResult.unfinished``."""
        from tqdm import tqdm

        from benchmarks import harness

        enable_compilation_cache()
        result = SuiteResult()
        for index, spec in enumerate(plan, 1):
            label = f"[{index}/{len(plan)}] {run_label(spec)}"
            finished = resume and store.is_finished(out, spec.key)  # harness.run returns its summary untouched
            if deadline is not None and time.monotonic() >= deadline and not finished:
                result.unfinished.append(spec)
                continue
            if not finished:
                print(f"{label}: compiling...", file=sys.stderr, flush=True)
            bars = []

            by_time = spec.tier.max_train_seconds is not None  # the bar shows whichever budget the tier is sized by

            def report(progress: Progress) -> None:
                if not bars:  # created after compilation, so its rate and ETA count training only
                    total = spec.tier.max_train_seconds if by_time else spec.tier.max_samples
                    bar_format = "{l_bar}{bar}| {n:.0f}/{total:.0f} s train [{elapsed}<{remaining}{postfix}]"
                    bars.append(tqdm(total=total, desc=label, unit="s" if by_time else "samples", unit_scale=not by_time,
                                     leave=False, bar_format=bar_format if by_time else None))
                advance(bars[0], progress.train_seconds if by_time else progress.samples)
                bar = bars[0]
                bar.set_postfix_str((f"{progress.samples:,} samples, " if by_time else "") + f"pose error "
                                    f"{metres(progress.pose_error_20s)} ({long_horizon_label(spec.tier)}), "
                                    f"{metres(progress.pose_error_cycle)} (cycle)")

            try:
                summary = harness.run(spec, out, resume=resume, report=report, deadline=deadline)
            except harness.RunPaused as paused:
                result.unfinished.append(spec)
                print(f"{label}: stopped at the deadline after {paused.samples:,} samples (checkpointed)", flush=True)
                continue
            except Exception as error:  # noqa: BLE001 - one run's failure is reported, the suite goes on
                traceback.print_exc(file=sys.stderr)
                result.failures.append(RunFailure(spec, _one_line(error)))
                print(f"{label}: FAILED: {_one_line(error)}", flush=True)
                continue
            finally:
                for bar in bars:
                    bar.close()
            result.summaries[spec.key] = summary
            print(f"{label}: {'already finished: ' if finished else ''}{summary_line(summary, spec.tier)}", flush=True)
        return result


# ------------------------------------------------------------------------------------------------------ Ray


@dataclasses.dataclass(frozen=True)
class RunEvent:
    """What the driver learns about one run of the plan while the suite executes on Ray."""

    run: int
    """Index of the run in the plan."""
    kind: str
    """``started`` (a worker took it; again after a retry), ``progress``, ``finished`` or ``failed``."""
    node: str | None = None
    """Ray's id of the node, the host name and the process id of the worker running it (``started``, ``progress``)."""
    host: str | None = None
    pid: int | None = None
    samples: int | None = None
    pose_error_20s: float | None = None
    detail: str | None = None
    """``finished``: the summary line; ``failed``: the reason."""


class _ProgressBoard:
    """A Ray actor on the driver's node: workers post their runs' events, the driver collects them."""

    def __init__(self) -> None:
        self._events: list[RunEvent] = []

    def post(self, event: RunEvent) -> None:
        self._events.append(event)

    def drain(self) -> list[RunEvent]:
        events, self._events = self._events, []
        return events


def _run_on_worker(spec: RunSpec, out: str, method, board, index: int) -> dict:
    """The body of one Ray task: the run through the harness, always resuming (a retry continues the run)."""
    import ray

    import methods
    from benchmarks import harness

    enable_compilation_cache()
    if spec.method not in methods.list_methods():  # registered at run time on the driver, e.g. by a script
        methods.register(method)
    where = {"node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "pid": os.getpid()}
    board.post.remote(RunEvent(index, "started", **where))
    last_post = [0.0]

    def report(progress: Progress) -> None:
        now = time.monotonic()
        if now - last_post[0] >= PROGRESS_INTERVAL:
            last_post[0] = now
            board.post.remote(RunEvent(index, "progress", **where, samples=progress.samples, pose_error_20s=progress.pose_error_20s))

    return harness.run(spec, out, resume=True, report=report)


def _worker_env(gpus_per_run: float, cpus_per_run: float = 1.0) -> dict[str, str]:
    """Environment of the workers: the driver's checkout first on the path, so every node runs the driver's code
    (from the shared filesystem; a node without that path falls back to its installed package)."""
    import benchmarks

    root = str(Path(benchmarks.__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    env["PYTHONPATH"] = path
    if gpus_per_run == 0:
        env["JAX_PLATFORMS"] = "cpu"  # Ray hides no GPU from a task that asked for none; a CPU run must not take one
        # A task's batch is split over as many host devices as it has cores, not as many as the driver's machine has.
        env["XLA_FLAGS"] = with_host_devices(env.get("XLA_FLAGS", ""), max(1, int(cpus_per_run)))[0]
    elif gpus_per_run < 1:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # runs share a GPU: JAX must not reserve 75% of it for one
    return env


class RayExecutor:
    """Runs every run of the plan as a Ray task.

    ``address``: a running cluster (``HOST:PORT`` of ``ray start --head``); None: the one this process is connected
    to, else Ray's default (``$RAY_ADDRESS``, else a cluster ``ray start`` runs on this machine, else a new local
    instance). ``cpus_per_run`` / ``gpus_per_run``: what each task asks for (``gpus_per_run=None``: one GPU if the
    cluster has any, else none). ``max_retries``: how often Ray reruns a task whose worker or node died, or that
    raised an ``OSError`` (a shared filesystem's hiccup); any other exception fails the run (it would fail again).
    ``on_event``: also called on the driver with every :class:`RunEvent` (for tools and tests).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        cpus_per_run: float = 1.0,
        gpus_per_run: float | None = None,
        max_retries: int = 3,
        on_event: Callable[[RunEvent], None] | None = None,
    ):
        if cpus_per_run <= 0 or (gpus_per_run is not None and gpus_per_run < 0):
            raise ValueError(f"Ray resources per run must be positive (cpus {cpus_per_run}, gpus {gpus_per_run})")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.address = address
        self.cpus_per_run = cpus_per_run
        self.gpus_per_run = gpus_per_run
        self.max_retries = max_retries
        self.on_event = on_event

    def run(self, plan: Sequence[RunSpec], out: str | os.PathLike, *, resume: bool = True,
            deadline: float | None = None) -> SuiteResult:
        if deadline is not None:  # tasks on other nodes cannot share this process's clock
            raise ValueError("a deadline (--stop-after-minutes) works with the local executor only; a Ray suite "
                             "stopped any other way resumes from its runs' checkpoints when submitted again")
        try:
            import ray
        except ImportError:
            raise ValueError('the Ray executor needs Ray: pip install -e ".[ray]"') from None

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address)
        try:
            return self._run(ray, plan, Path(out).resolve(), resume)
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, ray, plan: Sequence[RunSpec], out: Path, resume: bool) -> SuiteResult:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        import methods

        plan = list({spec.key: spec for spec in reversed(plan)}.values())[::-1]  # one task per run directory
        result, todo = SuiteResult(), []
        for spec in plan:
            if resume and store.is_finished(out, spec.key):
                result.summaries[spec.key] = store.load_run(spec.key.dir(out)).summary
                print(f"{run_label(spec)}: already finished: {summary_line(result.summaries[spec.key], spec.tier)}", flush=True)
            else:
                if not resume:
                    store.clear_run(out, spec.key)  # redo it; the task then resumes only after a retry
                todo.append(spec)
        if not todo:
            return result

        gpus = self.gpus_per_run
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        self._warn_if_no_node_fits(ray, gpus)
        board = (
            ray.remote(num_cpus=0)(_ProgressBoard)
            .options(scheduling_strategy=NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True))
            .remote()
        )
        task = ray.remote(_run_on_worker)
        options = dict(
            num_cpus=self.cpus_per_run,
            num_gpus=gpus,
            max_retries=self.max_retries,
            retry_exceptions=[OSError],
            runtime_env={"env_vars": _worker_env(gpus, self.cpus_per_run)},
        )
        resolved = {name: methods.get_method(name) for name in {spec.method for spec in todo}}
        print(
            f"ray: {len(todo)} runs as tasks of {self.cpus_per_run:g} CPU and {gpus:g} GPU each on a cluster of "
            f"{len(ray.nodes())} node(s) ({_resources(ray)}); results in {out}",
            flush=True,
        )
        pending = {
            task.options(**options, name=f"mimicbench {run_label(spec)}").remote(spec, str(out), resolved[spec.method], board, index): index
            for index, spec in enumerate(todo)
        }
        progress = _SuiteProgress(todo, self.on_event)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=POLL_INTERVAL)
                try:
                    events = ray.get(board.drain.remote())
                except ray.exceptions.RayError:  # progress is lost with the board; results are not
                    events = []
                for event in events:
                    progress.update(event)
                for ref in ready:
                    index = pending.pop(ref)
                    try:
                        summary = ray.get(ref)
                    except ray.exceptions.RayError as error:
                        reason = _ray_failure_reason(error, self.max_retries)
                        result.failures.append(RunFailure(todo[index], reason))
                        progress.update(RunEvent(index, "failed", detail=reason))
                    else:
                        result.summaries[todo[index].key] = summary
                        progress.update(RunEvent(index, "finished", detail=summary_line(summary, todo[index].tier)))
        except BaseException:
            for ref in pending:  # an interrupted driver leaves no orphan runs; rerunning the command resumes them
                ray.cancel(ref, force=True)
            raise
        finally:
            progress.close()
            ray.kill(board)
        progress.final_report(result)
        return result

    def _warn_if_no_node_fits(self, ray, gpus: float) -> None:
        nodes = [node["Resources"] for node in ray.nodes() if node["Alive"]]
        if not any(node.get("CPU", 0) >= self.cpus_per_run and node.get("GPU", 0) >= gpus for node in nodes):
            print(
                f"warning: no node of the Ray cluster has the {self.cpus_per_run:g} CPU and {gpus:g} GPU one run asks for "
                f"({_resources(ray)}); the runs wait until such a node joins (see --ray-cpus-per-run / --ray-gpus-per-run)",
                file=sys.stderr,
                flush=True,
            )


def _resources(ray) -> str:
    total = ray.cluster_resources()
    return f"{total.get('CPU', 0):g} CPU, {total.get('GPU', 0):g} GPU"


def _ray_failure_reason(error: BaseException, max_retries: int) -> str:
    import ray

    if isinstance(error, ray.exceptions.RayTaskError):  # the run raised: report its exception, not Ray's wrapper
        cause = error.cause if isinstance(error.cause, BaseException) else error
        return _one_line(cause)
    if isinstance(error, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)):
        return f"{_one_line(error)} (after {max_retries} retries)"
    return _one_line(error)


class _SuiteProgress:
    """The driver's view of the suite: a bar of runs done (on a terminal), and one line per run event."""

    def __init__(self, plan: Sequence[RunSpec], on_event: Callable[[RunEvent], None] | None):
        from tqdm import tqdm

        self.plan, self.on_event = plan, on_event
        self.state = ["waiting"] * len(plan)
        self.node: dict[int, str | None] = {}
        self.bar = tqdm(total=len(plan), desc="suite", unit="run", disable=None, leave=False)

    def counts(self) -> str:
        done, running, failed = (self.state.count(s) for s in ("done", "running", "failed"))
        return f"[{done}/{len(self.plan)} done, {running} running, {failed} failed]"

    def update(self, event: RunEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)
        if self.state[event.run] in ("done", "failed"):
            return  # a progress event that arrived after the result
        label = run_label(self.plan[event.run])
        if event.kind == "started":
            where = f"{event.host} (pid {event.pid})"
            if event.run in self.node:  # a first start is not worth a line: the counts show what runs
                self._say(f"{label}: its worker died; restarted on {where}, resuming from its last checkpoint")
            self.node[event.run] = event.node
            self.state[event.run] = "running"
        elif event.kind == "progress":
            self.state[event.run] = "running"
        elif event.kind == "finished":
            self.state[event.run] = "done"
            self.bar.update(1)
            self._say(f"{label}: {event.detail}")
        elif event.kind == "failed":
            self.state[event.run] = "failed"
            self.bar.update(1)
            self._say(f"{label}: FAILED: {event.detail}")
        self.bar.set_postfix_str(self.counts()[1:-1])

    def _say(self, line: str) -> None:
        self.bar.write(f"{self.counts()} {line}", file=sys.stdout)
        sys.stdout.flush()

    def close(self) -> None:
        self.bar.close()

    def final_report(self, result: SuiteResult) -> None:
        per_node: dict[str, int] = {}
        for node in self.node.values():
            per_node[str(node)[:8]] = per_node.get(str(node)[:8], 0) + 1
        spread = ", ".join(f"{node} ({count})" for node, count in sorted(per_node.items()))
        print(f"ray: {len(self.node)} runs on {len(per_node)} node(s): {spread}", flush=True)
        if result.failures:
            print(f"{len(result.failures)} of {len(self.plan)} runs failed:", flush=True)
            for failure in result.failures:
                print(f"  {run_label(failure.run)}: {failure.reason}", flush=True)


def make_executor(
    name: str, *, ray_address: str | None = None, cpus_per_run: float = 1.0, gpus_per_run: float | None = None
) -> LocalExecutor | RayExecutor:
    """The executor a command line asked for; Ray options without ``ray`` are refused, not ignored."""
    if name == "local":
        if ray_address is not None or cpus_per_run != 1.0 or gpus_per_run is not None:
            raise ValueError("--ray-address, --ray-cpus-per-run and --ray-gpus-per-run need --executor ray")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(ray_address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run)
    raise ValueError(f"unknown executor '{name}': valid executors are local, ray")
