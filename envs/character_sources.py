"""Characters described the way DiffMimic's Brax v1 system configs describe them, converted to this project's MJCF.

DiffMimic's ``SMPL`` and ``SWORDSHIELD`` characters (``diffmimic/mimic_envs/system_configs/*.py``) are z-up bodies
with colliders and per-joint angle limits and actuator strengths, unlike DeepMimic's y-up character files that
``envs.character`` reads. A :class:`SourceCharacter` holds those facts in the configs' own conventions (listed on
each field), and :func:`source_to_mjcf` writes MJCF with the conventions of ``envs.mjcf_writer`` so that
``envs.model.load_character_model`` and every backend treat all characters alike. The facts themselves live in
``envs.diffmimic_characters``: DiffMimic's configs are Python modules of a non-commercially licensed repository, not
data files the project reads at run time, so the numbers are transcribed there once (each with its source) and this
module turns them into the committed assets. They go straight to MJCF instead of through ``envs.character.Character``
because that type cannot say what these configs say: rotated capsules and boxes, several shapes per body, hinge axes
other than DeepMimic's z.

Conventions of the MJCF (shared with ``envs.mjcf_writer`` unless said):
- Each body's frame sits at its joint to the parent with the configs' orientation (the rest pose has every body
  frame aligned with the world: DiffMimic's state files store these frames).
- A 3-degree-of-freedom joint becomes three hinges named ``<joint>_z``, ``<joint>_y``, ``<joint>_x`` about
  DeepMimic's axes z, y, x (``envs.character.SPHERICAL_AXES``; in z-up terms -y, z, x), the project's one Euler
  convention for every character, not DiffMimic's x, y, z. A 1-degree-of-freedom joint is one hinge, named after the
  joint, about the x axis of the config's joint frame (Brax v1 ``rotation``: Euler degrees, intrinsic x-y'-z'').
- Hinge ranges are the configs' ``angle_limit``s; the sidecar's ``hinge_limits`` repeat them for the action mappings.
- PD: a ``position`` actuator per hinge with ``kp`` = the config's actuator ``strength`` and ``kv`` = strength / 10
  (DiffMimic ``pd_controller.py``); no force limit (DiffMimic has none).
- Mass: the config's body mass, split over the body's shapes in proportion to density x volume (the densities of
  ASE's MJCF, where a body has several shapes), so the total is DiffMimic's and the inertia is the shapes' own.
- Every shape collides with the floor and none with another.

Regenerate the committed assets with ``python -m envs.character_sources`` (writes ``envs/assets/<name>.xml`` and
``<name>.meta.json`` for every character in ``envs.diffmimic_characters.CHARACTERS``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from envs.character import SPHERICAL_AXES, CharacterError
from envs.mjcf_writer import (
    ASSET_DIR,
    BODY_RGBA,
    DEFAULT_TIMESTEP,
    ROOT_HEIGHT,
    format_numbers,
    mjcf_scene,
    spherical_axis_vector,
)

Vec3 = tuple[float, float, float]
SHAPE_SIZES = {"sphere": 1, "capsule": 2, "box": 3}  # how many numbers Collider.size holds
DIGITS = 8  # significant digits of lengths and masses in the MJCF (the configs give up to 8)
KD_PER_KP = 0.1  # DiffMimic pd_controller.py: Kd = strength / 10


@dataclasses.dataclass(frozen=True)
class Collider:
    """One shape of a body, in the body's frame (Brax v1 collider conventions)."""

    shape: str  # "sphere", "capsule" or "box"
    size: tuple[float, ...]  # sphere (radius,); capsule (radius, length with both caps) along local z; box half sizes
    pos: Vec3 = (0.0, 0.0, 0.0)  # centre, metres
    rotation: Vec3 = (0.0, 0.0, 0.0)  # Euler angles in degrees, intrinsic x-y'-z'' (Brax v1 euler_to_quat)
    name: str = ""  # geom name; "" for a body's first shape, which is named after the body
    density: float = 1000.0  # kg/m^3, only for splitting a body's mass over several shapes

    def volume(self) -> float:
        if self.shape == "sphere":
            return 4.0 / 3.0 * math.pi * self.size[0] ** 3
        if self.shape == "capsule":
            radius, length = self.size
            return math.pi * radius**2 * (length - 2 * radius) + 4.0 / 3.0 * math.pi * radius**3
        return 8.0 * math.prod(self.size)


@dataclasses.dataclass(frozen=True)
class SourceBody:
    name: str
    mass: float  # kg, the whole body
    colliders: tuple[Collider, ...]


