"""The embedded default clip: a motion the simulated character itself performed, so it is trackable by construction.

The character starts standing and is driven by a smooth periodic PD target schedule (a squat with arm and torso
sway) plus an ankle balance feedback, in the ``spring`` backend; after the motion settles into its periodic steady state, one period is
recorded at 30 Hz and written as a DeepMimic motion file (y-up, ``Loop: wrap``). Every frame is a state the
simulator reached under PD control, so a method that cannot track it is broken, not the clip.

Regenerate the committed asset with ``python -m envs.synthetic --out envs/assets/synthetic_humanoid3d.txt``.
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
from envs.model import CharacterModel, load_character_model, with_inertia
from envs.motion import CONTROL_DT

PERIOD = 2.0  # seconds per cycle of the target schedule
SETTLE_PERIODS = 3  # periods simulated before the recorded one
SUBSTEPS = 20
BALANCE_GAIN = 3.0  # rad of ankle target per unit of root lean
BALANCE_DAMPING = 0.2  # seconds: lean rate feedback
STAND_HEIGHT = 0.885  # root height with straight legs and flat feet on the floor (+ 4 mm clearance)

# (hinge, amplitude rad, phase in periods, offset rad): a squat needs hips, knees and ankles in step so the
# centre of mass stays over the feet; arms and torso sway on top.
SCHEDULE = (
    ("right_hip_z", 0.35, 0.0, 0.35),
    ("left_hip_z", 0.35, 0.0, 0.35),
    ("right_knee", -0.7, 0.0, -0.7),
    ("left_knee", -0.7, 0.0, -0.7),
    ("right_ankle_z", 0.35, 0.0, 0.35),
    ("left_ankle_z", 0.35, 0.0, 0.35),
    ("chest_z", 0.15, 0.0, 0.15),
    ("chest_y", 0.2, 0.25, 0.0),
    ("neck_x", 0.15, 0.5, 0.0),
    ("right_shoulder_z", 0.6, 0.0, 0.4),
    ("left_shoulder_z", 0.6, 0.5, 0.4),
    ("right_shoulder_x", -0.3, 0.25, -0.3),
    ("left_shoulder_x", 0.3, 0.25, 0.3),
    ("right_elbow", 0.5, 0.0, 0.6),
    ("left_elbow", 0.5, 0.5, 0.6),
)


def pd_targets(model: CharacterModel, t: jax.Array) -> jax.Array:
    """PD targets (radians, actuator order) of the schedule at time ``t``; zero for unlisted hinges."""
    targets = jnp.zeros(model.action_size)
    for hinge, amplitude, phase, offset in SCHEDULE:
        # offset - amplitude * cos: starts at the standing pose (value offset - amplitude) and moves smoothly.
        value = offset - amplitude * jnp.cos(2 * math.pi * (t / PERIOD + phase))
        targets = targets.at[model.hinge_names.index(hinge)].set(value)
    return targets


def simulate(model: CharacterModel) -> np.ndarray:
    """Generalized coordinates ``q`` at 30 Hz over the recorded period (one extra frame closes the cycle)."""
    # Unit inertia: the environment's default, which the committed clip was generated with.
    sys = with_inertia(model.sys.tree_replace({"opt.timestep": CONTROL_DT / SUBSTEPS}), "unit")

    def physics(state, target):
        return jax.lax.scan(lambda s, _: (spring_pipeline.step(sys, s, target), None), state, None, SUBSTEPS)[0]
    steps_per_period = int(round(PERIOD / CONTROL_DT))
    q0 = jnp.zeros(model.sys.q_size()).at[2].set(STAND_HEIGHT).at[3].set(1.0)
    # Hold the schedule's start pose for a moment so the character settles onto its feet.
    standing = pd_targets(model, jnp.zeros(()))

    ankles = jnp.array([model.hinge_names.index(f"{side}_ankle_{axis}") for side in ("right", "left") for axis in "zx"])

    def control(state, k):
        t = jnp.maximum(k - steps_per_period // 2, 0) * CONTROL_DT
        target = jnp.where(k < steps_per_period // 2, standing, pd_targets(model, t))
        # Ankle strategy: tilt the shanks against the root's lean (its up axis' horizontal part), which keeps the
        # centre of mass over the feet; a PD-only stance with DeepMimic's ankle gains tips over at the first push.
        up = brax_math.rotate(jnp.array([0.0, 0.0, 1.0]), state.q[3:7])
        up_rate = jnp.cross(state.xd.ang[0], up)
        lean = jnp.array([up[0], up[1], up[0], up[1]]) + BALANCE_DAMPING * jnp.array([up_rate[0], up_rate[1]] * 2)
        target = target.at[ankles].add(-BALANCE_GAIN * lean)
        state = physics(state, target)
        return state, state.q

    total = steps_per_period // 2 + (SETTLE_PERIODS + 1) * steps_per_period + 1
    _, qs = jax.jit(lambda s: jax.lax.scan(control, s, jnp.arange(total)))(spring_pipeline.init(sys, q0, jnp.zeros(sys.qd_size())))
    return np.asarray(qs[-(steps_per_period + 1) :], dtype=np.float64)


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
    q = simulate(model)
    if q[:, 2].min() < 0.5:
        raise RuntimeError("the synthetic motion fell over; the schedule is not feasible for this character")
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
