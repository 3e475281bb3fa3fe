"""DiffMimic's SMPL and SWORDSHIELD characters: the converter, the committed assets, and their facts against ASE's
MJCF and DiffMimic's state files."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from envs.character import CharacterError
from envs.character_sources import Collider, SourceJoint, main, source_metadata, source_to_mjcf, validate
from envs.diffmimic_characters import CHARACTERS, SMPL_BODIES, SWORDSHIELD_BODIES
from envs.formats import load_diffmimic_states
from envs.mjcf_writer import ASSET_DIR
from envs.model import load_character_model

# The shipped state files by character (tests/test_clip_formats.py lists them with their frame counts).
STATE_FILES = {
    "smpl": [
        "demo_amass/75_09_stageii.npy",
        "demo_amass/KickHuefthoch05_stageii.npy",
        "demo_amass/WalkingStraightBackwards07_stageii.npy",
        "demo_aist/gBR_sBM_cAll_d04_mBR0_ch01.npy",
        "demo_aist/gBR_sFM_cAll_d04_mBR1_ch02.npy",
    ],
    "swordshield": ["demo_swordshield/RL_Avatar_Atk_2xCombo01_Motion.npy"],
}


@pytest.mark.parametrize("name", ["smpl", "swordshield"])
def test_committed_assets_match_the_converter(tmp_path, name):
    """`python -m envs.character_sources` regenerates the committed files bit for bit."""
    main(["--out-dir", str(tmp_path)])
    for suffix in (".xml", ".meta.json"):
        assert (tmp_path / f"{name}{suffix}").read_bytes() == (ASSET_DIR / f"{name}{suffix}").read_bytes()
    assert (ASSET_DIR / f"{name}.xml").read_text() == source_to_mjcf(CHARACTERS[name])
    assert json.loads((ASSET_DIR / f"{name}.meta.json").read_text()) == source_metadata(CHARACTERS[name])


def test_models_load_in_the_state_files_body_order():
    smpl, sword = load_character_model("smpl"), load_character_model("swordshield")
    assert smpl.body_names == SMPL_BODIES and len(SMPL_BODIES) == 18
    assert sword.body_names == SWORDSHIELD_BODIES and len(SWORDSHIELD_BODIES) == 14
    # 13 three-hinge joints + elbows and knees; SWORDSHIELD: no collars, no spine3, no left wrist (9 x 3 + 4).
    assert (smpl.action_size, sword.action_size) == (43, 31)
    assert smpl.spherical_hinges.shape == (13, 3) and sword.spherical_hinges.shape == (9, 3)
    assert [smpl.body_names[p] for p in smpl.body_parent[[4, 6, 14]]] == ["torso", "right_clavicle", "right_shin"]
    assert [sword.body_names[p] for p in sword.body_parent[[3, 7, 13]]] == ["torso", "left_upper_arm", "left_shin"]
    # Every body has a collision geom carrying its name (fall contacts and the viewer find bodies by it).
    for model in (smpl, sword):
        assert [model.sys.mj_model.geom(int(g)).name for g in model.body_geom] == list(model.body_names)
        assert set(model.body_names) - {model.body_names[i] for i in model.fall_contact} == {"right_foot", "left_foot"}


def test_masses_gains_and_limits_are_diffmimics():
    smpl, sword = load_character_model("smpl"), load_character_model("swordshield")
    # Sums of the configs' body masses (SMPL.py: 6.797376 + 3.1982167 + 10.002052 + 2 x 1.0047175 + 3.8822644
    # + 2 x (1.4993314 + 0.9996799 + 0.499974) + 2 x (4.5022917 + 2.9997497 + 0.99968714); SWORDSHIELD.py: 10 +
    # 12.002052 + 3.8822644 + 1.4993314 + 0.9996799 + 1.2 + 1.4993314 + 3.12 + the same legs).
    assert float(smpl.sys.link.inertia.mass.sum()) == pytest.approx(48.89077178, abs=1e-5)
    assert float(sword.sys.link.inertia.mass.sum()) == pytest.approx(51.20611618, abs=1e-5)
    mj = sword.sys.mj_model
    hand = mj.body("left_lower_arm").id
    assert float(mj.body_mass[hand]) == pytest.approx(3.12, abs=1e-6)  # forearm, shield and hand together
    for model, gains in ((smpl, {"spine3_x": 200, "right_collar_y": 100, "left_wrist_z": 50, "right_elbow": 70}),
                         (sword, {"neck_y": 50, "right_knee": 150, "left_ankle_x": 90, "right_shoulder_z": 100})):
        mj = model.sys.mj_model
        for hinge, strength in gains.items():
            actuator = model.hinge_names.index(hinge)
            assert mj.actuator_gainprm[actuator, 0] == pytest.approx(strength)  # Kp = strength
            assert -mj.actuator_biasprm[actuator, 2] == pytest.approx(strength / 10)  # Kd = strength / 10
        assert not mj.actuator_forcelimited.any()  # DiffMimic has no torque limits
    index = sword.hinge_names.index
    np.testing.assert_allclose(sword.hinge_range[index("right_knee")], np.radians([0.0, 160.0]), atol=1e-6)
    np.testing.assert_allclose(sword.hinge_range[index("left_elbow")], np.radians([-160.0, 0.0]), atol=1e-6)
    np.testing.assert_allclose(sword.hinge_limits[index("left_elbow")], np.radians([-160.0, 0.0]), atol=1e-6)
    np.testing.assert_allclose(smpl.hinge_range[smpl.hinge_names.index("right_knee")], [-math.pi, math.pi], atol=1e-6)
    np.testing.assert_allclose(smpl.hinge_range[smpl.hinge_names.index("spine1_y")], [-math.pi, math.pi], atol=1e-6)


def test_hinge_axes():
    """3-DoF joints: DeepMimic's z, y, x in z-up terms (-y, z, x); 1-DoF joints: the config frame's x axis."""
    smpl, sword = load_character_model("smpl"), load_character_model("swordshield")

    def axis(model, hinge):
        mj = model.sys.mj_model
        return mj.jnt_axis[mj.joint(hinge).id]

    np.testing.assert_allclose([axis(smpl, f"neck_{a}") for a in "zyx"], [[0, -1, 0], [0, 0, 1], [1, 0, 0]])
    np.testing.assert_allclose(axis(smpl, "right_elbow"), [0, 0, -1], atol=1e-9)  # rotation y: 90 turns x onto -z
    np.testing.assert_allclose(axis(smpl, "left_elbow"), [0, 0, 1], atol=1e-9)  # rotation y: -90
    np.testing.assert_allclose(axis(smpl, "left_knee"), [0, 1, 0], atol=1e-9)  # rotation z: 90 turns x onto +y
    np.testing.assert_allclose(axis(sword, "right_elbow"), [0, 1, 0], atol=1e-9)


def test_spherical_limits_follow_the_hinge_axes():
    """Hinge z turns about DeepMimic's z, the z-up frame's -y: it takes the source's y limits mirrored; hinge y
    (z-up z) the z limits; hinge x the x limits. (Every 3-DoF limit in both sources is +-180 degrees.)"""
    joint = SourceJoint("test", "pelvis", "torso", (0.0, 0.0, 0.0), ((-10.0, 20.0), (-30.0, 40.0), (-50.0, 60.0)), 1.0)
    sword = CHARACTERS["swordshield"]
    character = dataclasses.replace(sword, joints=(joint,) + tuple(j for j in sword.joints if j.child != "torso"))
    limits = {name: np.degrees(limit) for name, owner, limit in character.hinges() if owner is joint}
    np.testing.assert_allclose(limits["test_z"], [-40.0, 30.0])
    np.testing.assert_allclose(limits["test_y"], [-50.0, 60.0])
    np.testing.assert_allclose(limits["test_x"], [-10.0, 20.0])


@pytest.mark.parametrize("name", ["smpl", "swordshield"])
def test_offsets_match_every_shipped_state_file(diffmimic_data_dir, name):
    """Body i of the file is body i of the model: every parent-to-child offset, seen in the parent's frame, equals
    the model's within 1 mm in every frame."""
    model = load_character_model(name)
    mj = model.sys.mj_model
    for relpath in STATE_FILES[name]:
        states = load_diffmimic_states(diffmimic_data_dir / relpath, expected_bodies=model.num_bodies)
        for child in range(1, model.num_bodies):
            parent = model.body_parent[child]
            parent_rot = Rotation.from_quat(states.rot[:, parent][:, [1, 2, 3, 0]])
            offset = parent_rot.inv().apply(states.pos[:, child] - states.pos[:, parent])
            expected = mj.body(model.body_names[child]).pos
            assert np.abs(offset - expected).max() < 1e-3, (relpath, model.body_names[child])


