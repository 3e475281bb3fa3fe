"""Checks shared by the clip-format readers; each failure is one MotionError naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from envs.motion import MotionError

UNIT_TOLERANCE = 1e-3  # |norm - 1| allowed for a stored quaternion (shipped files: below 1e-5)


def numeric(path: Path, what: str, value) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise MotionError(f"{path}: {what} must be a numeric array, got {kind}")
    return value


def check_shape(path: Path, what: str, array: np.ndarray, shape: tuple) -> None:
    """``shape`` holds ints and None (any size)."""
    if array.ndim != len(shape) or any(want is not None and got != want for got, want in zip(array.shape, shape)):
        wanted = "[" + ", ".join("*" if size is None else str(size) for size in shape) + "]"
        raise MotionError(f"{path}: {what} has shape {list(array.shape)}, expected {wanted}")


def check_finite(path: Path, what: str, array: np.ndarray) -> None:
    """Frames are the first axis; the message names the first frame that holds a NaN or infinity."""
    bad = ~np.isfinite(array)
    if bad.any():
        frame = int(np.argwhere(bad)[0][0])
        raise MotionError(f"{path}: {what} of frame {frame} is not finite")


def check_unit(path: Path, what: str, quaternions: np.ndarray) -> None:
    """``quaternions`` [F, N, 4]; the message names the first frame and element that is not a unit quaternion."""
    norms = np.linalg.norm(quaternions, axis=-1)
    bad = np.abs(norms - 1.0) > UNIT_TOLERANCE
    if bad.any():
        frame, index = (int(i) for i in np.argwhere(bad)[0])
        norm = norms[frame, index]
        raise MotionError(f"{path}: {what} {index} of frame {frame} is not a unit quaternion (norm {norm:.6g})")


def check_frames(path: Path, frames: int) -> None:
    if frames < 2:
        raise MotionError(f"{path}: a motion needs at least 2 frames, found {frames}")


def check_fps(path: Path, fps) -> float:
    if isinstance(fps, np.ndarray) and fps.shape == ():
        fps = fps.item()
    if isinstance(fps, (bool, np.bool_)) or not isinstance(fps, (int, float, np.integer, np.floating)):
        raise MotionError(f"{path}: the frame rate must be a number, got {type(fps).__name__}")
    if not np.isfinite(fps) or fps <= 0:
        raise MotionError(f"{path}: the frame rate must be positive, got {fps}")
    return float(fps)

