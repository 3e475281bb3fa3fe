"""Benchmark suites: which clips, and the per-clip settings of the released originals for them.

A suite is a list of :class:`ClipSpec`, built from the one per-clip table in :mod:`envs.clip_settings` (DiffMimic's
`*_20s` configs, DeepMimic's fall-contact bodies). Besides the named suites, any DeepMimic-format motion file can be
run as a one-clip suite (``--clips my_clip.txt``), with the table's defaults for clips it does not list.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from envs.clip_settings import DEFAULT_CLIP_SETTINGS, clip_settings
from envs.data import MOTION_NAMES

LOCOMOTION_THRESHOLD = DEFAULT_CLIP_SETTINGS.replay_threshold


class UnknownSuiteError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    clip: str
    """A shipped clip name, `synthetic`, or a motion file path."""
    replay_threshold: float
    """Metres of mean body-position error that trigger Demonstration Replay for this clip."""
    fall_contact_bodies: tuple[str, ...] = DEFAULT_CLIP_SETTINGS.fall_contact_bodies
    """Bodies whose ground contact is a fall (DeepMimic's `--fall_contact_bodies`)."""
    rollout_length: int | None = DEFAULT_CLIP_SETTINGS.rollout_length
    """Training rollout in control steps where the tier does not set one (DiffMimic: `ep_len - 1`); None: the
    method's default."""
    random_start_range: int | None = DEFAULT_CLIP_SETTINGS.random_start_range
    """Training start frame uniform in `[0, random_start_range]`; None: within one cycle."""

    @property
    def label(self) -> str:
        """Name used in results paths and tables: the clip name, or a file's stem."""
        path = Path(self.clip)
        return path.stem.removeprefix("humanoid3d_") if path.suffix else self.clip


def clip_spec(clip: str) -> ClipSpec:
    """A clip with its settings from :data:`envs.clip_settings.CLIP_SETTINGS` (defaults for clips not listed)."""
    settings = clip_settings(clip) if clip in MOTION_NAMES else DEFAULT_CLIP_SETTINGS
    return ClipSpec(clip, **dataclasses.asdict(settings))


SUITES: dict[str, tuple[ClipSpec, ...]] = {
    "smoke": (clip_spec("synthetic"),),
    "deepmimic": tuple(clip_spec(name) for name in MOTION_NAMES),
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
        elif clip in MOTION_NAMES or Path(clip).suffix:  # a user's file: the loader reports a missing or bad file
            chosen.append(clip_spec(clip))
        else:
            valid = sorted(set(by_name) | set(MOTION_NAMES))
            raise UnknownSuiteError(f"unknown clip '{clip}': valid clips are {', '.join(valid)}, or a motion file path")
    return tuple(chosen)