def _ase_rest_geoms(path) -> dict[str, tuple[str, np.ndarray, float]]:
    """ASE's geoms in the world at its rest pose (its bodies are not rotated): name -> (type, points, size);
    points are a sphere's or box's centre or a capsule's two ends, size a radius or a box's z half size."""
    geoms = {}

    def walk(body, origin):
        origin = origin + np.array([float(v) for v in body.get("pos", "0 0 0").split()])
        for geom in body.findall("geom"):
            radius = float(geom.get("size").split()[0])
            if geom.get("fromto") and geom.get("type", "capsule") == "capsule":  # not the shield's cylinder
                ends = np.array([float(v) for v in geom.get("fromto").split()]).reshape(2, 3) + origin
                geoms[geom.get("name")] = ("capsule", ends, radius)
            elif geom.get("type") in ("sphere", "box"):
                centre = np.array([float(v) for v in geom.get("pos", "0 0 0").split()]) + origin
                size = float(geom.get("size").split()[-1])  # a box: compared by its centre and z half size
                kind = geom.get("type")
                geoms[geom.get("name")] = (kind, centre[None], radius if kind == "sphere" else size)
        for child in body.findall("body"):
            walk(child, origin)

    walk(ET.parse(path).getroot().find("worldbody/body"), np.zeros(3))
    return geoms


