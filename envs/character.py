"""DeepMimic character files: parse and validate the skeleton, body shapes and PD gains.

A DeepMimic character file (``humanoid3d.txt``) is JSON with a ``Skeleton`` (joints: type, parent, attach offset,
limits, torque limit), ``BodyDefs`` (one collision shape and mass per joint) and ``DrawShapeDefs`` (visual only).
The PD controller file (``humanoid3d_ctrl.txt``) gives ``Kp``/``Kd`` per joint. Both are y-up; conversion to the
simulator's z-up frame happens in ``envs.mjcf_writer`` and ``envs.motion``, through :func:`yup_to_zup`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

JOINT_TYPES = ("none", "spherical", "revolute", "fixed")
SHAPES = ("sphere", "capsule", "box")

# Hinge order used for spherical joints, in DeepMimic's own (y-up) axes. The middle axis is where Euler angles
# hit gimbal lock; y is the twist axis of every limb, whose range is the smallest in humanoid3d and which mocap
# rarely drives near +-90 degrees.
SPHERICAL_AXES = ("z", "y", "x")
AXIS_INDEX = {"x": 0, "y": 1, "z": 2}


class CharacterError(ValueError):
    """A character or controller file that cannot be used; the message names the file and the problem."""


@dataclasses.dataclass(frozen=True)
class Joint:
    name: str
    type: str  # one of JOINT_TYPES; "none" marks the root (a free joint in the simulator)
    parent: int  # index into Character.joints, -1 for the root
    attach: tuple[float, float, float]  # offset from the parent joint frame, y-up metres
    limits: tuple[tuple[float, float], ...]  # per DeepMimic axis (x, y, z) for spherical, one pair for revolute
    torque_limit: float
    is_end_effector: bool
    kp: float
    kd: float
    diff_weight: float  # DeepMimic's DiffWeight: this joint's weight in the imitation reward's pose terms

    @property
    def dofs(self) -> int:
        return {"none": 0, "spherical": 3, "revolute": 1, "fixed": 0}[self.type]


@dataclasses.dataclass(frozen=True)
class Body:
    name: str
    shape: str  # one of SHAPES
    mass: float
    attach: tuple[float, float, float]  # shape centre relative to its joint frame, y-up metres
    params: tuple[float, float, float]  # DeepMimic Param0..2: sphere diameter; capsule diameter, height; box sizes
    fall_contact: bool  # DeepMimic's EnableFallContact: this body touching the ground ends the episode


@dataclasses.dataclass(frozen=True)
class Character:
    name: str
    joints: tuple[Joint, ...]
    bodies: tuple[Body, ...]  # bodies[i] hangs from joints[i]
    source: str  # the file it came from, for error messages

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def motion_frame_size(self) -> int:
        """Width of one DeepMimic motion frame: dt, root pos (3), root quat (4), then per joint in order."""
        per_joint = {"none": 0, "spherical": 4, "revolute": 1, "fixed": 0}
        return 1 + 3 + 4 + sum(per_joint[j.type] for j in self.joints[1:])


def yup_to_zup(vec) -> np.ndarray:
    """DeepMimic is y-up with z to the character's right; the simulator is z-up: (x, y, z) -> (x, -z, y)."""
    vec = np.asarray(vec, dtype=np.float64)
    return np.stack([vec[..., 0], -vec[..., 2], vec[..., 1]], axis=-1)


def _require(entry: dict, key: str, where: str, source: str):
    if key not in entry:
        raise CharacterError(f"{source}: {where} has no '{key}' field")
    return entry[key]


