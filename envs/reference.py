"""Resolves a clip name or file to a :class:`~envs.motion.ReferenceMotion` on its character, and builds environments.

Clip formats, told apart by the file: a ``.npy`` file is a DiffMimic state file (``envs.diffmimic_motion``: its
character is inferred from its body count), anything else a DeepMimic motion file (``envs.motion``, on
``humanoid3d``). A ``character`` given by the caller must be the clip's own: a clip of one character run on another
is an error naming the file and both characters.
"""

from __future__ import annotations

from pathlib import Path

from envs import data, licensed_data
from envs.diffmimic_motion import diffmimic_character, diffmimic_coordinates, diffmimic_reference
from envs.formats.diffmimic import DiffMimicStates, load_diffmimic_states
from envs.mimic_env import MimicConfig, MimicEnv
from envs.model import CharacterModel, load_character_model
from envs.motion import CONTROL_DT, MotionError, ReferenceMotion, build_reference, cycle_frames, load_motion_file

SYNTHETIC_CLIP = "synthetic"
SYNTHETIC_PATH = Path(__file__).parent / "assets" / "synthetic_humanoid3d.txt"
DEEPMIMIC_CHARACTER = "humanoid3d"
"""The character of every DeepMimic motion file (its joint layout is humanoid3d's)."""
DIFFMIMIC_SUFFIX = ".npy"


def resolve_clip_path(clip: str, data_dir=None) -> Path:
    """``synthetic`` (the embedded default), a shipped DeepMimic clip name (in ``data_dir``), a shipped DiffMimic
    clip name (``envs.licensed_data``), or a motion file path."""
    if clip == SYNTHETIC_CLIP:
        return SYNTHETIC_PATH
    if clip in licensed_data.DIFFMIMIC_CLIPS:
        return licensed_data.resolve_clip_file(clip)
    return data.resolve_motion_file(clip, data_dir)


def is_diffmimic_file(path: Path) -> bool:
    return Path(path).suffix == DIFFMIMIC_SUFFIX


def _check_character(path: Path, clip_character: str, character: str | None) -> str:
    """The character to build on: the clip's own; a different one asked for is an error naming both."""
    if character is not None and character != clip_character:
        raise MotionError(
            f"{path}: a clip of character '{clip_character}', asked to run on character '{character}'; "
            f"run it on '{clip_character}' (or leave the character out: it is inferred from the file)"
        )
    return clip_character


def _diffmimic_clip(path: Path, character: str | None) -> tuple[DiffMimicStates, CharacterModel]:
    states = load_diffmimic_states(path)
    model = load_character_model(_check_character(path, diffmimic_character(states), character))
    return states, model


def _deepmimic_model(path: Path, character: str | None) -> CharacterModel:
    # A converted MJCF path (another DeepMimic character file) is the caller's choice; a named character must match.
    if character is None or Path(character).suffix == ".xml":
        return load_character_model(character or DEEPMIMIC_CHARACTER)
    return load_character_model(_check_character(path, DEEPMIMIC_CHARACTER, character))


def check_clip(clip: str, *, character: str | None = None, data_dir=None) -> str:
    """Reads and parses ``clip`` against its character without building the reference (numpy only: cheap enough to
    check a whole suite before anything compiles); returns the character's name. Raises on any bad input."""
    path = resolve_clip_path(clip, data_dir)
    if is_diffmimic_file(path):
        states, model = _diffmimic_clip(path, character)
        diffmimic_coordinates(states, model)  # bones against the character, joint angles recoverable
    else:
        model = _deepmimic_model(path, character)
        load_motion_file(path, model)
    return model.name


def load_reference(
    clip: str = SYNTHETIC_CLIP,
    *,
    character: str | None = None,
    data_dir=None,
    num_frames: int | None = None,
    dt: float = CONTROL_DT,
) -> ReferenceMotion:
    """The reference of ``clip`` on its character (``character``: None infers it; else it must be the clip's)."""
    path = resolve_clip_path(clip, data_dir)
    if is_diffmimic_file(path):
        if abs(dt - CONTROL_DT) > 1e-12:
            raise MotionError(
                f"{path}: a DiffMimic state file plays one row per 30 Hz control step; it cannot be resampled to "
                f"{1.0 / dt:g} frames per second"
            )
        states, model = _diffmimic_clip(path, character)
        return diffmimic_reference(states, model, num_frames)
    model = _deepmimic_model(path, character)
    motion = load_motion_file(path, model)
    return build_reference(motion, model, num_frames=num_frames, dt=dt)


def make_env(
    clip: str = SYNTHETIC_CLIP, config: MimicConfig = MimicConfig(), *, character: str | None = None, data_dir=None
) -> MimicEnv:
    """The mimic environment for ``clip`` on its character, with the reference long enough for
    ``config.episode_length`` steps from any start frame (one cycle, or ``config.random_start_range``)."""
    config.validate()
    path = resolve_clip_path(clip, data_dir)
    if is_diffmimic_file(path):
        states, model = _diffmimic_clip(path, character)
        cycle = states.num_frames - 1
        starts = max(cycle, config.start_frames(cycle))
        reference = diffmimic_reference(states, model, num_frames=starts + config.episode_length + 2)
        return MimicEnv(model, reference, config)
    model = _deepmimic_model(path, character)
    motion = load_motion_file(path, model)
    starts = max(cycle_frames(motion), config.start_frames(cycle_frames(motion)))
    reference = build_reference(motion, model, num_frames=starts + config.episode_length + 2)
    return MimicEnv(model, reference, config)
