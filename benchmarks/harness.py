"""The harness: runs one (clip, method, seed) under a tier's budget and records its learning curve.

It owns what must be the same for every method: the loop, the clock (compile, train and evaluation time apart),
sample counting (the ``samples`` each update reports: DESIGN.md's ``num_envs x steps``), the shared evaluator,
checkpoints at each evaluation, resume (a checkpoint that cannot be restored is reported, in the run's manifest
and summary as ``checkpoint_problem``, and the run redone), stopping after a wall-clock deadline so that the next
invocation resumes (``deadline``: a long run spread over bounded calls), and divergence handling: an update with a
non-finite loss or gradient is skipped (the state from before it is kept, its samples still count, and the curve
records the fraction of such updates); ``MAX_CONSECUTIVE_NONFINITE`` of them in a row stop the run as diverged.

Compilation is done ahead of time (``jit(...).lower(...).compile()``), so every timed update and evaluation is pure
run time and the compile cost is reported beside it, not hidden in the first iteration.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import serialization

import envs
from benchmarks import recorded_run
from benchmarks import results_store as store
from benchmarks.diagnostics import UpdateLog
from benchmarks.evaluator import EVALUATION_METRICS, evaluation_env, evaluation_horizons, make_evaluate
from benchmarks.rollouts import ROLLOUT_FILE, make_recorder, save_rollout
from benchmarks.suites import ClipSpec
from benchmarks.tiers import Tier
from methods import check_compatible, get_method, parallel

CHECKPOINT_FILE = "checkpoint.msgpack"
# A finished run's last checkpoint, kept: the final policy (and optimiser state), for ``benchmarks.policy_eval``.
FINAL_STATE_FILE = store.FINAL_STATE_FILE
INTERMEDIATE_ROLLOUTS = "rollouts"  # run_dir/rollouts/samples_<k>.npz, with --record-every
# Manifest and summary field saying that an unreadable checkpoint made the harness redo the run from scratch.
CHECKPOINT_PROBLEM = "checkpoint_problem"
# Non-finite updates in a row after which a run is recorded as diverged: one is a bad batch (DiffMimic's gradients
# through long rollouts overflow now and then, DESIGN.md), ten in a row mean the policy itself is broken.
MAX_CONSECUTIVE_NONFINITE = 10
# Read once, when the harness is imported: the code a process runs is the code it imported, even if the checkout
# moves on while a long suite is running.
PROVENANCE = store.collect_provenance()


@dataclasses.dataclass(frozen=True)
class RunSpec:
    suite: str
    clip: ClipSpec
    method: str
    seed: int
    tier: Tier
    backend: str = "spring"
    data_dir: str | None = None
    record_every: int = 0
    """Also save the evaluation episode at every Nth evaluation (0: only the final policy's)."""
    config_overrides: tuple[tuple[str, Any], ...] = ()
    """Method config fields set on the command line, (field, value) pairs; applied after the tier's and the clip's."""
    devices: int | None = None
    """Devices to split the training batch over (None: every local device, capped by the method's ``max_devices``
    config field where it has one); results do not depend on it beyond float rounding."""
    torque_limits: str = envs.MimicConfig.torque_limits
    """``envs.MimicConfig.torque_limits``: `none` (DiffMimic's unclipped PD torques) or `character` (the character's
    own limits: DeepMimic's on humanoid3d)."""
    phase: str = envs.MimicConfig.phase
    """``envs.MimicConfig.phase``: `exact` (from the clip's duration) or `rounded` (a whole number of steps)."""
    env_overrides: tuple[tuple[str, Any], ...] = ()
    """Environment config fields set on the command line (``--env``), (field, value) pairs; applied after the clip's.
    A field the method sets itself (its replay, resets, episode length, action mapping) is refused."""

    @property
    def key(self) -> store.RunKey:
        return store.RunKey(self.suite, self.clip.label, self.method, self.seed)


@dataclasses.dataclass
class Progress:
    """What the harness reports while a run trains (the CLI turns it into a progress bar)."""

    samples: int
    max_samples: int
    train_seconds: float
    pose_error_cycle: float | None
    """Pose error (m) at the latest evaluation over one clip cycle; None before the first of this process."""
    pose_error_20s: float | None
    """...and over the long horizon (NaN where the clip does not loop)."""


def method_config(spec: RunSpec):
    """The method, its config (tier, then clip, then command-line settings) and its environment config; no
    compile, so that the CLI can check a whole plan with it before the first run starts."""
    method = get_method(spec.method)
    fields = {field.name for field in dataclasses.fields(method.config_cls)}
    overrides = spec.tier.method_overrides(spec.method, fields)
    if "replay_threshold" in fields:
        overrides["replay_threshold"] = spec.clip.replay_threshold
    if "rollout_length" in fields and spec.clip.rollout_length is not None:  # the clip's, unless the tier sets one
        overrides.setdefault("rollout_length", spec.clip.rollout_length)
    # DiffMimic's per-clip gradient clip belongs to analytic-gradient methods (PPO's max_grad_norm is its own setting).
    if method.needs_differentiable_env and "max_grad_norm" in fields and spec.clip.max_grad_norm is not None:
        overrides["max_grad_norm"] = spec.clip.max_grad_norm
    overrides.update(spec.config_overrides)
    config = method.config_cls(**overrides)
    base = envs.MimicConfig(
        backend=spec.backend,
        replay_threshold=spec.clip.replay_threshold,
        fall_contact_bodies=spec.clip.fall_contact_bodies,
        random_start_range=spec.clip.random_start_range,
        observation=spec.clip.observation,
        torque_limits=spec.torque_limits,
        phase=spec.phase,
    )
    base = dataclasses.replace(base, **dict(spec.env_overrides))
    env_config = method.env_config(config, base)
    for name, value in spec.env_overrides:
        if getattr(env_config, name) != value:
            raise ValueError(f"--env {name}={value}: {spec.method} sets '{name}' itself "
                             f"(to {getattr(env_config, name)!r}; a method config field may control it: see --set)")
    check_compatible(method, env_config.backend)
    return method, config, env_config


def cycle_eval_frames(spec: RunSpec) -> int | None:
    """Steps of the cycle evaluation horizon: the tier's, else the clip's (DiffMimic's AIST), else None (one cycle)."""
    return spec.tier.eval_frames or spec.clip.eval_frames


def build(spec: RunSpec):
    """Method, its config, and the training environment for ``spec``; refuses invalid pairs before compiling."""
    method, config, env_config = method_config(spec)
    env = envs.make_env(spec.clip.clip, env_config, data_dir=spec.data_dir)
    return method, config, env


# Checkpoint payload format 2: the state's leaves by their pytree path, so that any pytree is saved (mjx's
# ``Data`` in PPO's carried env states is not a flax struct, and flax's state dict cannot serialise it). Files
# without the field are format 1, flax's state dict, still read.
CHECKPOINT_FORMAT = 2


def _write_checkpoint(run_dir: Path, state: Any, counters: dict) -> None:
    leaves = {jax.tree_util.keystr(path): leaf for path, leaf in jax.tree_util.tree_leaves_with_path(state)}
    payload = serialization.msgpack_serialize({"format": CHECKPOINT_FORMAT, "state": leaves, "counters": counters})
    store.write_bytes_atomic(run_dir / CHECKPOINT_FILE, payload)


def _state_from_leaves(template: Any, leaves: dict) -> Any:
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    keys = [jax.tree_util.keystr(path) for path, _ in paths]
    missing = [key for key in keys if key not in leaves]
    if missing or len(leaves) != len(keys):
        raise ValueError(f"the saved state has {len(leaves)} arrays, this run's {len(keys)}"
                         + (f"; {missing[0]} is not saved" if missing else ""))
    return jax.tree_util.tree_unflatten(treedef, [leaves[key] for key in keys])


class CheckpointError(ValueError):
    """A checkpoint that exists but cannot be restored; the message names the file and the problem."""


COUNTER_NAMES = ("samples", "iteration", "train_seconds", "compile_seconds", "eval_seconds")


def _read_checkpoint(run_dir: Path, template: Any) -> tuple[Any, dict] | None:
    """The state and counters saved at the last evaluation; None without a checkpoint.

    Raises CheckpointError when the file does not parse or does not fit ``template`` (another method or config
    wrote it, or it was truncated): restoring it anyway would train a different state than the curve describes.
    """
    path = run_dir / CHECKPOINT_FILE
    return read_saved_state(path, template) if path.exists() else None


def read_saved_state(path: Path, template: Any) -> tuple[Any, dict]:
    """The state and counters in a checkpoint or a finished run's ``FINAL_STATE_FILE``, restored into the structure,
    shapes and dtypes of ``template`` (a state from ``method.init``); CheckpointError naming the file otherwise."""
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
        if payload.get("format") == CHECKPOINT_FORMAT:
            state = _state_from_leaves(template, payload["state"])
        else:
            state = serialization.from_state_dict(template, payload["state"])
        counters = {name: payload["counters"][name] for name in COUNTER_NAMES}
    except Exception as error:  # noqa: BLE001 (msgpack, flax and a bad payload raise many kinds)
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(error).__name__}: {error})") from error
    for (where, saved), expected in zip(jax.tree_util.tree_leaves_with_path(state), jax.tree.leaves(template)):
        if jnp.shape(saved) != jnp.shape(expected) or jnp.result_type(saved) != jnp.result_type(expected):
            raise CheckpointError(
                f"{path}: checkpoint does not fit this run's state at {jax.tree_util.keystr(where)} "
                f"(saved {jnp.result_type(saved)}{list(jnp.shape(saved))}, "
                f"expected {jnp.result_type(expected)}{list(jnp.shape(expected))})"
            )
    return state, counters


