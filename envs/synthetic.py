"""The embedded default clip: a motion the simulated character itself performed, so it is trackable by construction.

The character kneels (shins flat on the floor, thighs forward) and is driven by a smooth periodic PD target schedule
in the ``spring`` backend: it rocks back towards its heels and up again, bows, and swings both arms forward and
overhead. After the motion settles into its periodic steady state, one period is recorded at 30 Hz and written as a
DeepMimic motion file (y-up, ``Loop: wrap``). Every frame is a state the simulator reached under PD control, so a
method that cannot track it is broken, not the clip.

Why kneeling: the clip must be far from the pose an untrained policy holds, or "samples to 0.15 m" reads 0 before
any training. DiffMimic's zero action is the zero (standing) pose, which was 0.07 m from the earlier standing
squat-and-sway; larger standing motions fell over under PD control with ankle balance feedback. A kneel has a long
base front to back, so a symmetric motion in the sagittal plane stays periodic without any balance controller, and
its zero-action pose error is about 0.4 m (measured over one cycle from frame 0). Ground contacts of the shins and
feet are part of the motion: the clip's fall bodies are the root, chest, neck and arms (``envs.clip_settings``).

Regenerate the committed asset with ``python -m envs.synthetic --out envs/assets/humanoid3d_synthetic.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from brax import math as brax_math
from brax.spring import pipeline as spring_pipeline
from scipy.spatial.transform import Rotation

from envs.character import SPHERICAL_AXES
from envs.mimic_env import MimicConfig
from envs.model import CharacterModel, load_character_model, with_inertia
from envs.motion import CONTROL_DT

PERIOD = 2.0  # seconds per cycle of the target schedule
SETTLE_PERIODS = 10  # periods simulated before the recorded one (measured: consecutive periods then agree to 1e-3)
SUBSTEPS = MimicConfig().substeps  # the environment's default, so that the schedule replays the clip exactly
THIGH_FORWARD = 0.6  # rad of hip flexion in the kneel: the pelvis sits behind the knees, over the shins
KNEE_HEIGHT = 0.05  # the knee joint's height with the shin (capsule radius 0.05) flat on the floor
DROP = 0.03  # metres above the kneel the character starts, to settle onto its shins

# The kneel: thighs forward, shins flat on the floor (knee = -(pi/2 + hip)), feet stretched back along the floor.
KNEEL = {
    "right_hip_z": THIGH_FORWARD,
    "left_hip_z": THIGH_FORWARD,
    "right_knee": -(math.pi / 2 + THIGH_FORWARD),
    "left_knee": -(math.pi / 2 + THIGH_FORWARD),
    "right_ankle_z": -1.2,
    "left_ankle_z": -1.2,
}
# (hinge, amplitude rad, phase in periods, offset rad) on top of the kneel, left and right in step: a motion in the
# sagittal plane. Measured: twice the hip, torso and neck amplitudes, or left/right arms half a period apart, tip
# the character over within ten periods.
SCHEDULE = (
    ("right_hip_z", 0.125, 0.0, 0.0),  # rock back towards the heels and up again; the knees keep the shins flat
    ("left_hip_z", 0.125, 0.0, 0.0),
    ("right_knee", -0.125, 0.0, 0.0),
    ("left_knee", -0.125, 0.0, 0.0),
    ("chest_z", 0.175, 0.0, 0.0),  # bow
    ("neck_z", 0.075, 0.5, 0.0),
    ("right_shoulder_z", 1.0, 0.25, 1.0),  # both arms forward and overhead (up to 2 rad)
    ("left_shoulder_z", 1.0, 0.25, 1.0),
    ("right_shoulder_x", -0.3, 0.0, -0.3),
    ("left_shoulder_x", 0.3, 0.0, 0.3),
    ("right_elbow", 0.5, 0.5, 0.6),
    ("left_elbow", 0.5, 0.5, 0.6),
)


def pd_targets(model: CharacterModel, t: jax.Array) -> jax.Array:
    """PD targets (radians, actuator order) of the schedule at time ``t``; the kneel for unlisted hinges."""
    targets = jnp.zeros(model.action_size)
    for hinge, angle in KNEEL.items():
        targets = targets.at[model.hinge_names.index(hinge)].set(angle)
    for hinge, amplitude, phase, offset in SCHEDULE:
        # offset - amplitude * cos: a smooth periodic motion around the kneel.
        value = offset - amplitude * jnp.cos(2 * math.pi * (t / PERIOD + phase))
        targets = targets.at[model.hinge_names.index(hinge)].add(value)
    return targets


def simulate(model: CharacterModel) -> tuple[np.ndarray, np.ndarray]:
    """Generalized coordinates ``q`` at 30 Hz over the recorded period (one extra frame closes the cycle), and the
    root's up axis (world frame) at every control step of the whole simulation."""
    # Unit inertia: the environment's default, which the committed clip was generated with.
    sys = with_inertia(model.sys.tree_replace({"opt.timestep": CONTROL_DT / SUBSTEPS}), "unit")

    def physics(state, target):
        return jax.lax.scan(lambda s, _: (spring_pipeline.step(sys, s, target), None), state, None, SUBSTEPS)[0]

    steps_per_period = int(round(PERIOD / CONTROL_DT))
    hold = steps_per_period // 2  # the schedule's start pose is held for a moment while the character settles
    start = np.asarray(pd_targets(model, jnp.zeros(())))
    q0 = np.zeros(model.sys.q_size())
    q0[model.hinge_q_index] = start
    thigh = -float(model.sys.link.transform.pos[model.sys.link_names.index("right_knee"), 2])  # hip to knee
    q0[2] = KNEE_HEIGHT + thigh * math.cos(THIGH_FORWARD) + DROP
    q0[3] = 1.0

    def control(state, k):
        t = jnp.maximum(k - hold, 0) * CONTROL_DT
        state = physics(state, pd_targets(model, t))
        return state, (state.q, brax_math.rotate(jnp.array([0.0, 0.0, 1.0]), state.q[3:7]))

    total = hold + (SETTLE_PERIODS + 1) * steps_per_period + 1
    init = spring_pipeline.init(sys, jnp.asarray(q0), jnp.zeros(sys.qd_size()))
    _, (qs, up) = jax.jit(lambda s: jax.lax.scan(control, s, jnp.arange(total)))(init)
    return np.asarray(qs[-(steps_per_period + 1) :], dtype=np.float64), np.asarray(up)


