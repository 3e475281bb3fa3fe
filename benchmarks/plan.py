"""The plan of a benchmark command: every (clip, method, seed) run, checked as a whole before the first compile.

A suite can run for hours, so everything that can be wrong with a command is found here, in seconds: unknown
names, settings that do not fit a method's config (field names and types), every clip file read and parsed
against its character (a malformed file late in a list fails now, with one line naming the file and the problem),
each method config and environment config built and validated. Checks that only a method's ``init`` makes (e.g.
PPO's minibatch must divide its batch) still run when that run starts, before its compile: tracing ``init`` here
needs an environment with its reference motion, which cost more than a minute on the loaded 2-core machine.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import envs
from benchmarks import recorded_run
from benchmarks import results_store as store
from benchmarks.harness import CHECKPOINT_FILE, RunSpec, method_config
from benchmarks.overrides import ConfigOverride, check_targets, config_overrides, env_overrides, override_tier
from benchmarks.suites import resolve_suite
from benchmarks.tiers import Tier, get_tier
from envs.reference import check_clip
from methods import check_compatible, get_method


@dataclasses.dataclass(frozen=True)
class PlanRequest:
    """What the command line asked for, in the domain's terms (parsed, not yet checked)."""

    suite: str
    methods: Sequence[str]
    seeds: Sequence[int]
    tier: str
    backend: str = "spring"
    clips: Sequence[str] | None = None
    data_dir: str | None = None
    record_every: int = 0
    budgets: dict = dataclasses.field(default_factory=dict)
    """Tier budget overrides: max_samples, max_train_minutes, eval_every_samples, eval_frames (None: the tier's)."""
    num_envs: int | None = None
    settings: Sequence[ConfigOverride] = ()
    devices: int | None = None
    torque_limits: str = envs.MimicConfig.torque_limits
    phase: str = envs.MimicConfig.phase
    env_settings: Sequence[str] = ()
    """``--env FIELD=VALUE`` items: environment config fields (not yet checked)."""


def default_tier(suite: str) -> str:
    """The embedded clip's suite gets the main job (``demo``); the others the CPU tier (``quick``)."""
    return "demo" if suite == "smoke" else "quick"


def make_plan(request: PlanRequest) -> list[RunSpec]:
    """Every run of the request, validated; raises the first problem found (one line naming it)."""
    if request.backend not in envs.BACKENDS:
        raise ValueError(f"unknown backend '{request.backend}': valid backends are {', '.join(envs.BACKENDS)}")
    if request.torque_limits not in envs.TORQUE_LIMITS:
        raise ValueError(f"unknown --torque-limits '{request.torque_limits}': expected one of "
                         f"{', '.join(envs.TORQUE_LIMITS)}")
    if request.phase not in envs.PHASE_MODES:
        raise ValueError(f"unknown --phase '{request.phase}': expected one of {', '.join(envs.PHASE_MODES)}")
    tier: Tier = override_tier(get_tier(request.tier), **request.budgets)
    clips = resolve_suite(request.suite, list(request.clips) if request.clips else None)
    methods = list(dict.fromkeys(request.methods))
    if not methods:
        raise ValueError("--methods is empty")
    if not request.seeds:
        raise ValueError("no seeds to run")
    if request.record_every < 0:
        raise ValueError(f"--record-every must be >= 0, got {request.record_every}")
    if request.devices is not None and request.devices < 1:
        raise ValueError(f"--devices must be at least 1, got {request.devices}")
    if request.num_envs is not None and request.num_envs < 1:
        raise ValueError(f"--num-envs must be at least 1, got {request.num_envs}")
    check_targets(request.settings, methods)
    env_values = tuple(env_overrides(request.env_settings, envs.MimicConfig).items())

    fall_bodies = dict(env_values).get("fall_contact_bodies")  # --env names: checked against each clip's character
    for spec in clips:  # read and parse every clip against its character now: a bad file fails before any compile
        check_clip(spec.clip, data_dir=request.data_dir, fall_contact_bodies=fall_bodies)

    settings = {}  # method -> its command-line config fields
    for method_name in methods:
        method = get_method(method_name)
        check_compatible(method, request.backend)
        fields = {field.name for field in dataclasses.fields(method.config_cls)}
        if request.num_envs is not None and "num_envs" not in fields:
            raise ValueError(f"--num-envs: {method_name}'s config ({method.config_cls.__name__}) has no field num_envs")
        values = {"num_envs": request.num_envs} if request.num_envs is not None else {}
        values.update(config_overrides(method_name, method.config_cls, request.settings))
        settings[method_name] = tuple(sorted(values.items()))
        for clip in clips:  # the clip sets env fields (replay threshold, start range): an --env clash shows per clip
            _check_method(RunSpec(request.suite, clip, method_name, 0, tier, request.backend, request.data_dir,
                                  config_overrides=settings[method_name], torque_limits=request.torque_limits,
                                  phase=request.phase, env_overrides=env_values))
    return [
        RunSpec(request.suite, clip, method_name, seed, tier, request.backend, request.data_dir, request.record_every,
                settings[method_name], request.devices, request.torque_limits, request.phase, env_values)
        for clip in clips
        for method_name in methods
        for seed in request.seeds
    ]


