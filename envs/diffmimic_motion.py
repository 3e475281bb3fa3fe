"""DiffMimic's reference-state files -> this project's reference motion on the character they were made for.

A state file holds world body states, not joint angles (``envs.formats.load_diffmimic_states``). The joint angles
are recovered from the body rotations: each body's rotation relative to its parent gives, for a 3-DoF joint, the
three hinge angles in the project's one Euler convention (``envs.motion.spherical_hinge_angles``: intrinsic z-y-x
about DeepMimic's axes, of the two solutions the one inside the limits and nearest the previous frame) and, for a
1-DoF joint, the angle about the hinge's axis; the root takes the pelvis's position and rotation.
``envs.motion.reference_from_coordinates`` then runs forward kinematics and differentiates exactly as for DeepMimic
clips, so reference-state initialisation, replay and PD targets work the same on every character.

One row is one control step: DiffMimic plays its files row by row at ``dt: 0.0333``, and so does this reference (at
``CONTROL_DT``), without looping (frames past the last row hold it). Velocities are central differences of the
recovered motion, not the file's own (its non-root linear velocities are not the bodies' velocities: FIDELITY.md
section 11).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from envs.character import SPHERICAL_AXES, CharacterError, yup_to_zup
from envs.formats.diffmimic import DiffMimicStates, load_diffmimic_states
from envs.model import CharacterModel, load_character_model
from envs.motion import (
    CONTROL_DT,
    MotionError,
    ReferenceMotion,
    reference_from_coordinates,
    spherical_hinge_angles,
    wrap_angle,
)

CHARACTER_BY_BODIES = {18: "smpl", 14: "swordshield"}
"""DiffMimic's characters by their body count (floor excluded); its 13-body HUMANOID has no asset here."""
BONE_TOLERANCE = 0.01  # metres: a file whose bones differ more from the character's was made for another body

# DeepMimic's hinge axes are y-up; the same rotation in the z-up world is Y_TO_Z * r * Y_TO_Z^-1.
Y_TO_Z = Rotation.from_matrix(yup_to_zup(np.eye(3)).T)


def diffmimic_character(states: DiffMimicStates) -> str:
    """The character a state file was made for, from its body count."""
    try:
        return CHARACTER_BY_BODIES[states.num_bodies]
    except KeyError:
        known = ", ".join(f"{name} {count}" for count, name in CHARACTER_BY_BODIES.items())
        raise MotionError(
            f"{states.source}: holds {states.num_bodies} bodies (plus the floor); no character here has that many "
            f"({known})"
        ) from None


def _rotations(quat_wxyz: np.ndarray) -> Rotation:
    return Rotation.from_quat(quat_wxyz[..., [1, 2, 3, 0]])


def check_bones(states: DiffMimicStates, model: CharacterModel) -> None:
    """Every body must sit at the character's offset from its parent, in the parent's frame, in every frame."""
    mj = model.sys.mj_model
    for index, name in enumerate(model.body_names[1:], start=1):
        parent = int(model.body_parent[index])
        offset = _rotations(states.rot[:, parent]).inv().apply(states.pos[:, index] - states.pos[:, parent])
        error = np.linalg.norm(offset - mj.body(name).pos, axis=-1)
        if error.max() > BONE_TOLERANCE:
            frame = int(error.argmax())
            raise MotionError(
                f"{states.source}: body {index} sits {error[frame] * 100:.1f} cm from where character '{model.name}' "
                f"puts its '{name}' (frame {frame}): the clip was made for another character"
            )


def diffmimic_coordinates(states: DiffMimicStates, model: CharacterModel) -> np.ndarray:
    """Generalized coordinates ``q`` ``[F, q_size]`` whose forward kinematics puts the bodies where the file does."""
    if states.num_bodies != model.num_bodies:
        raise MotionError(
            f"{states.source}: holds {states.num_bodies} bodies (plus the floor) but character '{model.name}' has "
            f"{model.num_bodies}: the clip was made for another character"
        )
    if np.any(model.body_offset != 0):
        raise CharacterError(f"character '{model.name}' has fixed points, which DiffMimic's state files do not hold")
    check_bones(states, model)
    mj = model.sys.mj_model
    hinge = {name: i for i, name in enumerate(model.hinge_names)}
    q = np.zeros((states.num_frames, model.sys.q_size()))
    q[:, 0:3] = states.pos[:, 0]
    q[:, 3:7] = states.rot[:, 0] / np.linalg.norm(states.rot[:, 0], axis=-1, keepdims=True)
    for index, (joint, joint_type) in enumerate(model.motion_joints, start=1):
        local = _rotations(states.rot[:, int(model.body_parent[index])]).inv() * _rotations(states.rot[:, index])
        if joint_type == "spherical":
            hinges = [hinge[f"{joint}_{axis}"] for axis in SPHERICAL_AXES]
            low, high = model.hinge_limits[hinges, 0], model.hinge_limits[hinges, 1]
            angles = spherical_hinge_angles(Y_TO_Z.inv() * local * Y_TO_Z, low, high)
            q[:, model.hinge_q_index[hinges]] = angles
        elif joint_type == "revolute":
            axis = mj.jnt_axis[mj.joint(joint).id]
            xyzw = local.as_quat()
            # The twist about the axis; the file turns 1-DoF joints about their axis only (checked by the round trip).
            angle = wrap_angle(2.0 * np.arctan2(xyzw[:, :3] @ axis, xyzw[:, 3]))
            low, high = model.hinge_range[hinge[joint]]
            q[:, model.hinge_q_index[hinge[joint]]] = np.clip(angle, low, high)
        else:
            raise CharacterError(f"character '{model.name}': joint '{joint}' ({joint_type}) has no angle to recover")
    return q


def diffmimic_reference(
    states: DiffMimicStates, model: CharacterModel, num_frames: int | None = None
) -> ReferenceMotion:
    """The reference of ``states`` on ``model``, one control step per row, over ``num_frames`` frames (default: the
    file's rows; more hold the last row still, as ``envs.motion.build_reference`` does past a non-looping clip's
    end, so that episodes starting late have frames to track)."""
    num_frames = states.num_frames if num_frames is None else num_frames
    if num_frames < 1:
        raise MotionError(f"{states.source}: num_frames must be positive, got {num_frames}")
    q = diffmimic_coordinates(states, model)
    rows = np.minimum(np.arange(-1, num_frames + 1), states.num_frames - 1)  # frame -1 holds the first row
    q_padded = q[np.maximum(rows, 0)]
    return reference_from_coordinates(states.name, q_padded, model, CONTROL_DT, loop=False, cycle=states.num_frames - 1)


def load_diffmimic_reference(path, character: str | None = None, num_frames: int | None = None) -> ReferenceMotion:
    """Reads a DiffMimic state file and builds its reference on ``character`` (default: the one its body count
    names, :data:`CHARACTER_BY_BODIES`) over ``num_frames`` (:func:`diffmimic_reference`); a file of another
    character is an error naming the file and both."""
    path = Path(path)
    if character is None:
        states = load_diffmimic_states(path)
        model = load_character_model(diffmimic_character(states))
    else:
        model = load_character_model(character)
        states = load_diffmimic_states(path, expected_bodies=model.num_bodies, character=model.name)
    return diffmimic_reference(states, model, num_frames)