def _zup_to_yup(vec: np.ndarray) -> np.ndarray:
    """Inverse of :func:`envs.character.yup_to_zup`: (x, y, z) -> (x, z, -y)."""
    return np.stack([vec[..., 0], vec[..., 2], -vec[..., 1]], axis=-1)


def to_deepmimic_frames(model: CharacterModel, q: np.ndarray) -> list[list[float]]:
    """Writes generalized coordinates as DeepMimic motion frames (the loader's inverse)."""
    index = {name: int(i) for name, i in zip(model.hinge_names, model.hinge_q_index)}
    root_quat = q[:, 3:7].copy()
    root_quat[:, 1:] = _zup_to_yup(root_quat[:, 1:])
    columns = [np.full((len(q), 1), CONTROL_DT), _zup_to_yup(q[:, 0:3]), root_quat]
    for name, jtype in model.motion_joints:
        if jtype == "spherical":
            angles = np.stack([q[:, index[f"{name}_{axis}"]] for axis in SPHERICAL_AXES], axis=-1)
            quat = Rotation.from_euler("".join(SPHERICAL_AXES).upper(), angles).as_quat()[:, [3, 0, 1, 2]]
            columns.append(quat)
        elif jtype == "revolute":
            columns.append(q[:, [index[name]]])
    return np.round(np.concatenate(columns, axis=-1), 7).tolist()


def generate(character: str = "humanoid3d") -> dict:
    model = load_character_model(character)
    q, up = simulate(model)
    if up[:, 2].min() < 0.9:
        raise RuntimeError("the synthetic motion tipped over; the schedule is not feasible for this character")
    # A looping clip: its last frame must return to its first, or every episode from frame 0 starts with a jump.
    if np.abs(q[-1, 2:] - q[0, 2:]).max() > 0.01:
        raise RuntimeError("the synthetic motion is not periodic; settle it for more periods")
    return {"Loop": "wrap", "Frames": to_deepmimic_frames(model, q)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Generate the embedded synthetic reference clip.")
    parser.add_argument("--out", required=True)
    parser.add_argument("--character", default="humanoid3d")
    args = parser.parse_args(argv)
    motion = generate(args.character)
    Path(args.out).write_text(json.dumps(motion, indent=None, separators=(",", ":")).replace("],[", "],\n[") + "\n")
    print(f"wrote {args.out}: {len(motion['Frames'])} frames at {1 / CONTROL_DT:.0f} Hz")


if __name__ == "__main__":
    main()
