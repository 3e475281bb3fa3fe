"""Converts a DeepMimic :class:`~envs.character.Character` into MJCF that every Brax backend loads.

Conventions (they matter to the motion loader and the environment):
- z-up; each body's frame sits at its joint to the parent, exactly where the character file puts it.
- A spherical joint becomes three hinges on one body sharing one anchor, named ``<joint>_<axis>`` in the order of
  ``SPHERICAL_AXES`` (Brax's spring/positional/generalized backends reject ball joints); a revolute joint is one hinge
  about DeepMimic's z axis named after the joint. The joint angles compose as intrinsic rotations in that order.
- A fixed joint (the wrists) has no body of its own: Brax would merge a jointless body into its parent anyway,
  so its geom and mass go straight onto the parent and the environment tracks it as a point fixed to the parent.
- Every body geom collides with the floor and none with each other, so a fall is a real contact, not a body sinking
  through the ground.
- Joint limits: DeepMimic limits only revolute joints (Bullet joint limits), and DiffMimic's spherical joints span
  +-180 degrees, so the three hinges of a spherical joint range over [-pi, pi]; a revolute joint keeps the character
  file's range widened by ``REVOLUTE_LIMIT_MARGIN`` (DeepMimic's own spinkick clip bends a knee 0.222 rad past 0).
  DeepMimic's per-axis limits of spherical joints are written to the sidecar (``hinge_limits``): the ``range`` and
  ``deepmimic`` action mappings read them.
- PD control is a MuJoCo ``position`` actuator per hinge (kp, kv from the controller file; force limited to the
  joint's torque limit; no control range, so a PD target may lie past the joint limit as in both originals), which
  Brax turns into ``tau = kp * (target - q) - kd * qd`` in every backend.
- Inertia is the geometric one (``spring_inertia_scale`` 0); the environment's ``inertia`` option replaces it.
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from envs.character import AXIS_INDEX, SPHERICAL_AXES, Body, Character, load_character, yup_to_zup

# Brax tuning for the spring/positional backends, from Brax's own humanoid; ignored by generalized and mjx.
BRAX_CUSTOM = {
    "constraint_limit_stiffness": 2500,
    "constraint_stiffness": 27000,
    "constraint_ang_damping": 30,
    "constraint_vel_damping": 80,
    "ang_damping": -0.05,
    "joint_scale_pos": 0.5,
    "joint_scale_ang": 0.1,
    "spring_mass_scale": 0,
    "spring_inertia_scale": 0,  # geometric inertia on every backend; MimicConfig.inertia chooses
    "matrix_inv_iterations": 20,
    "solver_maxls": 15,
}
DEFAULT_TIMESTEP = 1.0 / 480.0  # 16 physics steps per 30 Hz control step (the environment sets its own)
ROOT_HEIGHT = 1.0  # initial root height; the environment always resets to a reference pose
SPHERICAL_RANGE = (-np.pi, np.pi)  # DiffMimic's system_configs/HUMANOID.py: angle_limit -180..180 on every axis
REVOLUTE_LIMIT_MARGIN = 0.25  # rad each side: humanoid3d_spinkick.txt bends a knee to +0.222 (limit 0), sideflip +0.072


def format_numbers(values, digits: int = 6) -> str:
    return " ".join(f"{float(v) + 0.0:.{digits}g}" for v in np.atleast_1d(values))  # + 0.0 turns -0 into 0


def hinge_limits(character: Character) -> dict[str, tuple[float, float]]:
    """DeepMimic's limits per simulator hinge (the character file's, per axis for spherical joints)."""
    limits = {}
    for joint in character.joints[1:]:
        if joint.type == "spherical":
            limits.update({f"{joint.name}_{a}": joint.limits[AXIS_INDEX[a]] for a in SPHERICAL_AXES})
        elif joint.type == "revolute":
            limits[joint.name] = joint.limits[0]
    return limits


def joint_ranges(character: Character) -> dict[str, tuple[float, float]]:
    """The simulated character's hinge ranges: +-pi for spherical joints, the widened file range for revolute ones."""
    ranges = {}
    for joint in character.joints[1:]:
        if joint.type == "spherical":
            ranges.update({f"{joint.name}_{a}": SPHERICAL_RANGE for a in SPHERICAL_AXES})
        elif joint.type == "revolute":
            low, high = joint.limits[0]
            ranges[joint.name] = (low - REVOLUTE_LIMIT_MARGIN, high + REVOLUTE_LIMIT_MARGIN)
    return ranges