def run_devices(spec: RunSpec, config) -> int:
    """Devices the run's batch is split over: ``spec.devices``, else every local device up to the config's
    ``max_devices`` (0: no cap); never more than divide ``num_envs`` evenly."""
    requested = spec.devices
    if requested is None:
        cap = getattr(config, "max_devices", 0)
        requested = min(jax.local_device_count(), cap) if cap > 0 else None
    batch = getattr(config, "num_envs", None)
    return parallel.usable_devices(requested, (batch,) if batch else ())


def compile_update(method, env, config, state, rng, shardings=None):
    """The method's update for ``env`` and ``config``, compiled ahead of time for ``state``; with ``shardings`` (from
    :func:`methods.parallel.place`) the new state keeps the layout of the old, so every call runs this program."""
    layout = {} if shardings is None else dict(in_shardings=(shardings, parallel.replicated()),
                                               out_shardings=(shardings, parallel.replicated()))
    return jax.jit(lambda s, k: method.update(s, k, env=env, config=config), **layout).lower(state, rng).compile()


def _manifest(spec: RunSpec, method, config, env, eval_env, horizons, devices: int) -> dict:
    return {
        "config": {
            "method": dataclasses.asdict(config),
            "env": dataclasses.asdict(env.config),
            "evaluation": {**dataclasses.asdict(horizons), "env": dataclasses.asdict(eval_env.config),
                           "policy": "deterministic", "episodes": 1},
            "tier": dataclasses.asdict(spec.tier),
            "clip_file": str(spec.clip.clip),
            "command_line": dict(spec.config_overrides),  # config fields set with --set / --num-envs
        },
        "tier": spec.tier.name,
        # Seconds per control step (the clip's frame time): turns evaluation steps into the seconds of the curve's
        # first_fall_seconds. Outside "config", so that records from before it resume unchanged.
        "control_dt": float(env.reference.dt),
        # Env fields set with --env (their values are in config.env, which the resume check compares); outside
        # "config", so that records from before it resume unchanged.
        "env_command_line": dict(spec.env_overrides),
        "backend": spec.backend,
        "device": str(jax.devices()[0]),
        "device_count": devices,  # the devices the batch was split over
        "local_device_count": jax.local_device_count(),
        **PROVENANCE,
    }


