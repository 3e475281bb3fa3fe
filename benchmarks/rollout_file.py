"""The rollout file: one recorded evaluation episode, policy and reference side by side, for viewing.

``<run_dir>/rollout.npz`` (``np.savez_compressed``, no pickled objects) holds, for ``T`` frames (index 0 is the
reset state, before any action) and the ``B`` tracked bodies in DeepMimic order:

    sim_pos [T,B,3] float32   simulated body positions, metres, world frame (z up)
    sim_rot [T,B,4] float16   simulated body orientations, quaternion w x y z
    ref_pos [T,B,3] float32   reference body positions at the same frame
    ref_rot [T,B,4] float16   reference body orientations
    pose_error [T]  float32   the evaluator's pose error per frame, metres (0 at index 0: nothing simulated yet)
    fall [T]        bool      the env's fall flag per frame
    body_names [B]  str
    body_parent [B] int16     parent body index, -1 for the root
    dt []           float64   seconds between frames

Orientations are only drawn, never measured, so half precision (~1e-3) is plenty; a 60-frame rollout of the
15-body humanoid is about 20 KB on disk.

This module must stay free of JAX (and of envs/methods): the report and the viewer read rollouts through it.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from benchmarks.results_store import write_bytes_atomic

ROLLOUT_FILE = "rollout.npz"

# name -> (dtype stored, shape with "T"/"B" for the frame and body counts)
FIELDS: dict[str, tuple[np.dtype, tuple]] = {
    "sim_pos": (np.dtype(np.float32), ("T", "B", 3)),
    "sim_rot": (np.dtype(np.float16), ("T", "B", 4)),
    "ref_pos": (np.dtype(np.float32), ("T", "B", 3)),
    "ref_rot": (np.dtype(np.float16), ("T", "B", 4)),
    "pose_error": (np.dtype(np.float32), ("T",)),
    "fall": (np.dtype(bool), ("T",)),
    "body_names": (np.dtype(str), ("B",)),
    "body_parent": (np.dtype(np.int16), ("B",)),
    "dt": (np.dtype(np.float64), ()),
}


class RolloutError(ValueError):
    """A rollout that is missing, unreadable or inconsistent; the message names the file and the problem."""


def rollout_path(run_dir_or_file: str | os.PathLike) -> Path:
    """``RUN_DIR`` -> ``RUN_DIR/rollout.npz``; a path to a ``.npz`` file is returned as it is."""
    path = Path(run_dir_or_file)
    return path if path.suffix == ".npz" else path / ROLLOUT_FILE


def validate_rollout(rollout: Mapping[str, np.ndarray], source: str = "rollout") -> dict[str, np.ndarray]:
    """Checks keys, shapes, finite values and the body tree; returns the arrays in their stored dtypes."""
    missing = [name for name in FIELDS if name not in rollout]
    if missing:
        raise RolloutError(f"{source}: missing arrays {missing}")
    arrays = {name: np.asarray(rollout[name]) for name in FIELDS}
    if arrays["sim_pos"].ndim != 3:
        raise RolloutError(f"{source}: sim_pos must be [frames, bodies, 3], got shape {arrays['sim_pos'].shape}")
    sizes = {"T": arrays["sim_pos"].shape[0], "B": arrays["sim_pos"].shape[1]}
    if sizes["T"] < 1 or sizes["B"] < 1:
        raise RolloutError(f"{source}: no frames or no bodies (sim_pos shape {arrays['sim_pos'].shape})")
    out = {}
    for name, (dtype, shape) in FIELDS.items():
        array = arrays[name]
        expected = tuple(sizes.get(dim, dim) for dim in shape)
        if array.shape != expected:
            raise RolloutError(f"{source}: {name} has shape {array.shape}, expected {expected} "
                               f"({sizes['T']} frames, {sizes['B']} bodies)")
        if dtype.kind == "U":
            if array.dtype.kind not in "US":
                raise RolloutError(f"{source}: {name} must hold strings, got {array.dtype}")
            out[name] = array.astype(str)
            continue
        if dtype.kind == "b":
            if array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
                raise RolloutError(f"{source}: {name} must hold 0/1 flags")
            out[name] = array.astype(bool)
            continue
        if array.dtype.kind not in ("iu" if dtype.kind == "i" else "iuf"):
            raise RolloutError(f"{source}: {name} must be numeric ({dtype.name}), got {array.dtype}")
        if not np.isfinite(array.astype(np.float64)).all():
            bad = np.argwhere(~np.isfinite(array.astype(np.float64)))[0]
            raise RolloutError(f"{source}: {name} has a non-finite value at index {tuple(int(i) for i in bad)}")
        out[name] = array.astype(dtype)
    parent = out["body_parent"]
    bodies = np.arange(sizes["B"])
    if ((parent < -1) | (parent >= sizes["B"]) | (parent == bodies)).any() or not (parent == -1).any():
        raise RolloutError(f"{source}: body_parent {parent.tolist()} is not a tree over {sizes['B']} bodies with a root (-1)")
    if out["dt"] <= 0:
        raise RolloutError(f"{source}: dt must be positive, got {float(out['dt'])}")
    if (out["pose_error"] < 0).any():
        raise RolloutError(f"{source}: pose_error has negative values")
    return out


def save_rollout(path: str | os.PathLike, rollout: Mapping[str, np.ndarray]) -> Path:
    """Validates and writes ``rollout`` to ``path`` (a ``.npz`` file or a run directory) atomically."""
    path = rollout_path(path)
    arrays = validate_rollout(rollout, str(path))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def load_rollout(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads ``path`` (a ``.npz`` file or a run directory holding ``rollout.npz``); raises RolloutError naming the
    file and the problem when it is missing, truncated, corrupt or inconsistent."""
    path = rollout_path(path)
    if not path.is_file():
        raise RolloutError(f"{path}: no rollout recorded (file missing)")
    if not zipfile.is_zipfile(path):  # np.load would take such bytes for a pickle and say so, which misleads
        raise RolloutError(f"{path}: not an .npz (zip) archive ({path.stat().st_size} bytes): truncated or damaged")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as error:  # BadZipFile, EOFError, zlib.error, ValueError...: each a damaged file, not a crash
        raise RolloutError(f"{path}: not a readable rollout archive ({type(error).__name__}: {error})") from None
    return validate_rollout(arrays, str(path))


def mean_pose_error(rollout: Mapping[str, np.ndarray]) -> float:
    """The evaluator's number: the mean over the simulated frames (index 0 is the reset state)."""
    pose_error = np.asarray(rollout["pose_error"], dtype=np.float64)
    return float(pose_error[1:].mean()) if pose_error.size > 1 else 0.0


__all__ = ["FIELDS", "ROLLOUT_FILE", "RolloutError", "load_rollout", "mean_pose_error", "rollout_path", "save_rollout",
           "validate_rollout"]
