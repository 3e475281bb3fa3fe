"""DiffMimic's converted reference states (``data/demo_*/*.npy`` in ``jiawei-ren/diffmimic``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from envs.formats.checks import check_finite, check_frames, check_unit, numeric
from envs.motion import MotionError

DIFFMIMIC_FPS = 30.0
"""The files hold no frame rate. DiffMimic plays one row per control step (``dt: 0.0333`` in its system configs); its
AMASS and AIST++ converters resample to that step, and its sword-and-shield converter keeps ASE's ~30 fps."""

STATE_WIDTH = 13  # per body: position 3, quaternion 4, velocity 3, angular velocity 3


@dataclasses.dataclass(frozen=True)
class DiffMimicStates:
    """DiffMimic's reference states per body (floor dropped), world frame, z up, float64.

    Bodies (``B``) are those of the DiffMimic system config the file was made for, in its order (SMPL: 18,
    SWORDSHIELD: 14, HUMANOID: 13); the file does not name them.
    """

    name: str
    source: str
    fps: float  # DIFFMIMIC_FPS: an assumption, the files do not store it
    pos: np.ndarray  # [F, B, 3] metres
    rot: np.ndarray  # [F, B, 4] w x y z (Brax's order), body frame -> world
    vel: np.ndarray  # [F, B, 3] m/s
    ang: np.ndarray  # [F, B, 3] rad/s, world frame

    @property
    def num_frames(self) -> int:
        return int(self.pos.shape[0])

    @property
    def num_bodies(self) -> int:
        return int(self.pos.shape[1])


def load_diffmimic_states(path, expected_bodies: int | None = None, character: str | None = None) -> DiffMimicStates:
    """Reads a DiffMimic reference-state file (``np.save`` of a float array, loaded with ``allow_pickle=False``).

    Layout (DiffMimic ``utils/io.py`` ``serialize_qp``): ``[frames, bodies x 13]``, field-major: all bodies' positions
    (``3B``), then all quaternions w x y z (``4B``), then all velocities (``3B``), then all angular velocities
    (``3B``). Bodies follow the system config, the static floor LAST (DiffMimic's losses drop it with ``[:-1]``);
    the reader checks that the last body is that floor (at the origin, identity rotation, at rest) and drops it.
    ``expected_bodies`` counts the character's bodies without the floor; a mismatch is an error naming both counts
    (and ``character``, the character's name, when given).
    """
    path = Path(path)
    try:
        table = np.load(path, allow_pickle=False)
    except OSError as err:
        raise MotionError(f"{path}: cannot read state file ({err.strerror or err})") from None
    except (ValueError, EOFError) as err:
        if "allow_pickle" in str(err):  # numpy's refusal to unpickle an object array
            raise MotionError(
                f"{path}: holds pickled objects, not a DiffMimic state file (a float array); a poselib motion is "
                "read with load_poselib_motion"
            ) from None
        raise MotionError(f"{path}: not a DiffMimic state file (a float .npy array): {err}") from None
    if not isinstance(table, np.ndarray):
        raise MotionError(f"{path}: not a DiffMimic state file (a float .npy array), found an .npz archive")
    numeric(path, "the state table", table)
    if table.ndim != 2:
        raise MotionError(f"{path}: state table has shape {list(table.shape)}, expected [frames, bodies x 13]")
    frames, width = table.shape
    if width % STATE_WIDTH or width < 2 * STATE_WIDTH:
        raise MotionError(
            f"{path}: a state row holds 13 values per body (floor included, at least 2 bodies), "
            f"but this file's rows hold {width}"
        )
    bodies = width // STATE_WIDTH - 1
    if expected_bodies is not None and bodies != expected_bodies:
        whose = f"character '{character}'" if character else "the character"
        raise MotionError(
            f"{path}: holds {bodies} bodies (plus the floor) but {whose} has {expected_bodies}: "
            "the clip was made for another character"
        )
    check_frames(path, frames)
    table = table.astype(np.float64)
    total = bodies + 1
    # Field-major blocks: positions, quaternions, velocities, angular velocities, each over all bodies.
    blocks = np.split(table, np.cumsum([3, 4, 3]) * total, axis=1)
    pos, rot, vel, ang = (block.reshape(frames, total, -1) for block in blocks)
    for what, array in (("position", pos), ("rotation", rot), ("velocity", vel), ("angular velocity", ang)):
        check_finite(path, what, array)
    check_unit(path, "rotation of body", rot)
    floor_rest = np.concatenate([pos[:, -1], rot[:, -1] - [1.0, 0.0, 0.0, 0.0], vel[:, -1], ang[:, -1]], axis=-1)
    if np.abs(floor_rest).max() > 1e-6:
        raise MotionError(
            f"{path}: its last body is not DiffMimic's static floor (at the origin, identity rotation, at rest): "
            "not a DiffMimic state file, or a different layout"
        )
    return DiffMimicStates(
        name=path.stem,
        source=str(path),
        fps=DIFFMIMIC_FPS,
        pos=pos[:, :-1],
        rot=rot[:, :-1],
        vel=vel[:, :-1],
        ang=ang[:, :-1],
    )
