"""DeepMimic motion clips -> reference states at the control rate.

Pipeline: parse and validate the file (:func:`load_motion_file`), resample it to the control rate over as many
frames as needed (positions linearly, rotations by slerp; cyclic clips repeat with the root's horizontal
displacement accumulated per cycle), turn each frame into generalized coordinates of the simulated character
(spherical joints -> three hinge angles), differentiate for velocities, and run ``brax.kinematics.forward`` to get
per-body world states (:func:`build_reference`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from brax import base, kinematics
from scipy.spatial.transform import Rotation, Slerp

from envs.character import SPHERICAL_AXES, yup_to_zup
from envs.model import BodyStates, CharacterModel, body_states

MAX_HINGE_SPEED = 20.0  # rad/s
CONTROL_DT = 1.0 / 30.0  # DiffMimic and DeepMimic both control at 30 Hz
_EULER_ORDER = "".join(SPHERICAL_AXES).upper()  # scipy: upper case = intrinsic, matching Brax's hinge stacking


class MotionError(ValueError):
    """A motion file that cannot be used; the message names the file and the problem."""


@dataclasses.dataclass(frozen=True)
class MotionClip:
    """A DeepMimic clip as read from its file, converted to z-up; rotations are scipy Rotations."""

    name: str
    source: str
    loop: bool
    times: np.ndarray  # [N] seconds from the first frame
    root_pos: np.ndarray  # [N, 3] z-up metres
    root_rot: Rotation  # N rotations, z-up
    joint_rots: dict[str, Rotation]  # spherical joints: N local rotations in DeepMimic's own (y-up) axes
    joint_angles: dict[str, np.ndarray]  # revolute joints: [N] radians

    @property
    def duration(self) -> float:
        return float(self.times[-1])


def _quat_wxyz_to_rotation(quat: np.ndarray, path: str, what: str) -> Rotation:
    norms = np.linalg.norm(quat, axis=-1)
    bad = np.flatnonzero(norms < 1e-6)
    if bad.size:
        raise MotionError(f"{path}: frame {bad[0]} has a zero quaternion for {what}")
    return Rotation.from_quat(quat[:, [1, 2, 3, 0]] / norms[:, None])


def load_motion_file(path, model: CharacterModel) -> MotionClip:
    """Reads a DeepMimic motion file for ``model``, whose joint list fixes the frame layout after the root:
    spherical -> quaternion (4, w x y z), revolute -> angle (1), fixed -> nothing.
    """
    joints = model.motion_joints
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise MotionError(f"{path}: cannot read motion file ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise MotionError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict) or "Frames" not in data:
        raise MotionError(f"{path}: not a DeepMimic motion file (no 'Frames' list)")
    loop = data.get("Loop", "none")
    if loop not in ("wrap", "none"):
        raise MotionError(f"{path}: 'Loop' must be 'wrap' or 'none', got {loop!r}")
    frames = data["Frames"]
    if not isinstance(frames, list) or len(frames) < 2:
        raise MotionError(f"{path}: needs at least 2 frames, found {len(frames) if isinstance(frames, list) else 0}")
    widths = {"spherical": 4, "revolute": 1, "fixed": 0}
    expected = 8 + sum(widths[jtype] for _, jtype in joints)
    for i, frame in enumerate(frames):
        if not isinstance(frame, list) or len(frame) != expected:
            got = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise MotionError(
                f"{path}: frame {i} has {got} values but character '{model.name}' needs {expected} "
                "(dt, root position 3, root rotation 4, then per joint: spherical 4, revolute 1): "
                "the clip's joint layout does not match the character"
            )
    try:
        table = np.asarray(frames, dtype=np.float64)
    except (TypeError, ValueError):
        raise MotionError(f"{path}: frames contain non-numeric values") from None
    if not np.all(np.isfinite(table)):
        row, col = np.argwhere(~np.isfinite(table))[0]
        raise MotionError(f"{path}: frame {row} value {col} is not finite ({table[row, col]})")
    dt = table[:-1, 0]
    if np.any(dt <= 0):
        raise MotionError(f"{path}: frame {int(np.argmax(dt <= 0))} has a non-positive duration {dt[dt <= 0][0]}")

    # DeepMimic stores root position and rotation in a y-up world; conjugating the rotation by the axis change
    # expresses the same rotation in the z-up world (quaternion vector part maps like a position).
    root_quat = table[:, 4:8].copy()
    root_quat[:, 1:] = yup_to_zup(root_quat[:, 1:])
    column = 8
    joint_rots, joint_angles = {}, {}
    for name, jtype in joints:
        if jtype == "spherical":
            joint_rots[name] = _quat_wxyz_to_rotation(table[:, column : column + 4], str(path), f"joint '{name}'")
        elif jtype == "revolute":
            joint_angles[name] = table[:, column]
        column += widths[jtype]
    return MotionClip(
        name=path.stem.removeprefix("humanoid3d_"),
        source=str(path),
        loop=loop == "wrap",
        times=np.concatenate([[0.0], np.cumsum(dt)]),
        root_pos=yup_to_zup(table[:, 1:4]),
        root_rot=_quat_wxyz_to_rotation(root_quat, str(path), "the root"),
        joint_rots=joint_rots,
        joint_angles=joint_angles,
    )


def _clip_time(clip: MotionClip, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maps absolute times to (time within the clip, completed cycles)."""
    if clip.loop:
        cycles = np.floor(t / clip.duration)
        local = np.clip(t - cycles * clip.duration, 0.0, clip.duration)
        return local, cycles
    return np.clip(t, 0.0, clip.duration), np.zeros_like(t)


