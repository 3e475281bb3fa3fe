"""ASE/poselib ``SkeletonMotion`` files, read through a restricted unpickler (never ``np.load(allow_pickle=True)``)."""

from __future__ import annotations

import collections
import dataclasses
import pickle
from pathlib import Path

import numpy as np
from numpy._core.multiarray import _reconstruct, scalar
from numpy.lib import format as npy_format

from envs.formats.checks import check_finite, check_fps, check_frames, check_shape, check_unit, numeric
from envs.motion import MotionError


def _reconstruct_empty(subtype, shape, dtype):
    # numpy pickles an array as "an empty array of this class", then fills it with __setstate__ from the pickle's
    # own bytes; an empty start is all a real file needs, so a huge shape (a memory bomb) is refused here.
    if subtype is not np.ndarray or int(np.prod(shape)) != 0:
        raise pickle.UnpicklingError("array reconstruction other than numpy's own (an empty ndarray)")
    return _reconstruct(subtype, shape, dtype)


# Every global that the shipped poselib files reference (pickletools.dis on all 83 of them), under both of numpy's
# module names (numpy < 2 wrote numpy.core, numpy 2 writes numpy._core). Nothing here runs code of the file's choosing.
_POSELIB_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_empty,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_empty,
    ("numpy.core.multiarray", "scalar"): scalar,
    ("numpy._core.multiarray", "scalar"): scalar,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class _PoselibUnpickler(pickle.Unpickler):
    """Admits numpy arrays, dtypes, scalars and OrderedDicts; refuses any other class or function by name."""

    def __init__(self, file, path: Path):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        try:
            return _POSELIB_GLOBALS[(module, name)]
        except KeyError:
            raise MotionError(
                f"{self.path}: refused to unpickle {module}.{name}: a poselib motion holds only numpy arrays, "
                "dtypes, scalars and OrderedDicts"
            ) from None


def _read_pickled_npy(path: Path) -> dict:
    """The dict that ``np.save`` pickled into a 0-d object array, read with :class:`_PoselibUnpickler`."""
    header_readers = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
    try:
        with open(path, "rb") as file:
            version = npy_format.read_magic(file)
            if version not in header_readers:
                raise MotionError(f"{path}: unsupported .npy format version {version[0]}.{version[1]}")
            shape, _, dtype = header_readers[version](file)
            if dtype != object or shape != ():
                raise MotionError(
                    f"{path}: holds a {dtype} array of shape {list(shape)}, not a poselib motion (a pickled dict); "
                    "a DiffMimic state file is read with load_diffmimic_states"
                )
            content = _PoselibUnpickler(file, path).load()
    except MotionError:
        raise
    except OSError as err:
        raise MotionError(f"{path}: cannot read motion file ({err.strerror})") from None
    except (ValueError, TypeError, EOFError, IndexError, KeyError, AttributeError, pickle.UnpicklingError) as err:
        raise MotionError(f"{path}: not a readable poselib .npy file ({type(err).__name__}: {err})") from None
    if isinstance(content, np.ndarray) and content.dtype == object and content.shape == ():
        content = content.item()
    if not isinstance(content, dict):
        raise MotionError(f"{path}: holds a {type(content).__name__}, not a poselib motion (a dict)")
    return content


def _poselib_tensor(path: Path, container: dict, key: str) -> np.ndarray:
    """poselib stores each tensor as ``{"arr": ndarray, "context": {"dtype": name}}``."""
    if key not in container:
        raise MotionError(f"{path}: poselib motion has no '{key}'")
    entry = container[key]
    array = entry.get("arr") if isinstance(entry, dict) else None
    if array is None:
        raise MotionError(f"{path}: '{key}' is not a poselib tensor (a dict with an 'arr' array)")
    return numeric(path, f"'{key}'", array)