@dataclasses.dataclass(frozen=True)
class SourceJoint:
    """A joint moving ``child`` relative to ``parent`` (Brax v1 joint; ``child_offset`` is zero in every source)."""

    name: str
    parent: str
    child: str
    offset: Vec3  # the child's frame origin in the parent's frame, metres (``parent_offset``)
    limits: tuple[tuple[float, float], ...]  # degrees: three (x, y, z) pairs for 3 DoF, one pair for 1 DoF
    strength: float  # actuator strength: Kp
    rotation: Vec3 = (0.0, 0.0, 0.0)  # joint frame, Euler degrees x-y'-z''; a 1-DoF joint turns about its x axis

    @property
    def type(self) -> str:
        return "spherical" if len(self.limits) == 3 else "revolute"

    def axis(self) -> np.ndarray:
        """A 1-DoF joint's hinge axis in the parent's (= child's rest) frame."""
        return Rotation.from_euler("XYZ", self.rotation, degrees=True).apply([1.0, 0.0, 0.0])


@dataclasses.dataclass(frozen=True)
class SourceCharacter:
    name: str
    source: str  # where the facts come from, for the sidecar and error messages
    bodies: tuple[SourceBody, ...]  # root first, in the order of the source's state files
    joints: tuple[SourceJoint, ...]  # one per non-root body
    end_effectors: tuple[str, ...]  # bodies for DeepMimic's end-effector reward term
    fall_contact: tuple[str, ...]  # bodies whose ground contact is a fall

    def joint_of(self, body: str) -> SourceJoint:
        return next(joint for joint in self.joints if joint.child == body)

    def hinges(self) -> list[tuple[str, SourceJoint, tuple[float, float]]]:
        """(hinge name, joint, limits in radians) in the MJCF's order: bodies depth-first, then each joint's hinges."""
        hinges = []
        for body in self.depth_first()[1:]:
            joint = self.joint_of(body)
            if joint.type == "spherical":
                hinges += [(f"{joint.name}_{a}", joint, _hinge_limits(joint, a)) for a in SPHERICAL_AXES]
            else:
                hinges.append((joint.name, joint, _radians(joint.limits[0])))
        return hinges

    def depth_first(self) -> list[str]:
        """Body names as the MJCF nests them (children in joint order): Brax's link order."""
        order, stack = [], [self.bodies[0].name]
        while stack:
            body = stack.pop()
            order.append(body)
            stack += reversed([joint.child for joint in self.joints if joint.parent == body])
        return order


def _radians(limits: tuple[float, float]) -> tuple[float, float]:
    return (math.radians(limits[0]), math.radians(limits[1]))


def _hinge_limits(joint: SourceJoint, axis: str) -> tuple[float, float]:
    """The source's limits of the joint-frame axis that hinge ``axis`` (DeepMimic's letter) turns about: DeepMimic's
    x, y, z are the z-up frame's x, z and -y; about a negated axis the range is mirrored."""
    vector = spherical_axis_vector(axis)
    index = int(np.argmax(np.abs(vector)))
    low, high = joint.limits[index]
    return _radians((low, high) if vector[index] > 0 else (-high, -low))


def validate(character: SourceCharacter) -> None:
    """Raises :class:`CharacterError` naming the character and the problem."""
    where = f"character '{character.name}' ({character.source})"
    names = [body.name for body in character.bodies]
    if len(set(names)) != len(names):
        raise CharacterError(f"{where}: body names repeat: {names}")
    children = [joint.child for joint in character.joints]
    if sorted(children) != sorted(names[1:]):
        raise CharacterError(
            f"{where}: every body but the root ({names[0]}) needs exactly one joint; joints move {children}"
        )
    for joint in character.joints:
        if joint.parent not in names or names.index(joint.parent) >= names.index(joint.child):
            raise CharacterError(f"{where}: joint '{joint.name}' needs a parent body listed before '{joint.child}'")
        if len(joint.limits) not in (1, 3) or any(low >= high for low, high in joint.limits):
            raise CharacterError(f"{where}: joint '{joint.name}' needs 1 or 3 increasing (min, max) limits")
        if joint.type == "spherical" and any(joint.rotation):
            raise CharacterError(f"{where}: 3-DoF joint '{joint.name}' has a rotated frame, which is not supported")
        if joint.strength <= 0:
            raise CharacterError(f"{where}: joint '{joint.name}' needs a positive actuator strength")
    for body in character.bodies:
        if body.mass <= 0 or not body.colliders:
            raise CharacterError(f"{where}: body '{body.name}' needs a positive mass and at least one shape")
        for collider in body.colliders:
            sizes = SHAPE_SIZES.get(collider.shape)
            if sizes is None or len(collider.size) != sizes or min(collider.size) <= 0:
                raise CharacterError(f"{where}: body '{body.name}' has a bad {collider.shape} {collider.size}")
            if collider.shape == "capsule" and collider.size[1] < 2 * collider.size[0]:
                raise CharacterError(f"{where}: body '{body.name}' has a capsule shorter than its two caps")
    for name in character.end_effectors + character.fall_contact:
        if name not in names:
            raise CharacterError(f"{where}: '{name}' is not a body")


def _numbers(values) -> str:
    # Rounding first keeps float noise such as cos(90 degrees) = 6e-17 out of the file.
    return format_numbers(np.round(np.asarray(values, dtype=np.float64), 9), DIGITS)