def _changed_settings(saved: dict, current: dict) -> list[str]:
    """The config sections (method, env, evaluation, tier, clip file, command line) that differ, compared as the
    JSON the manifest stores (tuples and lists alike)."""
    return recorded_run.changed_keys(recorded_run.with_options_filled(saved), current)


class RunPaused(Exception):
    """The run reached its wall-clock deadline before its budget: its state is checkpointed, and running it again
    (with resume) continues it."""

    def __init__(self, run_dir: Path, samples: int):
        super().__init__(f"{run_dir}: stopped at the deadline after {samples:,} samples; run again to continue")
        self.run_dir, self.samples = run_dir, samples


def run(spec: RunSpec, out: str | os.PathLike, *, resume: bool = True, report: Callable[[Progress], None] | None = None,
        deadline: float | None = None) -> dict:
    """Trains and evaluates one run into ``out``; returns its summary. A finished run is left untouched.

    ``deadline`` (a ``time.monotonic()`` value): after the first update that ends past it, the run is checkpointed and
    :class:`RunPaused` raised; calling ``run`` again resumes it. Compilation and evaluations are not interrupted.
    """
    key = spec.key
    if resume and store.is_finished(out, key):
        _keep_final_state(key.dir(out))  # in case the process ended between sealing the run and keeping its state
        return store.load_run(key.dir(out)).summary

    method, config, env = build(spec)
    devices = run_devices(spec, config)
    with parallel.data_parallel(devices):
        return _train(spec, out, resume, report, method, config, env, devices, deadline)


