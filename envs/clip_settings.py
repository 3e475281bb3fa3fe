"""Per-clip settings of the released originals, in one table: DiffMimic's `*_20s` configs and DeepMimic's fall bodies.

Sources (facts, cited per field):
- DiffMimic (`jiawei-ren/diffmimic` d0db48a) `configs/AMP/<clip>_20s.yaml`: `threshold` (Demonstration Replay), `ep_len`
  60 (a rollout of `ep_len - 1` = 59 steps, `mimic.py`), `ep_len_eval` 600; `HumanoidMimicTrain.reset` draws the start
  frame uniformly from `[0, ep_len_eval - ep_len]`.
- DeepMimic (`xbpeng/DeepMimic` 1f915c5) `args/train_humanoid3d_<clip>_args.txt`: `--fall_contact_bodies` (body
  indices of `humanoid3d.txt`); roll sets `--enable_char_contact_fall false` (no contact falls at all); sideflip has no
  args file upstream, so it gets the common list.
"""

from __future__ import annotations

import dataclasses

# humanoid3d.txt body order (DeepMimic indices 0..14).
HUMANOID3D_BODIES = (
    "root", "chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow", "right_wrist",
    "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip


def _bodies(*indices: int) -> tuple[str, ...]:
    return tuple(HUMANOID3D_BODIES[i] for i in indices)


# `--fall_contact_bodies 0 1 2 3 4 6 7 8 9 10 12 13 14`: every body but the two ankles (feet).
COMMON_FALL_BODIES = _bodies(0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14)
DIFFMIMIC_EP_LEN = 60  # configs/AMP/*_20s.yaml `ep_len`
DIFFMIMIC_EP_LEN_EVAL = 600  # configs/AMP/*_20s.yaml `ep_len_eval` (20 s at 30 Hz)


@dataclasses.dataclass(frozen=True)
class ClipSettings:
    replay_threshold: float
    """DiffMimic `threshold`: metres of mean body-position error that trigger Demonstration Replay."""
    fall_contact_bodies: tuple[str, ...] = COMMON_FALL_BODIES
    """DeepMimic `--fall_contact_bodies`: a ground contact of one of these bodies is a fall."""
    rollout_length: int | None = DIFFMIMIC_EP_LEN - 1
    """DiffMimic training rollout in control steps (`ep_len - 1`); None: the method's own default."""
    random_start_range: int | None = DIFFMIMIC_EP_LEN_EVAL - DIFFMIMIC_EP_LEN
    """DiffMimic's RSI: start frame uniform in `[0, random_start_range]` (`ep_len_eval - ep_len`); None: one cycle."""


CLIP_SETTINGS: dict[str, ClipSettings] = {
    "backflip": ClipSettings(0.4),
    "cartwheel": ClipSettings(0.4, _bodies(0, 1, 2, 3, 4, 6, 7, 9, 10, 12, 13)),  # hands touch the ground
    "crawl": ClipSettings(0.2, _bodies(0, 1, 2)),  # knees and hands touch the ground
    "dance_a": ClipSettings(0.4),  # DiffMimic's dance_20s.yaml
    "jog": ClipSettings(0.4),
    "jump": ClipSettings(0.4),
    "roll": ClipSettings(0.4, ()),  # --enable_char_contact_fall false
    "run": ClipSettings(0.2),
    "sideflip": ClipSettings(0.4),  # no DeepMimic args file: the common fall list
    "spinkick": ClipSettings(0.4),
    "walk": ClipSettings(0.2),
    "zombie_walk": ClipSettings(0.2),  # DiffMimic's zombie_20s.yaml
}
# A clip not in the table (the embedded synthetic clip, a user's file): locomotion threshold, common fall list, the
# method's own rollout length, random start within one cycle.
DEFAULT_CLIP_SETTINGS = ClipSettings(0.2, rollout_length=None, random_start_range=None)


def clip_settings(clip: str) -> ClipSettings:
    """Settings of a shipped clip by name (or motion-file stem `humanoid3d_<clip>`), else the defaults."""
    name = clip.rsplit("/", 1)[-1].removesuffix(".txt").removeprefix("humanoid3d_")
    return CLIP_SETTINGS.get(name, DEFAULT_CLIP_SETTINGS)
