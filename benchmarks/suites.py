"""Benchmark suites: which clips, and the per-clip settings of the released originals for them.

A suite is a list of :class:`ClipSpec`, built from the one per-clip table in :mod:`envs.clip_settings` (DiffMimic's
configs, DeepMimic's fall-contact bodies). `deepmimic` holds DeepMimic's 12 clips on humanoid3d; `amass`, `aist` and
`swordshield` DiffMimic's converted demo clips on its SMPL and SWORDSHIELD characters, and `swordshield` also ASE's
other Reallusion clips (poselib motions) on SWORDSHIELD (``envs.licensed_data``). Besides the named suites, any
DeepMimic motion file, DiffMimic state file or poselib motion can be run (``--clips my_clip.txt``, ``--clips
states.npy``), on the character its file names, with its format's defaults for clips the table does not list.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from envs.clip_settings import DEFAULT_CLIP_SETTINGS, clip_settings
from envs.data import MOTION_NAMES
from envs.licensed_data import DIFFMIMIC_CLIPS, REALLUSION_CLIPS, SHIPPED_CLIPS
from envs.reference import SYNTHETIC_CLIP

LOCOMOTION_THRESHOLD = DEFAULT_CLIP_SETTINGS.replay_threshold


class UnknownSuiteError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    clip: str
    """A shipped clip name, `synthetic`, or a motion file path."""
    replay_threshold: float
    """Metres of mean body-position error that trigger Demonstration Replay for this clip."""
    fall_contact_bodies: tuple[str, ...] | None = DEFAULT_CLIP_SETTINGS.fall_contact_bodies
    """Bodies whose ground contact is a fall (DeepMimic's `--fall_contact_bodies`); None: the character's own."""
    rollout_length: int | None = DEFAULT_CLIP_SETTINGS.rollout_length
    """Training rollout in control steps where the tier does not set one (DiffMimic: `ep_len - 1`); None: the
    method's default."""
    random_start_range: int | None = DEFAULT_CLIP_SETTINGS.random_start_range
    """Training start frame uniform in `[0, random_start_range]`; None: within one cycle."""
    max_grad_norm: float | None = DEFAULT_CLIP_SETTINGS.max_grad_norm
    """Global-norm clip of analytic-gradient methods (DiffMimic's `max_grad_norm`); None: the method's default."""
    observation: str = DEFAULT_CLIP_SETTINGS.observation
    """The environment's observation type (DiffMimic's `obs_type`: `state` or `target`), for every method."""
    eval_frames: int | None = DEFAULT_CLIP_SETTINGS.eval_frames
    """Steps of the cycle evaluation horizon where the tier sets none (DiffMimic's AIST: 59); None: one cycle."""

    @property
    def label(self) -> str:
        """Name used in results paths and tables: the clip name, or a file's stem."""
        path = Path(self.clip)
        return path.stem.removeprefix("humanoid3d_") if path.suffix else self.clip


def clip_spec(clip: str) -> ClipSpec:
    """A clip with its settings from :mod:`envs.clip_settings` (a shipped clip's by name; a file's by its format)."""
    shipped = clip in MOTION_NAMES or clip in SHIPPED_CLIPS or clip == SYNTHETIC_CLIP
    settings = clip_settings(clip) if shipped or clip.endswith(".npy") else DEFAULT_CLIP_SETTINGS
    return ClipSpec(clip, **dataclasses.asdict(settings))


def _diffmimic_suite(folder: str) -> tuple[ClipSpec, ...]:
    """The shipped DiffMimic clips of one of its demo folders (``demo_amass``, ...), by name."""
    return tuple(clip_spec(name) for name, relpath in DIFFMIMIC_CLIPS.items() if relpath.startswith(folder + "/"))


SUITES: dict[str, tuple[ClipSpec, ...]] = {
    "smoke": (clip_spec("synthetic"),),
    "deepmimic": tuple(clip_spec(name) for name in MOTION_NAMES),
    "amass": _diffmimic_suite("demo_amass"),
    "aist": _diffmimic_suite("demo_aist"),
    # DiffMimic's converted clip, then ASE's other Reallusion clips (poselib motions).
    "swordshield": _diffmimic_suite("demo_swordshield") + tuple(clip_spec(name) for name in REALLUSION_CLIPS),
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
        elif clip in MOTION_NAMES or clip in SHIPPED_CLIPS or Path(clip).suffix:  # a file: the loader checks it
            chosen.append(clip_spec(clip))
        else:
            valid = sorted(set(by_name) | set(MOTION_NAMES) | set(SHIPPED_CLIPS))
            raise UnknownSuiteError(f"unknown clip '{clip}': valid clips are {', '.join(valid)}, or a motion file path")
    return tuple(chosen)