def _train(spec: RunSpec, out, resume: bool, report, method, config, env, devices: int, deadline: float | None) -> dict:
    key = spec.key
    horizons = evaluation_horizons(env.reference, cycle_eval_frames(spec), spec.tier.long_eval_frames)
    eval_env = evaluation_env(spec.clip.clip, env, horizons, data_dir=spec.data_dir)
    rng = jax.random.PRNGKey(spec.seed)
    rng, init_key = jax.random.split(rng)
    # Batched parts of the state (marked by the method with parallel.shard_batch) split over the devices, the rest
    # replicated; the update keeps that layout, so every call runs the one compiled program.
    state, shardings = parallel.place(method.init(init_key, env, config))

    counters = {"samples": 0, "iteration": 0, "train_seconds": 0.0, "compile_seconds": 0.0, "eval_seconds": 0.0}
    checkpoint, problem = None, None
    manifest = _manifest(spec, method, config, env, eval_env, horizons, devices)
    if resume and key.dir(out).exists():
        try:
            checkpoint = _read_checkpoint(key.dir(out), state)
            if checkpoint is not None:
                writer = store.RunWriter.resume(out, key, up_to_samples=int(checkpoint[1]["samples"]))
                changed = _changed_settings(writer.manifest["config"], manifest["config"])
                if changed:  # a curve half under one setting and half under another would be recorded as one
                    raise CheckpointError(f"{key.dir(out)}: settings changed since the run started ({', '.join(changed)})")
        except (CheckpointError, store.CorruptRunError) as error:
            # Redo the run, but say so: a silent restart would look like a resume that worked.
            checkpoint, problem = None, f"restarted from scratch: {error}"
            print(f"warning: {problem}", file=sys.stderr)
    if checkpoint is not None:
        state, counters = checkpoint
        state = state if shardings is None else jax.device_put(state, shardings)
    else:
        store.clear_run(out, key)
        if problem:
            manifest[CHECKPOINT_PROBLEM] = problem
        writer = store.RunWriter(out, key, manifest)
    rng = jax.random.fold_in(rng, int(counters["iteration"]))

    start = time.perf_counter()
    update = compile_update(method, env, config, state, rng, shardings)
    evaluate = jax.jit(make_evaluate(eval_env, method.policy, horizons)).lower(state, rng).compile()
    counters["compile_seconds"] += time.perf_counter() - start
    # The viewer's episode: compiled at its first recording, outside every clock (seconds on CPU).
    record = make_recorder(eval_env, method.policy, horizons.episode_frames)

    def evaluate_and_record(updates: UpdateLog | None) -> tuple[float, float]:
        start = time.perf_counter()
        result = jax.device_get(evaluate(state, jax.random.PRNGKey(0)))
        counters["eval_seconds"] += time.perf_counter() - start
        row = {
            **{name: counters[name] for name in ("samples", "iteration", "train_seconds", "compile_seconds", "eval_seconds")},
            **{name: float(result[name]) for name in EVALUATION_METRICS},
        }
        if updates is not None:
            row.update(updates.row())
        writer.append(row)
        _write_checkpoint(key.dir(out), state, counters)
        if spec.record_every and writer.n_evals % spec.record_every == 0:
            rollout = record(state, jax.random.PRNGKey(0))
            save_rollout(key.dir(out) / INTERMEDIATE_ROLLOUTS / f"samples_{counters['samples']}.npz", rollout)
        return row["pose_error_cycle"], row["pose_error_20s"]

    if counters["samples"] == 0 and checkpoint is None:
        pose = evaluate_and_record(None)
    else:
        pose = (None, None)
    tier = spec.tier
    next_eval = (counters["samples"] // tier.eval_every_samples + 1) * tier.eval_every_samples
    status, reason = "complete", None
    updates, nonfinite_in_a_row = UpdateLog(), 0
    while counters["samples"] < tier.max_samples and (
        tier.max_train_seconds is None or counters["train_seconds"] < tier.max_train_seconds
    ):
        rng, step_key = jax.random.split(rng)
        start = time.perf_counter()
        new_state, metrics = update(state, step_key)
        metrics = jax.device_get(metrics)
        counters["train_seconds"] += time.perf_counter() - start
        counters["samples"] += int(metrics["samples"])
        counters["iteration"] += 1
        if updates.add(metrics):
            state, nonfinite_in_a_row = new_state, 0
        else:
            nonfinite_in_a_row += 1
        if nonfinite_in_a_row >= MAX_CONSECUTIVE_NONFINITE:
            status = "diverged"
            reason = (f"non-finite loss or gradient at iteration {counters['iteration']} "
                      f"({nonfinite_in_a_row} updates in a row)")
            evaluate_and_record(updates)
            break
        done = counters["samples"] >= tier.max_samples or (
            tier.max_train_seconds is not None and counters["train_seconds"] >= tier.max_train_seconds
        )
        if counters["samples"] >= next_eval or done:
            pose = evaluate_and_record(updates)
            updates = UpdateLog()
            next_eval = (counters["samples"] // tier.eval_every_samples + 1) * tier.eval_every_samples
        if report:
            report(Progress(counters["samples"], tier.max_samples, counters["train_seconds"], *pose))
        if deadline is not None and not done and time.monotonic() >= deadline:
            # The updates since the last evaluation are kept (the curve's rows after the checkpoint's samples are
            # dropped on resume, so the checkpoint is written with the counters it belongs to).
            _write_checkpoint(key.dir(out), state, counters)
            raise RunPaused(key.dir(out), counters["samples"])
    # The final policy's evaluation episode, body by body, for the viewer and the report's animations. It is an
    # extra, so a failure here is reported but does not keep the run's results from being sealed.
    try:
        save_rollout(key.dir(out) / ROLLOUT_FILE, record(state, jax.random.PRNGKey(0)))
    except Exception as err:  # noqa: BLE001
        print(f"warning: {key.dir(out)}: could not record the evaluation rollout ({err})", file=sys.stderr)
    recorded = {CHECKPOINT_PROBLEM: writer.manifest[CHECKPOINT_PROBLEM]} if CHECKPOINT_PROBLEM in writer.manifest else {}
    summary = writer.finish(status, reason=reason, iterations=counters["iteration"], **recorded)
    _keep_final_state(key.dir(out))
    return summary


def _keep_final_state(run_dir: Path) -> None:
    """A finished run's last checkpoint holds its final state (written at the final evaluation): kept under another
    name, so that a finished run is never mistaken for one to resume."""
    if (run_dir / CHECKPOINT_FILE).exists():
        (run_dir / CHECKPOINT_FILE).replace(run_dir / FINAL_STATE_FILE)