def spherical_axis_vector(axis: str) -> np.ndarray:
    unit = np.zeros(3)
    unit[AXIS_INDEX[axis]] = 1.0
    return yup_to_zup(unit)


def hinge_names(character: Character) -> list[str]:
    """Names of the simulator's hinge joints in the order the MJCF declares them (= actuator order)."""
    names = []
    for joint in character.joints[1:]:
        if joint.type == "spherical":
            names += [f"{joint.name}_{axis}" for axis in SPHERICAL_AXES]
        elif joint.type == "revolute":
            names.append(joint.name)
    return names


def _add_geom(parent: ET.Element, name: str, body: Body, offset_zup: np.ndarray, rgba: str) -> None:
    centre = offset_zup + yup_to_zup(body.attach)
    attrs = {"name": name, "mass": f"{body.mass:.6g}", "rgba": rgba, "contype": "0", "conaffinity": "1"}
    p0, p1, p2 = body.params
    if body.shape == "sphere":
        attrs.update(type="sphere", size=format_numbers(p0 / 2), pos=format_numbers(centre))
    elif body.shape == "capsule":
        # DeepMimic capsules run along the body's y axis (z after conversion); Param1 is the cylinder length.
        half = np.array([0.0, 0.0, p1 / 2])
        ends = np.concatenate([centre - half, centre + half])
        attrs.update(type="capsule", size=format_numbers(p0 / 2), fromto=format_numbers(ends))
    else:
        # Box sizes are full lengths along DeepMimic's x, y, z; after conversion y becomes z and z becomes y.
        attrs.update(type="box", size=format_numbers([p0 / 2, p2 / 2, p1 / 2]), pos=format_numbers(centre))
    ET.SubElement(parent, "geom", attrs)


BODY_RGBA = "0.4706 0.549 0.6863 1"


def mjcf_scene(name: str, timestep: float = DEFAULT_TIMESTEP) -> tuple[ET.Element, ET.Element, ET.Element]:
    """The parts every character's MJCF shares: compiler, option, Brax tuning, the floor (the only geom that other
    geoms collide with); returns the ``mujoco``, ``worldbody`` and (empty) ``actuator`` elements."""
    root = ET.Element("mujoco", model=name)
    ET.SubElement(root, "compiler", angle="radian", inertiafromgeom="true", autolimits="true")
    ET.SubElement(root, "option", timestep=f"{timestep:.8g}", iterations="8")
    custom = ET.SubElement(root, "custom")
    for key, value in BRAX_CUSTOM.items():
        ET.SubElement(custom, "numeric", name=key, data=f"{value}")
    worldbody = ET.SubElement(root, "worldbody")
    ET.SubElement(
        worldbody,
        "geom",
        name="floor",
        type="plane",
        size="50 50 0.125",
        contype="1",
        conaffinity="1",
        friction="1 0.1 0.1",
        rgba="0.8 0.8 0.8 1",
    )
    return root, worldbody, ET.SubElement(root, "actuator")


