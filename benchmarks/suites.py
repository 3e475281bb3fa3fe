"""Benchmark suites: which clips, and the per-clip settings DiffMimic used for them.

A suite is a list of :class:`ClipSpec`. Besides the named suites, any DeepMimic-format motion file can be run as
a one-clip suite (``--clips my_clip.txt``), with the locomotion replay threshold unless told otherwise.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from envs.data import MOTION_NAMES

# DiffMimic's Demonstration Replay thresholds: 0.4 m for acrobatic clips, 0.2 m for locomotion-like ones.
ACROBATICS = ("backflip", "sideflip", "cartwheel", "spinkick", "roll", "jump")
ACROBATIC_THRESHOLD = 0.4
LOCOMOTION_THRESHOLD = 0.2


class UnknownSuiteError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    clip: str
    """A shipped clip name, `synthetic`, or a motion file path."""
    replay_threshold: float
    """Metres of mean body-position error that trigger Demonstration Replay for this clip."""

    @property
    def label(self) -> str:
        """Name used in results paths and tables: the clip name, or a file's stem."""
        path = Path(self.clip)
        return path.stem.removeprefix("humanoid3d_") if path.suffix else self.clip


def _deepmimic_spec(name: str) -> ClipSpec:
    return ClipSpec(name, ACROBATIC_THRESHOLD if name in ACROBATICS else LOCOMOTION_THRESHOLD)


SUITES: dict[str, tuple[ClipSpec, ...]] = {
    "smoke": (ClipSpec("synthetic", LOCOMOTION_THRESHOLD),),
    "deepmimic": tuple(_deepmimic_spec(name) for name in MOTION_NAMES),
}


def list_suites() -> list[str]:
    return sorted(SUITES)


def resolve_suite(suite: str, clips: list[str] | None = None) -> tuple[ClipSpec, ...]:
    """The suite's clips, optionally narrowed to (or, for files, extended by) ``clips``."""
    if suite not in SUITES:
        raise UnknownSuiteError(f"unknown suite '{suite}': valid suites are {', '.join(list_suites())}")
    specs = SUITES[suite]
    if not clips:
        return specs
    by_name = {spec.label: spec for spec in specs}
    chosen = []
    for clip in clips:
        if clip in by_name:
            chosen.append(by_name[clip])
        elif clip in MOTION_NAMES:
            chosen.append(_deepmimic_spec(clip))
        elif Path(clip).suffix:  # a user's motion file; the loader reports a missing or malformed file
            chosen.append(ClipSpec(clip, LOCOMOTION_THRESHOLD))
        else:
            valid = sorted(set(by_name) | set(MOTION_NAMES))
            raise UnknownSuiteError(f"unknown clip '{clip}': valid clips are {', '.join(valid)}, or a motion file path")
    return tuple(chosen)
