"""Per-clip settings of the released originals, in one table: DiffMimic's configs and DeepMimic's fall bodies.

Sources (facts, cited per field):
- DiffMimic (`jiawei-ren/diffmimic` d0db48a) `configs/AMP/<clip>_20s.yaml`: `threshold` (Demonstration Replay), `ep_len`
  60 (a rollout of `ep_len - 1` = 59 steps, `mimic.py`), `ep_len_eval` 600, `max_grad_norm` 0.4, no `obs_type` (the
  phase observation); `HumanoidMimicTrain.reset` draws the start frame uniformly from `[0, ep_len_eval - ep_len]`.
- DiffMimic `configs/AMASS/*.yaml`, `configs/AIST/*.yaml`, `configs/SWORDSHIELD/*.yaml` (the SMPL and SWORDSHIELD
  clips): threshold 0.2, `obs_type: target_state`, `max_grad_norm` 0.3 or 0.4, `ep_len` 60 (SWORDSHIELD 96);
  `mimic.py` caps `ep_len` and `ep_len_eval` at the clip's rows and defaults `ep_len_eval` to them (only the AIST
  configs set it: 60), so the rollout is `min(ep_len, rows) - 1` steps and the start range `ep_len_eval - ep_len`.
  Their fall bodies are the character's own (its metadata, DiffMimic has no contact falls). ASE's Reallusion clips
  have no config of their own: they get the SWORDSHIELD config's settings with the clip's frames.
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
    fall_contact_bodies: tuple[str, ...] | None = COMMON_FALL_BODIES
    """DeepMimic `--fall_contact_bodies`: a ground contact of one of these bodies is a fall; None: the character's
    own list (its metadata's `fall_contact`)."""
    rollout_length: int | None = DIFFMIMIC_EP_LEN - 1
    """DiffMimic training rollout in control steps (`ep_len - 1`); None: the method's own default."""
    random_start_range: int | None = DIFFMIMIC_EP_LEN_EVAL - DIFFMIMIC_EP_LEN
    """DiffMimic's RSI: start frame uniform in `[0, random_start_range]` (`ep_len_eval - ep_len`); None: one cycle."""
    max_grad_norm: float | None = 0.4
    """DiffMimic `max_grad_norm`: global-norm clip of the analytic gradient; None: the method's own default."""
    observation: str = "state"
    """DiffMimic `obs_type`: `state` (its default `timestamp`: state and phase) or `target` (`target_state`)."""
    eval_frames: int | None = None
    """Evaluation steps where DiffMimic evaluates less than the clip (`ep_len_eval - 1`, its AIST configs); None: one
    cycle (the whole clip where it does not loop), or the tier's."""


# DeepMimic's clips on humanoid3d, by name.
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


def _diffmimic_clip(max_grad_norm: float, ep_len: int, ep_len_eval: int, rows: int) -> ClipSettings:
    """A clip of DiffMimic's SMPL or SWORDSHIELD configs; ``ep_len`` and ``ep_len_eval`` already capped at its rows."""
    return ClipSettings(
        0.2,
        fall_contact_bodies=None,
        rollout_length=ep_len - 1,
        random_start_range=ep_len_eval - ep_len,
        max_grad_norm=max_grad_norm,
        observation="target",
        eval_frames=ep_len_eval - 1 if ep_len_eval < rows else None,
    )


# DiffMimic's state files by stem: max_grad_norm, ep_len and ep_len_eval (capped at the rows), the file's rows.
DIFFMIMIC_CLIP_SETTINGS: dict[str, ClipSettings] = {
    "gBR_sBM_cAll_d04_mBR0_ch01": _diffmimic_clip(0.3, 60, 60, 360),  # configs/AIST/aist_example.yaml
    "gBR_sFM_cAll_d04_mBR1_ch02": _diffmimic_clip(0.3, 60, 60, 1280),  # configs/AIST/aist_example2.yaml
    "WalkingStraightBackwards07_stageii": _diffmimic_clip(0.3, 60, 151, 151),  # configs/AMASS/amass_example.yaml
    "KickHuefthoch05_stageii": _diffmimic_clip(0.3, 60, 138, 138),  # configs/AMASS/amass_example2.yaml
    "75_09_stageii": _diffmimic_clip(0.4, 60, 186, 186),  # configs/AMASS/amass_example3.yaml
    "RL_Avatar_Atk_2xCombo01_Motion": _diffmimic_clip(0.4, 96, 96, 96),  # configs/SWORDSHIELD/<the clip>.yaml
}

# ASE's Reallusion clips (poselib motions on swordshield) have no DiffMimic config: they run as its SWORDSHIELD config
# would with the clip as `ref` (ep_len 96 and ep_len_eval capped at the clip's frames). Frames of each clip:
REALLUSION_FRAMES: dict[str, int] = {
    "RL_Avatar_Atk_2xCombo02_Motion": 109, "RL_Avatar_Atk_2xCombo03_Motion": 124,
    "RL_Avatar_Atk_2xCombo05_Motion": 102, "RL_Avatar_Atk_3xCombo01_Motion": 102,
    "RL_Avatar_Atk_3xCombo02_Motion": 84, "RL_Avatar_Atk_3xCombo03_Motion": 133,
    "RL_Avatar_Atk_3xCombo04_Motion": 119, "RL_Avatar_Atk_3xCombo05_Motion": 170,
    "RL_Avatar_Atk_3xCombo06_Motion": 122, "RL_Avatar_Atk_3xCombo07_Motion": 104,
    "RL_Avatar_Atk_4xCombo01_Motion": 238, "RL_Avatar_Atk_4xCombo02_Motion": 210,
    "RL_Avatar_Atk_4xCombo03_Motion": 298, "RL_Avatar_Atk_Kick_Motion": 73, "RL_Avatar_Atk_ShieldCharge_Motion": 66,
    "RL_Avatar_Atk_ShieldSwipe01_Motion": 86, "RL_Avatar_Atk_ShieldSwipe02_Motion": 72,
    "RL_Avatar_Atk_SlashDown_Motion": 70, "RL_Avatar_Atk_SlashLeft_Motion": 46,
    "RL_Avatar_Atk_SlashRight_Motion": 58, "RL_Avatar_Atk_SlashUp_Motion": 76, "RL_Avatar_Atk_Spin_Motion": 68,
    "RL_Avatar_Atk_Stab_Motion": 128, "RL_Avatar_Counter_Atk01_Motion": 76, "RL_Avatar_Counter_Atk03_Motion": 97,
    "RL_Avatar_Counter_Atk04_Motion": 122, "RL_Avatar_Counter_Atk05_Motion": 103,
    "RL_Avatar_Dodge_Backward_Motion": 51, "RL_Avatar_Dodgle_Left_Motion": 41, "RL_Avatar_Dodgle_Right_Motion": 46,
    "RL_Avatar_Fall_Backward_Motion": 181, "RL_Avatar_Fall_Left_Motion": 189, "RL_Avatar_Fall_Right_Motion": 195,
    "RL_Avatar_Fall_SpinLeft_Motion": 198, "RL_Avatar_Fall_SpinRight_Motion": 220,
    "RL_Avatar_Idle_Alert_Motion": 148, "RL_Avatar_Idle_Battle(0)_Motion": 96, "RL_Avatar_Idle_Battle_Motion": 96,
    "RL_Avatar_Idle_Ready(0)_Motion": 103, "RL_Avatar_Idle_Ready_Motion": 103,
    "RL_Avatar_Kill_2xCombo01_Motion": 151, "RL_Avatar_Kill_2xCombo02_Motion": 124,
    "RL_Avatar_Kill_3xCombo01_Motion": 156, "RL_Avatar_Kill_3xCombo02_Motion": 186,
    "RL_Avatar_Kill_4xCombo01_Motion": 212, "RL_Avatar_RunBackward_Motion": 183, "RL_Avatar_RunLeft_Motion": 176,
    "RL_Avatar_RunRight_Motion": 161, "RL_Avatar_Shield_BlockBackward_Motion": 132,
    "RL_Avatar_Shield_BlockCrouch_Motion": 225, "RL_Avatar_Shield_BlockDown_Motion": 91,
    "RL_Avatar_Shield_BlockLeft_Motion": 94, "RL_Avatar_Shield_BlockRight_Motion": 110,
    "RL_Avatar_Shield_BlockUp_Motion": 79, "RL_Avatar_Standoff_Circle_Motion": 340,
    "RL_Avatar_Standoff_Feint_Motion": 204, "RL_Avatar_Standoff_Swing_Motion": 111,
    "RL_Avatar_Sword_ParryBackward02_Motion": 106, "RL_Avatar_Sword_ParryBackward03_Motion": 151,
    "RL_Avatar_Sword_ParryBackward04_Motion": 100, "RL_Avatar_Sword_ParryCrouch_Motion": 97,
    "RL_Avatar_Sword_ParryDown_Motion": 69, "RL_Avatar_Sword_ParryLeft_Motion": 76,
    "RL_Avatar_Sword_ParryRight_Motion": 75, "RL_Avatar_Sword_ParryUp_Motion": 58,
    "RL_Avatar_Taunt_PoundChest_Motion": 216, "RL_Avatar_Taunt_Roar_Motion": 170,
    "RL_Avatar_Taunt_ShieldKnock_Motion": 186, "RL_Avatar_TurnLeft90_Motion": 49,
    "RL_Avatar_TurnRight180_Motion": 102, "RL_Avatar_TurnRight90_Motion": 49, "RL_Avatar_WalkBackward01_Motion": 233,
    "RL_Avatar_WalkBackward02_Motion": 151, "RL_Avatar_WalkForward01_Motion": 264,
    "RL_Avatar_WalkForward02_Motion": 151, "RL_Avatar_WalkLeft01_Motion": 271, "RL_Avatar_WalkLeft02_Motion": 200,
    "RL_Avatar_WalkRight01_Motion": 271, "RL_Avatar_WalkRight02_Motion": 175,
}
DIFFMIMIC_CLIP_SETTINGS.update(
    {name: _diffmimic_clip(0.4, min(96, frames), frames, frames) for name, frames in REALLUSION_FRAMES.items()}
)

# A clip not in the table (a user's DeepMimic file): locomotion threshold, common fall list, the method's own rollout
# length and gradient clip, random start within one cycle.
DEFAULT_CLIP_SETTINGS = ClipSettings(0.2, rollout_length=None, random_start_range=None, max_grad_norm=None)
# The embedded synthetic clip (envs.synthetic) kneels: its shins and feet rest on the floor and its thighs come within
# centimetres of it, so a fall is a ground contact of the root, chest, neck or arms. Otherwise the defaults.
SYNTHETIC_CLIP_SETTINGS = dataclasses.replace(DEFAULT_CLIP_SETTINGS, fall_contact_bodies=_bodies(0, 1, 2, 6, 7, 8, 12, 13, 14))
# A .npy clip not in the table (a DiffMimic state file or a poselib motion): as DiffMimic's SMPL and SWORDSHIELD
# configs (threshold 0.2, target observations), on the character's own fall bodies, with the method's rollout length
# and gradient clip.
DIFFMIMIC_DEFAULT_CLIP_SETTINGS = dataclasses.replace(
    DEFAULT_CLIP_SETTINGS, fall_contact_bodies=None, observation="target"
)


def clip_name(clip: str) -> str:
    """A clip's table key: its name, or a motion file's stem without `humanoid3d_`."""
    name = clip.rsplit("/", 1)[-1]
    for suffix in (".txt", ".npy"):
        name = name.removesuffix(suffix)
    return name.removeprefix("humanoid3d_")


def clip_settings(clip: str) -> ClipSettings:
    """Settings of a shipped clip by name or file (DeepMimic's `humanoid3d_<clip>.txt`, DiffMimic's and Reallusion's
    `<stem>.npy`, the embedded `synthetic`), else the defaults of its format."""
    name = clip_name(clip)
    if clip.endswith(".npy") or name in DIFFMIMIC_CLIP_SETTINGS:
        return DIFFMIMIC_CLIP_SETTINGS.get(name, DIFFMIMIC_DEFAULT_CLIP_SETTINGS)
    if name == "synthetic":
        return SYNTHETIC_CLIP_SETTINGS
    return CLIP_SETTINGS.get(name, DEFAULT_CLIP_SETTINGS)