class PausedRunChangedError(ValueError):
    """A paused run (a checkpoint on disk) that this command would continue under other settings."""


def check_recorded_runs(plan: Sequence[RunSpec], out) -> list[tuple[Path, list[str]]]:
    """Compares each run of ``plan`` already recorded under ``out`` with the settings ``plan`` gives it (one read of
    each record). A paused run (a checkpoint, no summary) must continue under the settings it started with, else the
    harness would redo it from scratch (a curve half under one setting and half under another would be recorded as
    one), losing its progress to a forgotten flag: PausedRunChangedError. A finished run is kept as it is, so
    returns (run folder, differences) of the finished runs recorded under other settings, for a warning: a forgotten
    flag would otherwise mix settings across a suite. Unreadable records are left to the harness, which redoes them."""
    finished_elsewhere = []
    for spec in plan:
        run_dir = spec.key.dir(out)
        finished = store.is_finished(out, spec.key)
        if not finished and not (run_dir / CHECKPOINT_FILE).exists():
            continue
        try:
            changed = recorded_differences(spec, store.read_json_object(run_dir / store.MANIFEST_FILE)["config"])
        except (store.CorruptRunError, KeyError, TypeError):
            continue
        if changed and not finished:
            raise PausedRunChangedError(
                f"{run_dir}: a paused run started under other settings ({'; '.join(changed)}); continue it with the "
                f"settings in its manifest.json, or delete {run_dir} to redo it")
        if changed:
            finished_elsewhere.append((run_dir, changed))
    return finished_elsewhere


def recorded_differences(spec: RunSpec, recorded: dict) -> list[str]:
    """How ``spec`` differs from a run's recorded config (its manifest's ``config``) in the sections that need no
    reference motion: method, env (options added since as the run had them), tier, clip file, command line. (The
    evaluation section is compared by the harness when the run starts.)"""
    filled = recorded_run.with_options_filled(recorded)
    saved = {"method": filled["method"], "env": filled["env"], "tier": filled["tier"],  # KeyError: unreadable
             "clip_file": filled.get("clip_file"), "command_line": filled.get("command_line")}
    _, config, env_config = method_config(spec)
    current = {"method": dataclasses.asdict(config), "env": dataclasses.asdict(env_config),
               "tier": dataclasses.asdict(spec.tier), "clip_file": str(spec.clip.clip),
               "command_line": dict(spec.config_overrides)}
    return recorded_run.differences(saved, current)


def _check_method(spec: RunSpec) -> None:
    """The method's config (built from the tier, the clip and the command line: unknown fields and bad values fail
    here) and its environment config."""
    _, _, env_config = method_config(spec)
    env_config.validate()
