"""AMASS pose files (``.npz``: SMPL, SMPL-H or SMPL-X axis-angle poses and translation)."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np

from envs.formats.checks import check_finite, check_fps, check_frames, check_shape, numeric
from envs.motion import MotionError

SMPL_BODY_JOINTS = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
    "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip
"""SMPL's first 22 joints, shared in this order by SMPL (24 joints), SMPL-H (52) and SMPL-X (55)."""

# Width of AMASS's ``poses`` (3 per joint) -> body model. What follows the 22 body joints (SMPL's two hand joints,
# SMPL-H's fingers, SMPL-X's jaw, eyes and fingers) has no counterpart on the simulated characters.
_AMASS_MODELS = {72: "SMPL", 156: "SMPL-H", 165: "SMPL-X"}
_AMASS_FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")  # SMPL-H releases; SMPL-X ("stage ii") releases


@dataclasses.dataclass(frozen=True)
class AmassMotion:
    """An AMASS clip's body pose and translation as stored (float64); hand, jaw and eye joints dropped.

    Axis-angle vectors are radians: joint 0 (pelvis) is the body's global orientation, every other joint is
    relative to its SMPL parent. ``trans`` is the body model's global translation in AMASS's world frame (z up,
    metres): the pelvis sits at ``trans`` plus the shape's rest pelvis offset (a few centimetres, from ``betas``).
    """

    name: str
    source: str
    model: str  # "SMPL", "SMPL-H" or "SMPL-X", from the width of ``poses``
    fps: float
    joint_names: tuple[str, ...]  # SMPL_BODY_JOINTS
    body_pose: np.ndarray  # [F, 22, 3] axis-angle
    trans: np.ndarray  # [F, 3]
    betas: np.ndarray | None  # [K] body shape coefficients, when stored
    gender: str | None

    @property
    def num_frames(self) -> int:
        return int(self.body_pose.shape[0])


def _amass_array(path: Path, archive, key: str) -> np.ndarray:
    try:
        return archive[key]
    except ValueError as err:
        if "allow_pickle" in str(err):  # numpy's refusal to unpickle an object array
            raise MotionError(f"{path}: '{key}' is a pickled object array; AMASS arrays are numeric or text") from None
        raise MotionError(f"{path}: cannot read '{key}' ({err})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise MotionError(f"{path}: cannot read '{key}' ({err})") from None


def load_amass_npz(path) -> AmassMotion:
    """Reads an AMASS pose file (``.npz``, loaded with ``allow_pickle=False``).

    Keys: ``poses`` ``[F, 3J]`` axis-angle per joint in SMPL order (J = 24 SMPL, 52 SMPL-H, 55 SMPL-X), ``trans``
    ``[F, 3]``, the frame rate as ``mocap_framerate`` (SMPL-H) or ``mocap_frame_rate`` (SMPL-X), and optionally
    ``betas`` and ``gender``; other keys (``dmpls``, SMPL-X's per-part poses) are not read. The 22 body joints are
    kept, the hands (and SMPL-X's jaw and eyes) are dropped. Conventions: see :class:`AmassMotion`.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except OSError as err:
        raise MotionError(f"{path}: cannot read AMASS file ({err.strerror or err})") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as err:
        raise MotionError(f"{path}: not an AMASS .npz archive ({err})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise MotionError(f"{path}: not an AMASS .npz archive (a single .npy array)")
    with archive:
        keys = set(archive.files)
        fps_key = next((key for key in _AMASS_FPS_KEYS if key in keys), None)
        missing = [key for key in ("poses", "trans") if key not in keys] + ([] if fps_key else ["mocap_framerate"])
        if missing:
            hint = " (an AMASS shape file holds only a body shape, no motion)" if keys <= {"betas", "gender"} else ""
            raise MotionError(f"{path}: AMASS file misses {', '.join(repr(k) for k in missing)}{hint}")
        poses = numeric(path, "'poses'", _amass_array(path, archive, "poses"))
        trans = numeric(path, "'trans'", _amass_array(path, archive, "trans"))
        fps = check_fps(path, _amass_array(path, archive, fps_key))
        betas = _amass_array(path, archive, "betas") if "betas" in keys else None
        gender = _amass_array(path, archive, "gender") if "gender" in keys else None
    if poses.ndim != 2 or poses.shape[1] not in _AMASS_MODELS:
        widths = ", ".join(f"{width} ({model})" for width, model in _AMASS_MODELS.items())
        raise MotionError(f"{path}: 'poses' has shape {list(poses.shape)}, expected [frames, {widths}]")
    frames = poses.shape[0]
    check_frames(path, frames)
    check_shape(path, "'trans'", trans, (frames, 3))
    body_pose = poses[:, : 3 * len(SMPL_BODY_JOINTS)].reshape(frames, len(SMPL_BODY_JOINTS), 3).astype(np.float64)
    check_finite(path, "'poses'", body_pose)
    check_finite(path, "'trans'", trans)
    if betas is not None:
        betas = numeric(path, "'betas'", betas).astype(np.float64).ravel()
        if not np.all(np.isfinite(betas)):
            raise MotionError(f"{path}: 'betas' is not finite")
    if gender is not None:
        if gender.shape != () or gender.dtype.kind not in "US":
            raise MotionError(f"{path}: 'gender' must be one string, got {gender.dtype} of shape {list(gender.shape)}")
        gender = gender.item()
        gender = gender.decode("utf-8", "replace") if isinstance(gender, bytes) else str(gender)
    return AmassMotion(
        name=path.stem,
        source=str(path),
        model=_AMASS_MODELS[poses.shape[1]],
        fps=fps,
        joint_names=SMPL_BODY_JOINTS,
        body_pose=body_pose,
        trans=trans.astype(np.float64),
        betas=betas,
        gender=gender,
    )