@dataclasses.dataclass(frozen=True)
class PoselibMotion:
    """An ASE/poselib ``SkeletonMotion`` as stored (arrays float64 except ``parent_indices``).

    Joints (``J``) are poselib's skeleton nodes in file order: every parent precedes its children. Quaternions are
    poselib's x y z w (scalar last, scipy's order). Positions are metres in the world frame of the file (ASE's
    clips: z up).
    """

    name: str
    source: str
    fps: float
    node_names: tuple[str, ...]
    parent_indices: np.ndarray  # [J] int, -1 for the root (node 0)
    local_translation: np.ndarray  # [J, 3] each node's origin in its parent's frame (the root's is unused)
    rotation: np.ndarray  # [F, J, 4] x y z w: relative to the parent if is_local, else world rotations
    root_translation: np.ndarray  # [F, 3] world position of the root node
    is_local: bool
    global_velocity: np.ndarray | None  # [F, J, 3] world linear velocity (m/s), when the file holds it
    global_angular_velocity: np.ndarray | None  # [F, J, 3] world angular velocity (rad/s), when the file holds it

    @property
    def num_frames(self) -> int:
        return int(self.rotation.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the last."""
        return (self.num_frames - 1) / self.fps


def load_poselib_motion(path) -> PoselibMotion:
    """Reads an ASE/poselib ``SkeletonMotion`` file without running any code from it.

    Format: ``np.save`` of a 0-d object array holding poselib's ``SkeletonMotion.to_dict()``: ``rotation``,
    ``root_translation``, ``global_velocity``, ``global_angular_velocity`` (each ``{"arr": ndarray, "context": ...}``),
    ``skeleton_tree`` (``node_names``, ``parent_indices``, ``local_translation``), ``is_local`` and ``fps``. The
    pickle is read by an unpickler that admits only numpy arrays, dtypes, scalars and ``collections.OrderedDict``;
    anything else is refused, naming the file and the class. A poselib ``SkeletonState`` (no fps, no velocities) is
    refused: it is a pose, not a motion. Conventions: see :class:`PoselibMotion`.
    """
    path = Path(path)
    content = _read_pickled_npy(path)
    if "fps" not in content:
        kind = content.get("__name__", "dict")
        raise MotionError(f"{path}: holds a poselib {kind} without 'fps', not a SkeletonMotion")
    fps = check_fps(path, content["fps"])
    is_local = content.get("is_local")
    if not isinstance(is_local, (bool, np.bool_)):
        raise MotionError(f"{path}: 'is_local' must be True or False, got {is_local!r}")
    tree = content.get("skeleton_tree")
    if not isinstance(tree, dict):
        raise MotionError(f"{path}: poselib motion has no 'skeleton_tree'")
    names = tree.get("node_names")
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise MotionError(f"{path}: skeleton 'node_names' must be a list of strings")
    joints = len(names)
    if joints == 0 or len(set(names)) != joints:
        raise MotionError(f"{path}: skeleton 'node_names' must be non-empty and unique")

    rotation = _poselib_tensor(path, content, "rotation").astype(np.float64)
    check_shape(path, "'rotation'", rotation, (None, joints, 4))
    frames = rotation.shape[0]
    check_frames(path, frames)
    local_translation = _poselib_tensor(path, tree, "local_translation").astype(np.float64)
    check_shape(path, "skeleton 'local_translation'", local_translation, (joints, 3))
    if not np.all(np.isfinite(local_translation)):
        raise MotionError(f"{path}: skeleton 'local_translation' is not finite")
    per_frame = {"rotation": rotation}  # key -> [F, ...] array
    velocities = [key for key in ("global_velocity", "global_angular_velocity") if key in content]
    if len(velocities) == 1:
        raise MotionError(f"{path}: holds '{velocities[0]}' without its linear/angular counterpart")
    for key, shape in [("root_translation", (frames, 3))] + [(key, (frames, joints, 3)) for key in velocities]:
        per_frame[key] = _poselib_tensor(path, content, key).astype(np.float64)
        check_shape(path, f"'{key}'", per_frame[key], shape)
    for key, array in per_frame.items():
        check_finite(path, f"'{key}'", array)
    check_unit(path, "rotation of node", rotation)

    parents = _poselib_tensor(path, tree, "parent_indices")
    check_shape(path, "skeleton 'parent_indices'", parents, (joints,))
    parents = parents.astype(np.int64)
    # A parents-first order lets forward kinematics run in one pass over the nodes.
    if parents[0] != -1 or any(not 0 <= parents[i] < i for i in range(1, joints)):
        raise MotionError(
            f"{path}: skeleton 'parent_indices' {parents.tolist()} must start with -1 (the root) and name an earlier "
            "node for every other node"
        )
    return PoselibMotion(
        name=path.stem,
        source=str(path),
        fps=fps,
        node_names=tuple(str(name) for name in names),
        parent_indices=parents,
        local_translation=local_translation,
        rotation=rotation,
        root_translation=per_frame["root_translation"],
        is_local=bool(is_local),
        global_velocity=per_frame["global_velocity"] if velocities else None,
        global_angular_velocity=per_frame["global_angular_velocity"] if velocities else None,
    )