def _our_rest_geoms(name: str) -> dict[str, tuple[str, np.ndarray, float]]:
    model = load_character_model(name).sys.mj_model
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    geoms = {}
    for index in range(model.ngeom):
        centre, kind = data.geom_xpos[index], model.geom_type[index]
        if kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
            half = data.geom_xmat[index].reshape(3, 3)[:, 2] * model.geom_size[index, 1]
            ends = np.stack([centre - half, centre + half])
            geoms[model.geom(index).name] = ("capsule", ends, model.geom_size[index, 0])
        elif kind == mujoco.mjtGeom.mjGEOM_SPHERE:
            geoms[model.geom(index).name] = ("sphere", centre[None].copy(), model.geom_size[index, 0])
        elif kind == mujoco.mjtGeom.mjGEOM_BOX:
            geoms[model.geom(index).name] = ("box", centre[None].copy(), model.geom_size[index, 2])
    return geoms


@pytest.mark.parametrize(
    "name, ase_file, differ",
    [
        # SMPL stands in a T-pose, AMP's humanoid with its arms down: the arms are compared in length only.
        ("smpl", "amp_humanoid.xml", ("right_upper_arm", "right_lower_arm", "right_hand", "left_upper_arm",
                                      "left_lower_arm", "left_hand")),
        # DiffMimic's hilt sits 14 cm further back than ASE's (FIDELITY.md).
        ("swordshield", "amp_humanoid_sword_shield.xml", ("sword_hilt",)),
    ],
)
def test_shapes_match_ases_mjcf(ase_data_dir, name, ase_file, differ):
    ase = _ase_rest_geoms(ase_data_dir / "mjcf" / ase_file)
    ours = _our_rest_geoms(name)
    ours = {key: value for key, value in ours.items() if key != "floor"}
    shared = sorted(set(ase) & set(ours))
    assert len(shared) >= 17, shared  # the feet and the sword's blade are boxes
    for geom in shared:
        (kind, points, radius), (ase_kind, ase_points, ase_radius) = ours[geom], ase[geom]
        assert (kind, radius) == (ase_kind, pytest.approx(ase_radius, abs=1e-6)), geom
        if geom in differ:
            lengths = [np.linalg.norm(p[-1] - p[0]) for p in (points, ase_points)]
            assert lengths[0] == pytest.approx(lengths[1], abs=1e-6), geom
            continue
        # Capsule ends in either order; root at 1 m in both files.
        matches = [np.abs(points - candidate).max() for candidate in (ase_points, ase_points[::-1])]
        assert min(matches) < 1e-6, (geom, points, ase_points)


def test_unknown_character_is_one_clear_error():
    with pytest.raises(CharacterError, match=r"unknown character 'smlp': expected one of \('humanoid3d', 'smpl', "):
        load_character_model("smlp")


