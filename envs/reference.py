"""Resolves a clip name or file to a :class:`~envs.motion.ReferenceMotion` on its character, and builds environments.

Clip formats, told apart by the file: a ``.npy`` file holding a float array is a DiffMimic state file
(``envs.diffmimic_motion``: the character is the one its body count names), a ``.npy`` file holding a pickled
object is an ASE/poselib motion (``envs.poselib_motion``: the character whose skeleton it animates), anything else a
DeepMimic motion file (``envs.motion``, on ``humanoid3d``). A ``character`` given by the caller must be the clip's
own: a clip of one character run on another is an error naming the file and both characters.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np
from numpy.lib import format as npy_format

from envs import data, licensed_data
from envs.diffmimic_motion import diffmimic_character, diffmimic_coordinates, diffmimic_reference
from envs.formats.diffmimic import DiffMimicStates, load_diffmimic_states
from envs.formats.poselib import load_poselib_motion
from envs.mimic_env import EnvConfigError, MimicConfig, MimicEnv
from envs.model import CharacterModel, load_character_model
from envs.motion import CONTROL_DT, MotionError, ReferenceMotion, build_reference, cycle_frames, load_motion_file
from envs.poselib_motion import poselib_character, poselib_states

SYNTHETIC_CLIP = "synthetic"
SYNTHETIC_PATH = Path(__file__).parent / "assets" / "humanoid3d_synthetic.txt"
DEEPMIMIC_CHARACTER = "humanoid3d"
"""The character of every DeepMimic motion file (its joint layout is humanoid3d's)."""
NPY_SUFFIX = ".npy"


def resolve_clip_path(clip: str, data_dir=None) -> Path:
    """``synthetic`` (the embedded default), a shipped DeepMimic clip name (in ``data_dir``), a shipped DiffMimic or
    Reallusion clip name (``envs.licensed_data``), or a motion file path."""
    if clip == SYNTHETIC_CLIP:
        return SYNTHETIC_PATH
    if clip in licensed_data.SHIPPED_CLIPS:
        return licensed_data.resolve_clip_file(clip)
    return data.resolve_motion_file(clip, data_dir)


def clip_format(path: Path) -> str:
    """`deepmimic`, `diffmimic` or `poselib`: a ``.npy`` file's header says whether it holds a pickle (poselib)."""
    path = Path(path)
    if path.suffix != NPY_SUFFIX:
        return "deepmimic"
    readers = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
    try:
        with open(path, "rb") as file:
            _, _, dtype = readers[npy_format.read_magic(file)](file)
    except (OSError, ValueError, KeyError):
        return "diffmimic"  # not a readable .npy file: its reader names the problem
    return "poselib" if np.dtype(dtype).hasobject else "diffmimic"


def _check_character(path: Path, clip_character: str, character: str | None) -> str:
    """The character to build on: the clip's own; a different one asked for is an error naming both."""
    if character is not None and character != clip_character:
        raise MotionError(
            f"{path}: a clip of character '{clip_character}', asked to run on character '{character}'; "
            f"run it on '{clip_character}' (or leave the character out: it is inferred from the file)"
        )
    return clip_character


@dataclasses.dataclass(frozen=True)
class _Clip:
    """A clip read and checked against its character, ready to build references of any length."""

    model: CharacterModel
    cycle: int
    """Control steps of one cycle (of the whole clip where it does not loop)."""
    build: Callable[[int | None], ReferenceMotion]
    """``num_frames`` (None: the clip's own) -> the reference."""


def _states_clip(states: DiffMimicStates, model: CharacterModel) -> _Clip:
    diffmimic_coordinates(states, model)  # bones against the character, joint angles recoverable: fail early
    return _Clip(model, states.num_frames - 1, lambda frames: diffmimic_reference(states, model, frames))


def _open(clip: str, character: str | None, data_dir, dt: float = CONTROL_DT) -> _Clip:
    path = resolve_clip_path(clip, data_dir)
    kind = clip_format(path)
    if kind != "deepmimic" and abs(dt - CONTROL_DT) > 1e-12:
        raise MotionError(
            f"{path}: a {kind} clip becomes one reference frame per 30 Hz control step; it cannot be resampled to "
            f"{1.0 / dt:g} frames per second"
        )
    if kind == "diffmimic":
        states = load_diffmimic_states(path)
        model = load_character_model(_check_character(path, diffmimic_character(states), character))
        return _states_clip(states, model)
    if kind == "poselib":
        motion = load_poselib_motion(path)
        model = load_character_model(_check_character(path, poselib_character(motion), character))
        return _states_clip(poselib_states(motion, model), model)
    # A converted MJCF path (another DeepMimic character file) is the caller's choice; a named character must match.
    if character is None or Path(character).suffix == ".xml":
        model = load_character_model(character or DEEPMIMIC_CHARACTER)
    else:
        model = load_character_model(_check_character(path, DEEPMIMIC_CHARACTER, character))
    motion = load_motion_file(path, model)
    return _Clip(model, cycle_frames(motion, dt), lambda frames: build_reference(motion, model, frames, dt))


def check_clip(clip: str, *, character: str | None = None, data_dir=None, fall_contact_bodies=None) -> str:
    """Reads and parses ``clip`` against its character without building the reference (numpy only: cheap enough to
    check a whole suite before anything compiles), and ``fall_contact_bodies`` (if given) against its bodies;
    returns the character's name. Raises on any bad input."""
    model = _open(clip, character, data_dir).model
    unknown = sorted(set(fall_contact_bodies or ()) - set(model.body_names))
    if unknown:
        raise EnvConfigError(f"fall_contact_bodies {unknown} are not bodies of '{model.name}' (clip {clip}): "
                             f"{', '.join(model.body_names)}")
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
    return _open(clip, character, data_dir, dt).build(num_frames)


def make_env(
    clip: str = SYNTHETIC_CLIP, config: MimicConfig = MimicConfig(), *, character: str | None = None, data_dir=None
) -> MimicEnv:
    """The mimic environment for ``clip`` on its character, with the reference long enough for
    ``config.episode_length`` steps from any start frame (one cycle, or ``config.random_start_range``)."""
    config.validate()
    opened = _open(clip, character, data_dir)
    starts = max(opened.cycle, config.start_frames(opened.cycle))
    return MimicEnv(opened.model, opened.build(starts + config.episode_length + 2), config)
