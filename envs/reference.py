"""Resolves a clip name or file to a :class:`~envs.motion.ReferenceMotion`, and builds environments from it."""

from __future__ import annotations

from pathlib import Path

from envs import data
from envs.mimic_env import MimicConfig, MimicEnv
from envs.model import load_character_model
from envs.motion import CONTROL_DT, ReferenceMotion, build_reference, cycle_frames, load_motion_file

SYNTHETIC_CLIP = "synthetic"
SYNTHETIC_PATH = Path(__file__).parent / "assets" / "synthetic_humanoid3d.txt"


def resolve_clip_path(clip: str, data_dir=None) -> Path:
    """``synthetic`` (the embedded default), a shipped DeepMimic clip name, or a motion file path."""
    if clip == SYNTHETIC_CLIP:
        return SYNTHETIC_PATH
    return data.resolve_motion_file(clip, data_dir)


def load_reference(
    clip: str = SYNTHETIC_CLIP,
    *,
    character: str = "humanoid3d",
    data_dir=None,
    num_frames: int | None = None,
    dt: float = CONTROL_DT,
) -> ReferenceMotion:
    model = load_character_model(character)
    motion = load_motion_file(resolve_clip_path(clip, data_dir), model)
    return build_reference(motion, model, num_frames=num_frames, dt=dt)


def make_env(
    clip: str = SYNTHETIC_CLIP, config: MimicConfig = MimicConfig(), *, character: str = "humanoid3d", data_dir=None
) -> MimicEnv:
    """The mimic environment for ``clip``, with the reference long enough for ``config.episode_length`` steps
    from any start frame (one cycle, or ``config.random_start_range``)."""
    config.validate()
    model = load_character_model(character)
    motion = load_motion_file(resolve_clip_path(clip, data_dir), model)
    starts = max(cycle_frames(motion), config.start_frames(cycle_frames(motion)))
    reference = build_reference(motion, model, num_frames=starts + config.episode_length + 2)
    return MimicEnv(model, reference, config)
