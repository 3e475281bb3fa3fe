"""A recorded run's configuration, rebuilt from its ``manifest.json``, for the tools that look at a run afterwards
(``benchmarks.policy_eval``, ``benchmarks.fall_contacts``).

The manifest stores each config as JSON (tuples as lists, nested dataclasses as objects); options added after a
run was recorded take the value the run actually had (``results_store.recorded_*``), never today's default.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import envs
from benchmarks import results_store as store
from envs.losses import LossWeights
from envs.rewards import RewardWeights


def as_json(value: Any) -> Any:
    """``value`` as the manifest stores it (tuples and lists alike)."""
    return json.loads(json.dumps(value))


def changed_keys(saved: dict, current: dict) -> list[str]:
    """The top-level keys whose values differ between two configs, compared as the manifest stores them."""
    saved, current = as_json(saved), as_json(current)
    return sorted(name for name in set(saved) | set(current) if saved.get(name) != current.get(name))


def with_options_filled(config: dict) -> dict:
    """A copy of a manifest's ``config`` whose env sections (the training env's and the evaluation's) have the
    options added since the run was recorded set to the values it had (``results_store.with_recorded_options``)."""
    config = as_json(config)
    for section in (config, config.get("evaluation")):
        if isinstance(section, dict) and isinstance(section.get("env"), dict):
            section["env"] = store.with_recorded_options(section["env"])
    return config


def differences(saved: dict, current: dict) -> list[str]:
    """``section.field recorded -> now`` for each field of each section (a dict of configs) that differs, compared as
    the manifest stores them; a field only one side has shows as ``(none)`` on the other."""
    saved, current = as_json(saved), as_json(current)
    lines = []
    for section in sorted(set(saved) | set(current)):
        before, after = saved.get(section), current.get(section)
        if not isinstance(before, dict) or not isinstance(after, dict):  # a plain value (the clip file)
            if before != after:
                lines.append(f"{section} {'(none)' if before is None else before} -> {'(none)' if after is None else after}")
            continue
        for name in sorted(set(before) | set(after)):
            if before.get(name, "(none)") != after.get(name, "(none)"):
                lines.append(f"{section}.{name} {before.get(name, '(none)')} -> {after.get(name, '(none)')}")
    return lines


def _as_tuples(value: Any) -> Any:
    """JSON lists back to the tuples the config dataclasses hold."""
    return tuple(_as_tuples(item) for item in value) if isinstance(value, list) else value


def manifest_section(manifest: dict, *path: str, where: Path) -> Any:
    """``manifest[path[0]][path[1]]...``; CorruptRunError naming ``where`` and the missing key."""
    value = manifest
    for depth, key in enumerate(path):
        if not isinstance(value, dict) or key not in value:
            raise store.CorruptRunError(f"{where}: no {'.'.join(path[:depth + 1])}")
        value = value[key]
    return value


def env_config(recorded: dict, where: Path) -> envs.MimicConfig:
    """The ``envs.MimicConfig`` a manifest's env section records; CorruptRunError for settings this code lacks."""
    unknown = sorted(set(recorded) - {field.name for field in dataclasses.fields(envs.MimicConfig)})
    if unknown:
        raise store.CorruptRunError(f"{where}: env settings this code does not have: {', '.join(unknown)}")
    values = {name: _as_tuples(value) for name, value in store.with_recorded_options(recorded).items()}
    values["loss_weights"] = LossWeights(**recorded.get("loss_weights", {}))
    values["reward_weights"] = RewardWeights(**recorded.get("reward_weights", {}))
    return envs.MimicConfig(**values)


# Method settings added after runs were recorded, with the value those runs had: PPOConfig.network_init (b2ae392;
# every PPO run before it was built with flax's initialisers).
METHOD_FIELDS_BEFORE_OPTION = {"network_init": "flax"}


def method_config(method, recorded: dict, where: Path):
    """The method's config dataclass as the manifest records it; CorruptRunError if this code's config has other
    fields (a field added since would silently take today's default), except the settings of
    METHOD_FIELDS_BEFORE_OPTION, which take the value the run had."""
    fields = {field.name for field in dataclasses.fields(method.config_cls)}
    added = {name: value for name, value in METHOD_FIELDS_BEFORE_OPTION.items() if name in fields - set(recorded)}
    recorded = {**recorded, **added}
    if set(recorded) != fields:
        raise store.CorruptRunError(
            f"{where}: {method.name}'s config has changed since the run (recorded only: "
            f"{sorted(set(recorded) - fields) or 'none'}; new: {sorted(fields - set(recorded)) or 'none'})")
    return method.config_cls(**{name: _as_tuples(value) for name, value in recorded.items()})


def evaluated_with_clipped_mean(method, recorded: dict) -> bool:
    """Whether the harness evaluated the run with its mean action clipped to [-1, 1]: runs of a method whose config
    has ``network_init`` (PPO's) recorded before b2ae392, the commit that both added the field and stopped the clip."""
    fields = {field.name for field in dataclasses.fields(method.config_cls)}
    return "network_init" in fields and "network_init" not in recorded


def clip_file(manifest: dict, where: Path) -> str:
    """What the run's env was built from (a shipped clip's name or a motion file), as the harness passed it."""
    config = manifest_section(manifest, "config", where=where)
    return config.get("clip_file") or manifest_section(manifest, "clip", where=where)