def wrap_angle(angle: np.ndarray) -> np.ndarray:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def spherical_hinge_angles(rotations: Rotation, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Hinge angles (in ``SPHERICAL_AXES`` order) of each rotation, within the joint's range where possible.

    Every rotation has two Euler solutions, (a, b, c) and (a + pi, pi - b, c + pi). Each frame takes the one that
    violates the hinge ranges ``[low, high]`` least, and on a tie the one closer to the previous frame, so a clip
    that stays clear of gimbal lock gets smooth angles and one that passes through it still gets reachable targets.
    """
    principal = wrap_angle(rotations.as_euler(_EULER_ORDER))
    flipped = principal + np.array([math.pi, 0.0, math.pi])
    flipped[:, 1] = math.pi - principal[:, 1]
    flipped = wrap_angle(flipped)

    def violation(angles):
        return np.sum(np.maximum(low - angles, 0.0) + np.maximum(angles - high, 0.0), axis=-1)

    angles = principal.copy()
    for i in range(len(angles)):
        cost = [violation(c[i]) for c in (principal, flipped)]
        if i > 0:
            cost = [v * 10.0 + np.sum(np.abs(wrap_angle(c[i] - angles[i - 1]))) for v, c in zip(cost, (principal, flipped))]
        if cost[1] < cost[0]:
            angles[i] = flipped[i]
    return angles


def generalized_coordinates(clip: MotionClip, model: CharacterModel, times: np.ndarray) -> np.ndarray:
    """Samples ``clip`` at ``times`` (seconds) as generalized coordinates ``q`` ``[T, q_size]``."""
    local, cycles = _clip_time(clip, times)
    local = np.clip(local, clip.times[0], clip.times[-1])
    q = np.zeros((len(times), model.sys.q_size()))
    q[:, 0:3] = np.stack([np.interp(local, clip.times, clip.root_pos[:, k]) for k in range(3)], axis=-1)
    displacement = clip.root_pos[-1] - clip.root_pos[0]
    q[:, 0:2] += cycles[:, None] * displacement[None, :2]  # horizontal only: height does not drift per cycle
    q[:, 3:7] = Slerp(clip.times, clip.root_rot)(local).as_quat()[:, [3, 0, 1, 2]]
    index = {name: i for i, name in enumerate(model.hinge_names)}
    # Of the two Euler solutions, prefer the one inside DeepMimic's per-axis limits (both lie in the simulated
    # +-pi range); revolute angles are kept inside the simulated joint range, which every shipped clip respects.
    low, high = model.hinge_limits[:, 0], model.hinge_limits[:, 1]
    for name, rotations in clip.joint_rots.items():
        hinges = [index[f"{name}_{axis}"] for axis in SPHERICAL_AXES]
        angles = spherical_hinge_angles(Slerp(clip.times, rotations)(local), low[hinges], high[hinges])
        q[:, model.hinge_q_index[hinges]] = angles
    for name, angle in clip.joint_angles.items():
        low_q, high_q = model.hinge_range[index[name]]
        q[:, model.hinge_q_index[index[name]]] = np.clip(np.interp(local, clip.times, angle), low_q, high_q)
    return q


def generalized_velocities(q: np.ndarray, dt: float) -> np.ndarray:
    """Central differences of ``q`` ``[T + 2, q_size]`` -> ``qd`` ``[T, qd_size]`` for the middle frames.

    Brax's free joint velocity is (linear velocity in the world frame, angular velocity in the body frame).
    """
    before, after, middle = q[:-2], q[2:], q[1:-1]
    linear = (after[:, 0:3] - before[:, 0:3]) / (2 * dt)
    rot_before = Rotation.from_quat(before[:, [4, 5, 6, 3]])
    rot_after = Rotation.from_quat(after[:, [4, 5, 6, 3]])
    angular = (rot_before.inv() * rot_after).as_rotvec() / (2 * dt)  # body frame, midpoint approximation
    middle_rot = Rotation.from_quat(middle[:, [4, 5, 6, 3]])
    angular = (middle_rot.inv() * rot_before).apply(angular)
    hinges = wrap_angle(after[:, 7:] - before[:, 7:]) / (2 * dt)
    # Passing through gimbal lock switches Euler branch, which shows up as a one-frame spike; no joint of a
    # human clip turns faster than this, so treat such a spike as a branch change with no real velocity.
    hinges = np.where(np.abs(hinges) > MAX_HINGE_SPEED, 0.0, hinges)
    return np.concatenate([linear, angular, hinges], axis=-1)


@dataclasses.dataclass(frozen=True)
class ReferenceMotion:
    """A clip resampled to the control rate: generalized and world states for ``num_frames`` frames."""

    name: str
    dt: float
    loop: bool
    cycle_frames: int  # frames in one cycle of the clip at this rate, rounded (the "cycle" evaluation horizon)
    q: jax.Array  # [T, q_size]
    qd: jax.Array  # [T, qd_size] time derivative of q (MuJoCo's convention: what mjx expects)
    qd_brax: jax.Array  # [T, qd_size] velocities that Brax's own q -> link map turns into link_xd (see below)
    link_x: base.Transform  # [T, L] Brax link frames, world
    link_xd: base.Motion  # [T, L] Brax link velocities, world
    bodies: BodyStates  # [T, B, ...] DeepMimic bodies, world
    body_names: tuple[str, ...]
    phase: jax.Array  # [T] each frame's phase from the clip's exact duration (cycle_phase): [0, 1), or 0 -> 1 if it does not loop
    cycle_start: jax.Array  # [T] bool: the frame is the first of a new cycle (frame 0 too)

    @property
    def num_frames(self) -> int:
        return int(self.q.shape[0])


def _finite_difference_motion(pos: np.ndarray, rot_wxyz: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """World linear and angular velocity of frames ``[T + 2, L]`` by central differences -> ``[T, L]``."""
    vel = (pos[2:] - pos[:-2]) / (2 * dt)
    flat = rot_wxyz.reshape(-1, 4)[:, [1, 2, 3, 0]]
    rot = Rotation.from_quat(flat).as_quat().reshape(rot_wxyz.shape)  # normalised, x y z w
    before = Rotation.from_quat(rot[:-2].reshape(-1, 4))
    after = Rotation.from_quat(rot[2:].reshape(-1, 4))
    ang = (after * before.inv()).as_rotvec().reshape(vel.shape) / (2 * dt)
    return vel, ang


@jax.jit
def _fit_brax_velocities_jit(sys, q: jax.Array, link_xd: base.Motion) -> jax.Array:
    def fit(q_t, vel_t, ang_t):
        def link_motion(qd):
            _, xd = kinematics.forward(sys, q_t, qd)
            return jnp.concatenate([xd.vel, xd.ang], axis=-1).ravel()

        jacobian = jax.jacfwd(link_motion)(jnp.zeros(sys.qd_size()))  # link motion is linear in qd
        target = jnp.concatenate([vel_t, ang_t], axis=-1).ravel()
        return jnp.linalg.lstsq(jacobian, target)[0]

    return jax.vmap(fit)(q, link_xd.vel, link_xd.ang)


def _fit_brax_velocities(model: CharacterModel, q: jax.Array, link_xd: base.Motion) -> jax.Array:
    """Least-squares ``qd`` whose image under ``brax.kinematics.forward`` best matches the true link velocities.

    Brax's spring, positional and generalized pipelines start from ``forward(q, qd)``, whose velocity map is not
    the time derivative for stacked hinges; feeding them this ``qd`` starts the simulation with the reference's
    real body velocities (to ~0.8 m/s worst case on cartwheel, against ~9 rad/s with the plain derivative).
    """
    return _fit_brax_velocities_jit(model.sys, q, link_xd)


def cycle_frames(clip: MotionClip, dt: float = CONTROL_DT) -> int:
    """Control steps in one cycle of ``clip`` (at least one), rounded: backflip's 1.75 s are 52.5 steps -> 52."""
    return max(1, int(round(clip.duration / dt)))


# The largest float32 below 1: a phase is in [0, 1), also after the cast to float32.
_BELOW_ONE = float(np.nextafter(np.float32(1.0), np.float32(0.0)))


def cycle_phase(duration: float, times: np.ndarray, loop: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Phase and first-frame-of-a-cycle flags of a clip of ``duration`` seconds at ``times``, counted as the reference
    is sampled (``_clip_time``): DeepMimic's phase is time / cycle period (``CtController::GetPhase``), exact where a
    cycle is not a whole number of control steps. A looping clip's phase is in [0, 1); one that does not loop runs
    from 0 to 1 at its end and stays at 1 while its last frame is held (only frame 0 starts a cycle)."""
    if not loop:
        return np.minimum(times / duration, 1.0), np.arange(len(times)) == 0
    cycles = np.floor(times / duration)
    phase = np.minimum(np.mod((times - cycles * duration) / duration, 1.0), _BELOW_ONE)
    starts = np.concatenate([[True], cycles[1:] != cycles[:-1]])
    return phase, starts


def build_reference(
    clip: MotionClip, model: CharacterModel, num_frames: int | None = None, dt: float = CONTROL_DT
) -> ReferenceMotion:
    """Resamples ``clip`` to ``dt`` over ``num_frames`` frames (default: one cycle plus one frame)."""
    cycle = cycle_frames(clip, dt)
    if num_frames is None:
        num_frames = cycle + 1
    if num_frames < 1:
        raise MotionError(f"{clip.source}: num_frames must be positive, got {num_frames}")
    times = np.arange(-1, num_frames + 1) * dt
    q_padded = generalized_coordinates(clip, model, times)
    phase = cycle_phase(clip.duration, times[1:-1], clip.loop)
    return reference_from_coordinates(clip.name, q_padded, model, dt, loop=clip.loop, cycle=cycle, phase=phase)


def reference_from_coordinates(
    name: str, q_padded: np.ndarray, model: CharacterModel, dt: float, loop: bool, cycle: int,
    phase: tuple[np.ndarray, np.ndarray] | None = None,
) -> ReferenceMotion:
    """The reference of generalized coordinates ``q_padded`` ``[T + 2, q_size]`` at steps of ``dt``: frames 1..T,
    with one more frame before and after for the central differences. ``phase``: each frame's phase and
    cycle-start flag (:func:`cycle_phase`); None: those of a clip of ``cycle`` control steps (frames one step apart).

    Positions and rotations come from ``brax.kinematics.forward``. Velocities of links come from central
    differences of those world frames instead: Brax's ``qd -> xd`` map is inexact for stacked hinges (its own TODO;
    measured here up to ~9 rad/s off on cartwheel), and differences of world frames do not see Euler branch changes.
    """
    qd = generalized_velocities(q_padded, dt)
    q_all = jnp.asarray(q_padded, jnp.float32)
    x_all, _ = jax.jit(jax.vmap(lambda a: kinematics.forward(model.sys, a, jnp.zeros(model.sys.qd_size()))))(q_all)
    vel, ang = _finite_difference_motion(np.asarray(x_all.pos, np.float64), np.asarray(x_all.rot, np.float64), dt)
    link_x = jax.tree.map(lambda a: a[1:-1], x_all)
    link_xd = base.Motion(vel=jnp.asarray(vel, jnp.float32), ang=jnp.asarray(ang, jnp.float32))
    qd_brax = _fit_brax_velocities(model, q_all[1:-1], link_xd)
    bodies = jax.vmap(lambda xt, xdt: body_states(model, xt, xdt))(link_x, link_xd)
    if phase is None:
        phase = cycle_phase(float(cycle), np.arange(q_padded.shape[0] - 2, dtype=np.float64), loop)
    phase, cycle_start = phase
    return ReferenceMotion(
        name=name,
        dt=dt,
        loop=loop,
        cycle_frames=cycle,
        q=q_all[1:-1],
        qd=jnp.asarray(qd, jnp.float32),
        qd_brax=qd_brax,
        link_x=link_x,
        link_xd=link_xd,
        bodies=bodies,
        body_names=model.body_names,
        phase=jnp.asarray(phase, jnp.float32),
        cycle_start=jnp.asarray(cycle_start, bool),
    )