def _add_geoms(element: ET.Element, body: SourceBody) -> None:
    weights = np.array([collider.density * collider.volume() for collider in body.colliders])
    masses = body.mass * weights / weights.sum()
    for index, (collider, mass) in enumerate(zip(body.colliders, masses)):
        name = collider.name or (body.name if index == 0 else f"{body.name}_{index}")
        attrs = {"name": name, "mass": _numbers(mass), "rgba": BODY_RGBA, "contype": "0", "conaffinity": "1"}
        rotation = Rotation.from_euler("XYZ", collider.rotation, degrees=True)
        centre = np.asarray(collider.pos, dtype=np.float64)
        if collider.shape == "sphere":
            attrs.update(type="sphere", size=_numbers(collider.size[0]), pos=_numbers(centre))
        elif collider.shape == "capsule":
            radius, length = collider.size
            half = rotation.apply([0.0, 0.0, length / 2 - radius])  # Brax v1 capsules lie along their local z
            ends = np.concatenate([centre - half, centre + half])
            attrs.update(type="capsule", size=_numbers(radius), fromto=_numbers(ends))
        else:
            attrs.update(type="box", size=_numbers(collider.size), pos=_numbers(centre))
            if any(collider.rotation):
                attrs["quat"] = _numbers(rotation.as_quat()[[3, 0, 1, 2]])
        ET.SubElement(element, "geom", attrs)


def source_to_mjcf(character: SourceCharacter, timestep: float = DEFAULT_TIMESTEP) -> str:
    """The MJCF text of ``character``; deterministic, so the committed asset can be checked for drift."""
    validate(character)
    root, worldbody, actuators = mjcf_scene(character.name, timestep)
    bodies = {body.name: body for body in character.bodies}
    hinges_of: dict[str, list] = {}
    for hinge in character.hinges():
        hinges_of.setdefault(hinge[1].child, []).append(hinge)
    elements: dict[str, ET.Element] = {}
    for name in character.depth_first():
        if name == character.bodies[0].name:
            element = ET.SubElement(worldbody, "body", name=name, pos=_numbers([0, 0, ROOT_HEIGHT]))
            ET.SubElement(element, "freejoint", name="root")
        else:
            joint = character.joint_of(name)
            element = ET.SubElement(elements[joint.parent], "body", name=name, pos=_numbers(joint.offset))
            for hinge, _, (low, high) in hinges_of[name]:
                axis = spherical_axis_vector(hinge[-1]) if joint.type == "spherical" else joint.axis()
                attrs = {"name": hinge, "type": "hinge", "pos": "0 0 0", "axis": _numbers(axis)}
                ET.SubElement(element, "joint", attrs, range=format_numbers([low, high], 9))
                ET.SubElement(
                    actuators,
                    "position",
                    name=hinge,
                    joint=hinge,
                    kp=f"{joint.strength:.6g}",
                    kv=f"{joint.strength * KD_PER_KP:.6g}",
                )
        elements[name] = element
        _add_geoms(element, bodies[name])
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def source_metadata(character: SourceCharacter) -> dict:
    """The sidecar ``envs.model`` reads (same keys as ``envs.mjcf_writer.character_metadata``)."""
    validate(character)
    names = [body.name for body in character.bodies]
    return {
        "name": character.name,
        "source": character.source,
        "body_names": names,
        # The joint that moves each non-root body, in body order.
        "motion_joints": [[character.joint_of(name).name, character.joint_of(name).type] for name in names[1:]],
        "end_effectors": list(character.end_effectors),
        # DeepMimic's reward weights exist only for its own humanoid: every joint weighs the same here.
        "diff_weights": [1.0] * len(names),
        "fall_contact": list(character.fall_contact),
        "fixed_points": {},
        "hinge_limits": {name: [round(low, 9), round(high, 9)] for name, _, (low, high) in character.hinges()},
    }


def write_assets(character: SourceCharacter, asset_dir: Path = ASSET_DIR) -> tuple[Path, Path]:
    """Writes ``<name>.xml`` and its ``<name>.meta.json`` sidecar into ``asset_dir``."""
    xml_path = Path(asset_dir) / f"{character.name}.xml"
    meta_path = xml_path.with_suffix(".meta.json")
    xml_path.write_text(source_to_mjcf(character))
    meta_path.write_text(json.dumps(source_metadata(character), indent=2) + "\n")
    return xml_path, meta_path


def main(argv=None) -> None:
    from envs.diffmimic_characters import CHARACTERS

    parser = argparse.ArgumentParser(description="Write the MJCF assets of DiffMimic's SMPL and SWORDSHIELD.")
    parser.add_argument("--out-dir", default=str(ASSET_DIR), help="folder for <name>.xml and <name>.meta.json")
    args = parser.parse_args(argv)
    for character in CHARACTERS.values():
        xml_path, meta_path = write_assets(character, Path(args.out_dir))
        print(f"wrote {xml_path} and {meta_path} ({len(character.hinges())} actuated hinges)")


if __name__ == "__main__":
    main()
