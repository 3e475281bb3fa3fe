"""Command-line settings that change a run: the seeds, a method's config fields (``--set``), the environment's
(``--env``), a tier's budgets.

Everything here checks its input against the thing it changes (a config dataclass's fields and their types, a
tier's fields) and raises :class:`OverrideError` with one line naming the setting and the problem, so that a
typo fails before anything compiles. No JAX: the CLI validates the whole plan with these before the first compile.
"""

from __future__ import annotations

import ast
import dataclasses
import types
import typing
from typing import Any, Iterable, Literal

from benchmarks.tiers import Tier


class OverrideError(ValueError):
    """A command-line setting that cannot be applied; the message names the setting and the problem."""


# ---------------------------------------------------------------------------------------------------- seeds


def parse_seeds(seeds: str | None, num_seeds: int | None) -> list[int]:
    """``--seeds 0,1,2`` (the seeds themselves) or ``--num-seeds 3`` (seeds 0, 1, 2); neither: seed 0."""
    if seeds is not None and num_seeds is not None:
        raise OverrideError("give either --seeds (a list of seeds) or --num-seeds (a count), not both")
    if num_seeds is not None:
        if num_seeds < 1:
            raise OverrideError(f"--num-seeds must be at least 1, got {num_seeds}")
        return list(range(num_seeds))
    if seeds is None:
        return [0]
    items = [item.strip() for item in seeds.split(",")]
    if not any(items):
        raise OverrideError("--seeds is empty: give seeds such as 0 or 0,1,2 (or --num-seeds N)")
    parsed = []
    for item in items:
        if not item.lstrip("-").isdigit():
            raise OverrideError(f"--seeds: '{item}' is not a seed (seeds are integers >= 0, e.g. 0,1,2)")
        if int(item) < 0:
            raise OverrideError(f"--seeds: {item} is negative (seeds are integers >= 0; for N seeds use --num-seeds N)")
        parsed.append(int(item))
    if len(set(parsed)) != len(parsed):
        raise OverrideError(f"--seeds lists a seed twice: {seeds}")
    return parsed


# ---------------------------------------------------------------------------------------- method configs


@dataclasses.dataclass(frozen=True)
class ConfigOverride:
    """``--set TARGET.FIELD=VALUE``: TARGET is a method name or a method family (``diffmimic`` covers its
    ablations ``diffmimic_noreplay``, ``diffmimic_random``), as in the tiers' per-family settings."""

    target: str
    field: str
    text: str

    @property
    def label(self) -> str:
        return f"--set {self.target}.{self.field}={self.text}"

    def applies_to(self, method: str) -> bool:
        return method == self.target or method.split("_")[0] == self.target


def parse_set(items: Iterable[str]) -> list[ConfigOverride]:
    parsed = []
    for item in items:
        name, equals, text = item.partition("=")
        target, dot, field = name.strip().partition(".")
        if not equals or not dot or not target or not field:
            raise OverrideError(f"--set {item}: expected METHOD.FIELD=VALUE, e.g. diffmimic.learning_rate=1e-4")
        parsed.append(ConfigOverride(target, field.strip(), text.strip()))
    return parsed