def character_to_mjcf(character: Character, timestep: float = DEFAULT_TIMESTEP) -> str:
    """Returns the MJCF text of ``character``; deterministic, so the committed asset can be checked for drift."""
    root, worldbody, actuators = mjcf_scene(character.name, timestep)
    rgba = BODY_RGBA
    elements: dict[int, ET.Element] = {}
    # Fixed joints fold into their parent: remember which body element and offset they resolve to.
    anchor: dict[int, tuple[int, np.ndarray]] = {}
    ranges = joint_ranges(character)
    for index, (joint, body) in enumerate(zip(character.joints, character.bodies)):
        offset = yup_to_zup(joint.attach)
        if joint.type == "none":
            element = ET.SubElement(worldbody, "body", name=joint.name, pos=format_numbers([0, 0, ROOT_HEIGHT]))
            ET.SubElement(element, "freejoint", name=joint.name)
            elements[index], anchor[index] = element, (index, np.zeros(3))
            _add_geom(element, joint.name, body, np.zeros(3), rgba)
            continue
        parent_index, parent_offset = anchor[joint.parent]
        if joint.type == "fixed":
            anchor[index] = (parent_index, parent_offset + offset)
            _add_geom(elements[parent_index], joint.name, body, parent_offset + offset, rgba)
            continue
        element = ET.SubElement(elements[parent_index], "body", name=joint.name, pos=format_numbers(parent_offset + offset))
        elements[index], anchor[index] = element, (index, np.zeros(3))
        if joint.type == "spherical":
            hinges = [(f"{joint.name}_{a}", spherical_axis_vector(a)) for a in SPHERICAL_AXES]
        else:
            hinges = [(joint.name, spherical_axis_vector("z"))]
        for name, axis in hinges:
            ET.SubElement(element, "joint", name=name, type="hinge", pos="0 0 0", axis=format_numbers(axis), range=format_numbers(ranges[name], 9))
            ET.SubElement(
                actuators,
                "position",
                name=name,
                joint=name,
                kp=f"{joint.kp:.6g}",
                kv=f"{joint.kd:.6g}",
                forcerange=format_numbers([-joint.torque_limit, joint.torque_limit]),
            )
        _add_geom(element, joint.name, body, np.zeros(3), rgba)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


ASSET_DIR = Path(__file__).parent / "assets"


def character_metadata(character: Character) -> dict:
    """What the environment needs beyond the MJCF: DeepMimic's end effectors, fall-contact bodies and the points
    fixed to a parent (folded fixed joints), all by DeepMimic body name."""
    fixed_points, anchor = {}, {}
    for index, joint in enumerate(character.joints):
        offset = yup_to_zup(joint.attach)
        if joint.type == "fixed":
            parent_name, parent_offset = anchor[joint.parent]
            fixed_points[joint.name] = {"parent": parent_name, "offset": [round(float(v), 9) for v in parent_offset + offset]}
            anchor[index] = (parent_name, parent_offset + offset)
        else:
            anchor[index] = (joint.name, np.zeros(3))
    return {
        "name": character.name,
        "body_names": list(character.joint_names),
        # Motion-file layout: the non-root joints in file order with their types.
        "motion_joints": [[j.name, j.type] for j in character.joints[1:]],
        "end_effectors": [j.name for j in character.joints if j.is_end_effector],
        # DeepMimic's per-joint weight in the pose and velocity terms of its reward.
        "diff_weights": [j.diff_weight for j in character.joints],
        "fall_contact": [b.name for b in character.bodies if b.fall_contact],
        "fixed_points": fixed_points,
        # DeepMimic's limits per hinge (actuator order), for the `range` and `deepmimic` action mappings.
        "hinge_limits": {name: list(limits) for name, limits in hinge_limits(character).items()},
    }


def write_assets(character: Character, out_xml: Path) -> tuple[Path, Path]:
    """Writes ``<name>.xml`` and its ``<name>.meta.json`` sidecar."""
    out_xml = Path(out_xml)
    out_meta = out_xml.with_suffix(".meta.json")
    out_xml.write_text(character_to_mjcf(character))
    out_meta.write_text(json.dumps(character_metadata(character), indent=2) + "\n")
    return out_xml, out_meta


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Convert a DeepMimic character + PD controller file to MJCF.")
    parser.add_argument("character", help="DeepMimic character file, e.g. humanoid3d.txt")
    parser.add_argument("controller", help="DeepMimic PD controller file, e.g. humanoid3d_ctrl.txt")
    parser.add_argument("--out", required=True, help="MJCF file to write (a .meta.json sidecar is written beside it)")
    parser.add_argument("--name", default=None, help="model name (default: the character file's stem)")
    args = parser.parse_args(argv)
    character = load_character(args.character, args.controller, name=args.name)
    xml_path, meta_path = write_assets(character, Path(args.out))
    print(f"wrote {xml_path} and {meta_path} ({len(hinge_names(character))} actuated hinges)")


if __name__ == "__main__":
    main()
