"""ASE/poselib motion files (``SkeletonMotion``) -> this project's reference motion on the character they animate.

A poselib motion holds each skeleton node's rotation relative to its parent (x y z w), the root's world position
and the skeleton (node names, parents, offsets). Forward kinematics over the skeleton gives every node's world
position and rotation; the character's bodies are the nodes of the same name (the nodes it merges, such as ASE's
sword, shield and left hand, ride on their parents' bodies). From there the joint angles are recovered exactly as
for DiffMimic's state files (``envs.diffmimic_motion``: the same bone check against the character, the same
Euler branches), which is what DiffMimic's own ``sword_converter.py`` does to make its SWORDSHIELD file: it copies
ASE's global body states, unresampled.

Frames: one per control step, as DiffMimic plays the files, when the clip's rate is within
:data:`RATE_TOLERANCE` of 30 Hz (every shipped Reallusion clip: 29.86-30 fps); other rates are resampled to 30 Hz
(root position linearly, joint rotations by slerp) before the forward kinematics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from envs.diffmimic_motion import diffmimic_reference
from envs.formats.diffmimic import DiffMimicStates
from envs.formats.poselib import PoselibMotion, load_poselib_motion
from envs.model import CharacterModel, load_character_model
from envs.motion import CONTROL_DT, MotionError, ReferenceMotion

RATE_TOLERANCE = 0.01  # relative: DiffMimic treats ASE's 29.9 fps clips as 30 fps
# The skeletons each character animates (ASE's amp_humanoid_sword_shield.xml: the character's 14 bodies, plus the
# sword in the right hand and the shield and left hand on the left forearm, which the character merges).
POSELIB_SKELETONS: dict[str, frozenset[str]] = {
    "swordshield": frozenset({
        "pelvis", "torso", "head", "right_upper_arm", "right_lower_arm", "right_hand", "sword", "left_upper_arm",
        "left_lower_arm", "shield", "left_hand", "right_thigh", "right_shin", "right_foot", "left_thigh", "left_shin",
        "left_foot",
    }),
}  # fmt: skip


def poselib_character(motion: PoselibMotion) -> str:
    """The character whose skeleton the motion animates (its node names, in any order)."""
    nodes = frozenset(motion.node_names)
    for character, skeleton in POSELIB_SKELETONS.items():
        if nodes == skeleton:
            return character
    known = "; ".join(f"{name}: {', '.join(sorted(skeleton))}" for name, skeleton in POSELIB_SKELETONS.items())
    raise MotionError(
        f"{motion.source}: its skeleton ({len(nodes)} nodes: {', '.join(motion.node_names)}) is no character's here "
        f"(known skeletons: {known})"
    )


def _resampled(motion: PoselibMotion) -> tuple[np.ndarray, Rotation, float]:
    """Root translations ``[F, 3]``, local rotations (``[F, J]`` flattened frame-major) and the rate they are at."""
    local = Rotation.from_quat(motion.rotation.reshape(-1, 4))
    if abs(motion.fps * CONTROL_DT - 1.0) <= RATE_TOLERANCE:
        return motion.root_translation, local, motion.fps
    times = np.arange(motion.num_frames) / motion.fps
    steps = np.arange(int(np.floor(motion.duration / CONTROL_DT)) + 1) * CONTROL_DT
    if len(steps) < 2:
        raise MotionError(f"{motion.source}: lasts {motion.duration:.3f} s, less than two 30 Hz frames")
    joints = len(motion.node_names)
    root = np.stack([np.interp(steps, times, motion.root_translation[:, axis]) for axis in range(3)], axis=-1)
    per_joint = [Slerp(times, Rotation.from_quat(motion.rotation[:, j]))(steps).as_quat() for j in range(joints)]
    return root, Rotation.from_quat(np.stack(per_joint, axis=1).reshape(-1, 4)), 1.0 / CONTROL_DT


def poselib_states(motion: PoselibMotion, model: CharacterModel) -> DiffMimicStates:
    """World states of the character's bodies (the nodes of their names), one row per 30 Hz control step."""
    if not motion.is_local:
        raise MotionError(f"{motion.source}: holds global rotations (is_local False); poselib motions here are local")
    missing = [name for name in model.body_names if name not in motion.node_names]
    if missing:
        raise MotionError(f"{motion.source}: has no node for bodies {missing} of character '{model.name}'")
    root, local, fps = _resampled(motion)
    frames, joints = len(root), len(motion.node_names)
    local_quat = local.as_quat().reshape(frames, joints, 4)
    world_rot: list[Rotation] = []
    world_pos = np.zeros((frames, joints, 3))
    for joint, parent in enumerate(motion.parent_indices):
        rotation = Rotation.from_quat(local_quat[:, joint])
        if parent < 0:
            world_rot.append(rotation)
            world_pos[:, joint] = root
        else:
            world_rot.append(world_rot[parent] * rotation)
            world_pos[:, joint] = world_pos[:, parent] + world_rot[parent].apply(motion.local_translation[joint])
    nodes = [motion.node_names.index(name) for name in model.body_names]
    rot = np.stack([world_rot[j].as_quat()[:, [3, 0, 1, 2]] for j in nodes], axis=1)  # x y z w -> w x y z
    # World velocities by central differences (one-sided at the ends), as the reference computes its own.
    pos = world_pos[:, nodes]
    vel = np.gradient(pos, 1.0 / fps, axis=0)
    ang = np.zeros_like(vel)
    for body, joint in enumerate(nodes):
        r = world_rot[joint]
        ahead, behind = np.minimum(np.arange(frames) + 1, frames - 1), np.maximum(np.arange(frames) - 1, 0)
        span = (ahead - behind)[:, None] / fps
        ang[:, body] = (r[ahead] * r[behind].inv()).as_rotvec() / span
    return DiffMimicStates(motion.name, motion.source, fps, pos, rot, vel, ang)


def load_poselib_reference(path, character: str | None = None, num_frames: int | None = None) -> ReferenceMotion:
    """Reads a poselib motion and builds its reference on ``character`` (default: the one its skeleton names); a
    motion of another character's skeleton is an error naming the file and both."""
    motion = load_poselib_motion(Path(path))
    own = poselib_character(motion)
    if character is not None and character != own:
        raise MotionError(f"{path}: a clip of character '{own}', asked to run on character '{character}'")
    model = load_character_model(own)
    return diffmimic_reference(poselib_states(motion, model), model, num_frames)