def _number(value, key: str, where: str, source: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CharacterError(f"{source}: {where} field '{key}' is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise CharacterError(f"{source}: {where} field '{key}' is not finite: {value!r}")
    return number


def _read_json(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as err:
        raise CharacterError(f"{path}: cannot read file ({err.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise CharacterError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise CharacterError(f"{path}: expected a JSON object at top level")
    return data


def _read_gains(controller_path: Path) -> dict[str, tuple[float, float]]:
    data = _read_json(controller_path)
    controllers = data.get("PDControllers")
    if not isinstance(controllers, list) or not controllers:
        raise CharacterError(f"{controller_path}: no 'PDControllers' list")
    gains = {}
    for i, entry in enumerate(controllers):
        where = f"PD controller {i}"
        name = _require(entry, "Name", where, str(controller_path))
        gains[name] = (
            _number(_require(entry, "Kp", where, str(controller_path)), "Kp", where, str(controller_path)),
            _number(_require(entry, "Kd", where, str(controller_path)), "Kd", where, str(controller_path)),
        )
    return gains


def load_character(character_path, controller_path, name: str | None = None) -> Character:
    """Reads a DeepMimic character file and its PD controller file into a validated :class:`Character`."""
    character_path, controller_path = Path(character_path), Path(controller_path)
    source = str(character_path)
    data = _read_json(character_path)
    skeleton = data.get("Skeleton")
    if not isinstance(skeleton, dict) or not isinstance(skeleton.get("Joints"), list) or not skeleton["Joints"]:
        raise CharacterError(f"{source}: no 'Skeleton.Joints' list")
    body_defs = data.get("BodyDefs")
    if not isinstance(body_defs, list):
        raise CharacterError(f"{source}: no 'BodyDefs' list")
    if len(body_defs) != len(skeleton["Joints"]):
        raise CharacterError(
            f"{source}: {len(skeleton['Joints'])} joints but {len(body_defs)} BodyDefs (need one body per joint)"
        )
    gains = _read_gains(controller_path)

    joints = []
    for i, entry in enumerate(skeleton["Joints"]):
        jname = _require(entry, "Name", f"joint {i}", source)
        where = f"joint {i} ('{jname}')"
        jtype = _require(entry, "Type", where, source)
        if jtype not in JOINT_TYPES:
            raise CharacterError(f"{source}: {where} has unknown type '{jtype}' (expected one of {JOINT_TYPES})")
        parent = int(_number(_require(entry, "Parent", where, source), "Parent", where, source))
        if (i == 0) != (parent == -1) or parent >= i:
            raise CharacterError(
                f"{source}: {where} has parent {parent}; joints must be listed parents first with only joint 0 as root"
            )
        if i == 0 and jtype != "none":
            raise CharacterError(f"{source}: the root joint must have type 'none', got '{jtype}'")
        attach = tuple(_number(_require(entry, f"Attach{a}", where, source), f"Attach{a}", where, source) for a in "XYZ")
        thetas = [_number(entry.get(f"AttachTheta{a}", 0.0), f"AttachTheta{a}", where, source) for a in "XYZ"]
        if any(abs(t) > 1e-9 for t in thetas):
            raise CharacterError(f"{source}: {where} has a non-zero AttachTheta, which this converter does not support")
        n_limits = {"spherical": 3, "revolute": 1}.get(jtype, 0)
        limits = []
        for k in range(n_limits):
            low = _number(_require(entry, f"LimLow{k}", where, source), f"LimLow{k}", where, source)
            high = _number(_require(entry, f"LimHigh{k}", where, source), f"LimHigh{k}", where, source)
            if low >= high:
                raise CharacterError(f"{source}: {where} has LimLow{k}={low} >= LimHigh{k}={high}")
            limits.append((low, high))
        if jtype in ("spherical", "revolute") and jname not in gains:
            raise CharacterError(f"{controller_path}: no PD gains for joint '{jname}' of {source}")
        kp, kd = gains.get(jname, (0.0, 0.0))
        joints.append(
            Joint(
                name=jname,
                type=jtype,
                parent=parent,
                attach=attach,
                limits=tuple(limits),
                torque_limit=_number(entry.get("TorqueLim", 0.0), "TorqueLim", where, source),
                is_end_effector=bool(entry.get("IsEndEffector", 0)),
                kp=kp,
                kd=kd,
                diff_weight=_number(entry.get("DiffWeight", 1.0), "DiffWeight", where, source),
            )
        )
        if jtype in ("spherical", "revolute") and joints[-1].torque_limit <= 0:
            raise CharacterError(f"{source}: {where} is actuated but has TorqueLim <= 0")

    bodies = []
    for i, entry in enumerate(body_defs):
        bname = _require(entry, "Name", f"body {i}", source)
        where = f"body {i} ('{bname}')"
        if bname != joints[i].name:
            raise CharacterError(f"{source}: {where} does not match joint {i} ('{joints[i].name}')")
        shape = _require(entry, "Shape", where, source)
        if shape not in SHAPES:
            raise CharacterError(f"{source}: {where} has unsupported shape '{shape}' (expected one of {SHAPES})")
        mass = _number(_require(entry, "Mass", where, source), "Mass", where, source)
        if mass <= 0:
            raise CharacterError(f"{source}: {where} has non-positive mass {mass}")
        params = tuple(_number(_require(entry, f"Param{k}", where, source), f"Param{k}", where, source) for k in range(3))
        if any(p <= 0 for p in params):
            raise CharacterError(f"{source}: {where} has a non-positive shape size {params}")
        attach = tuple(_number(_require(entry, f"Attach{a}", where, source), f"Attach{a}", where, source) for a in "XYZ")
        bodies.append(
            Body(
                name=bname,
                shape=shape,
                mass=mass,
                attach=attach,
                params=params,
                fall_contact=bool(entry.get("EnableFallContact", 0)),
            )
        )
    return Character(
        name=name or character_path.stem, joints=tuple(joints), bodies=tuple(bodies), source=source
    )