STUB = (Collider("capsule", (0.1, 0.1)),)  # radius 0.1, length 0.1: shorter than its two caps


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: dataclasses.replace(c, joints=c.joints[:-1]), r"every body but the root \(pelvis\) needs exactly"),
        (lambda c: dataclasses.replace(c, end_effectors=("sword",)), r"'sword' is not a body"),
        (
            lambda c: dataclasses.replace(
                c, joints=(dataclasses.replace(c.joints[0], limits=((10.0, -10.0),)),) + c.joints[1:]
            ),
            r"joint 'spine1' needs 1 or 3 increasing",
        ),
        (
            lambda c: dataclasses.replace(c, bodies=(dataclasses.replace(c.bodies[0], colliders=STUB),) + c.bodies[1:]),
            r"body 'pelvis' has a capsule shorter than its two caps",
        ),
    ],
)
def test_bad_character_descriptions(change, message):
    with pytest.raises(CharacterError, match=rf"character 'swordshield' \(DiffMimic .*SWORDSHIELD\.py\): {message}"):
        validate(change(CHARACTERS["swordshield"]))



def _text_protobuf(text: str) -> list:
    """A Brax v1 text protobuf as nested ``(key, value)`` lists: enough of the format to read DiffMimic's configs."""
    tokens = re.findall(r'"[^"]*"|[{}:]|[^\s{}:]+', text)
    items, stack, i = [], [], 0
    while i < len(tokens):
        if tokens[i] == "}":
            key, outer = stack.pop()
            outer.append((key, items))
            items, i = outer, i + 1
        elif tokens[i + 1] == "{":
            stack.append((tokens[i], items))
            items, i = [], i + 2
        else:  # key : value
            value = tokens[i + 2].strip('"')
            items.append((tokens[i], float(value) if re.fullmatch(r"-?[\d.]+", value) else value))
            i += 3
    return items


def _field(items: list, key: str, default=None):
    return next((value for name, value in items if name == key), default)


def _vector(items) -> np.ndarray:
    return np.array([_field(items or [], axis, 0.0) for axis in "xyz"])


def _size(shape: str, spec: list) -> tuple[float, ...]:
    if shape == "box":
        return tuple(_vector(_field(spec, "halfsize")))
    return (_field(spec, "radius"),) + ((_field(spec, "length"),) if shape == "capsule" else ())


@pytest.mark.parametrize("name, config", [("smpl", "SMPL.py"), ("swordshield", "SWORDSHIELD.py")])
def test_facts_equal_diffmimics_config(name, config):
    """Every number of envs/diffmimic_characters.py against DiffMimic's own config, read as text (never run), when
    MIMICBENCH_DIFFMIMIC_REPO names a checkout of jiawei-ren/diffmimic (d0db48a); skipped otherwise."""
    repo = os.environ.get("MIMICBENCH_DIFFMIMIC_REPO")
    if not repo:
        pytest.skip("set MIMICBENCH_DIFFMIMIC_REPO to a DiffMimic checkout to check the transcribed facts")
    text = (Path(repo) / "diffmimic" / "mimic_envs" / "system_configs" / config).read_text().split('"""')[1]
    parsed = _text_protobuf(text)
    character = CHARACTERS[name]
    bodies = [value for key, value in parsed if key == "bodies" and _field(value, "name") != "floor"]
    assert [_field(body, "name") for body in bodies] == [body.name for body in character.bodies]
    for body, ours in zip(bodies, character.bodies):
        assert _field(body, "mass") == ours.mass, ours.name
        colliders = [value for key, value in body if key == "colliders"]
        assert len(colliders) == len(ours.colliders), ours.name
        for collider, our in zip(colliders, ours.colliders):
            shape = next(key for key, _ in collider if key in ("sphere", "capsule", "box"))
            assert (shape, _size(shape, _field(collider, shape))) == (our.shape, our.size), ours.name
            np.testing.assert_array_equal(_vector(_field(collider, "position")), our.pos)
            np.testing.assert_array_equal(_vector(_field(collider, "rotation")), our.rotation)
    strengths = {_field(value, "joint"): _field(value, "strength") for key, value in parsed if key == "actuators"}
    joints = [value for key, value in parsed if key == "joints"]
    assert [_field(joint, "name") for joint in joints] == [joint.name for joint in character.joints]
    for joint, ours in zip(joints, character.joints):
        assert (_field(joint, "parent"), _field(joint, "child")) == (ours.parent, ours.child)
        np.testing.assert_array_equal(_vector(_field(joint, "parent_offset")), ours.offset)
        np.testing.assert_array_equal(_vector(_field(joint, "child_offset")), 0.0)
        np.testing.assert_array_equal(_vector(_field(joint, "rotation")), ours.rotation)
        limits = tuple((_field(lim, "min", 0.0), _field(lim, "max", 0.0)) for key, lim in joint if key == "angle_limit")
        assert limits == ours.limits and strengths[ours.name] == ours.strength, ours.name