def _convert(text: str, annotation: Any, label: str) -> Any:
    """``text`` as a value of the dataclass field type ``annotation`` (int, float, bool, str, Literal, tuple,
    optional), or an OverrideError saying what was expected."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and text.lower() in ("none", "null"):
            return None
        problems = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(text, option, label)
            except OverrideError as error:
                problems.append(str(error).removeprefix(f"{label}: "))
        raise OverrideError(f"{label}: {'; '.join(problems)}")
    if origin is Literal:
        if text not in [str(choice) for choice in args]:
            raise OverrideError(f"{label}: expected one of {', '.join(map(str, args))}")
        return next(choice for choice in args if str(choice) == text)
    if annotation is bool:
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise OverrideError(f"{label}: expected true or false")
    if annotation is int:
        try:
            return int(text)
        except ValueError:
            raise OverrideError(f"{label}: expected an integer") from None
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            raise OverrideError(f"{label}: expected a number") from None
    if annotation is str:
        return text
    if origin is tuple and args and args[0] is str:  # names, e.g. bodies: pelvis,torso (no quotes needed)
        return tuple(item.strip().strip("'\"") for item in text.strip().strip("()").split(",") if item.strip())
    if origin is tuple:
        try:
            value = ast.literal_eval(text if text.strip().startswith("(") else f"({text},)")
        except (ValueError, SyntaxError):
            raise OverrideError(f"{label}: expected a comma-separated tuple, e.g. 256,256") from None
        element = args[0] if args else Any
        if element is Any:
            return tuple(value)
        return tuple(_convert(str(item), element, label) for item in value)
    raise OverrideError(f"{label}: fields of type {annotation} cannot be set from the command line")


def config_overrides(method: str, config_cls: type, overrides: Iterable[ConfigOverride]) -> dict[str, Any]:
    """The ``--set`` values that apply to ``method``, checked against ``config_cls``'s fields and converted to
    their types."""
    hints = typing.get_type_hints(config_cls)
    fields = {field.name for field in dataclasses.fields(config_cls)}
    values = {}
    for override in overrides:
        if not override.applies_to(method):
            continue
        if override.field not in fields:
            raise OverrideError(
                f"{override.label}: {method}'s config ({config_cls.__name__}) has no field '{override.field}'; "
                f"fields: {', '.join(sorted(fields))}"
            )
        values[override.field] = _convert(override.text, hints[override.field], override.label)
    return values


def check_targets(overrides: Iterable[ConfigOverride], methods: Iterable[str]) -> None:
    """Every ``--set`` must name a method (or family) of the plan: a misspelt target would silently do nothing."""
    methods = list(methods)
    for override in overrides:
        if not any(override.applies_to(method) for method in methods):
            raise OverrideError(f"{override.label}: '{override.target}' is not one of the methods run ({', '.join(methods)})")


# ------------------------------------------------------------------------------------- environment config

# Env fields with a flag of their own, or that each method derives from its config (what to use, for the error).
ENV_FIELDS_WITH_FLAGS = {"backend": "--backend", "torque_limits": "--torque-limits", "phase": "--phase",
                         "episode_length": "--set METHOD.rollout_length (diffmimic) or --set METHOD.episode_length (ppo)"}


def env_overrides(items: Iterable[str], config_cls: type) -> dict[str, Any]:
    """``--env FIELD=VALUE`` items (the environment config's fields, e.g. ``observation=timestamp``), checked against
    ``config_cls``'s fields and converted to their types; the last of a field repeated wins."""
    hints = typing.get_type_hints(config_cls)
    fields = {field.name for field in dataclasses.fields(config_cls)}
    values = {}
    for item in items:
        name, equals, text = item.partition("=")
        name, label = name.strip(), f"--env {item}"
        if not equals or not name:
            raise OverrideError(f"{label}: expected FIELD=VALUE, e.g. observation=timestamp")
        if name in ENV_FIELDS_WITH_FLAGS:
            raise OverrideError(f"{label}: use {ENV_FIELDS_WITH_FLAGS[name]} for '{name}'")
        if name not in fields:
            settable = {field for field in fields - set(ENV_FIELDS_WITH_FLAGS) if not dataclasses.is_dataclass(hints[field])}
            raise OverrideError(f"{label}: the environment config ({config_cls.__name__}) has no field '{name}'; "
                                f"fields: {', '.join(sorted(settable))}")
        values[name] = _convert(text.strip(), hints[name], label)
    return values


# ---------------------------------------------------------------------------------------------- budgets


def override_tier(
    tier: Tier,
    *,
    max_samples: int | None = None,
    max_train_minutes: float | None = None,
    eval_every_samples: int | None = None,
    eval_frames: int | None = None,
) -> Tier:
    """``tier`` with the budgets given on the command line; None keeps the tier's value."""
    changes: dict[str, Any] = {}
    if max_samples is not None:
        if max_samples < 1:
            raise OverrideError(f"--max-samples must be at least 1, got {max_samples}")
        changes["max_samples"] = max_samples
    if max_train_minutes is not None:
        if max_train_minutes <= 0:
            raise OverrideError(f"--max-train-minutes must be positive, got {max_train_minutes}")
        changes["max_train_seconds"] = 60.0 * max_train_minutes
    if eval_every_samples is not None:
        if eval_every_samples < 1:
            raise OverrideError(f"--eval-every-samples must be at least 1, got {eval_every_samples}")
        changes["eval_every_samples"] = eval_every_samples
    if eval_frames is not None:
        if eval_frames < 1:
            raise OverrideError(f"--eval-frames must be at least 1, got {eval_frames}")
        changes["eval_frames"] = eval_frames
    return dataclasses.replace(tier, **changes) if changes else tier
