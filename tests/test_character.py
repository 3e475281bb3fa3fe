"""The DeepMimic character converter and the committed MJCF asset."""

import json
from pathlib import Path

import numpy as np
import pytest

from envs.character import CharacterError, load_character
from envs.mjcf_writer import ASSET_DIR, character_metadata, character_to_mjcf, hinge_names
from envs.model import load_character_model


@pytest.fixture(scope="module")
def source_files(data_dir):
    return data_dir / "characters" / "humanoid3d.txt", data_dir / "controllers" / "humanoid3d_ctrl.txt"


def test_committed_asset_matches_converter(source_files):
    character = load_character(*source_files)
    assert (ASSET_DIR / "humanoid3d.xml").read_text() == character_to_mjcf(character)
    assert json.loads((ASSET_DIR / "humanoid3d.meta.json").read_text()) == character_metadata(character)


def test_character_facts(source_files):
    character = load_character(*source_files)
    assert character.joint_names[:4] == ("root", "chest", "neck", "right_hip")
    assert character.motion_frame_size() == 44  # the width of every shipped motion frame
    assert len(hinge_names(character)) == 8 * 3 + 4  # 8 spherical joints, 4 revolute
    chest = character.joints[1]
    assert (chest.kp, chest.kd, chest.torque_limit) == (1000.0, 100.0, 200.0)


def test_model_bodies_follow_deepmimic_order(character_model):
    model = character_model
    assert model.body_names[0] == "root" and len(model.body_names) == 15
    assert model.action_size == 28
    # Wrists are fixed joints: points on the elbow links, a forearm's length below the elbow.
    wrist = model.body_index("right_wrist")
    assert model.body_link[wrist] == model.body_link[model.body_index("right_elbow")]
    assert model.body_offset[wrist][2] == pytest.approx(-0.258947)
    assert set(model.body_names[i] for i in model.fall_contact) == {"root", "chest", "neck"}  # EnableFallContact
    assert [model.sys.mj_model.geom(int(g)).name for g in model.body_geom] == list(model.body_names)
    assert float(model.sys.link.inertia.mass.sum()) == pytest.approx(45.0)  # DeepMimic's humanoid3d total mass


def test_joint_limits(character_model):
    """Spherical hinges span +-180 degrees (DiffMimic); revolute joints keep DeepMimic's limits, widened by 0.25 rad;
    the actuators have no control range, so PD targets may lie past a limit; DeepMimic's limits stay in the sidecar."""
    model = character_model
    index = model.hinge_names.index
    np.testing.assert_allclose(model.hinge_range[index("right_shoulder_z")], [-np.pi, np.pi], atol=1e-6)
    np.testing.assert_allclose(model.hinge_range[index("right_knee")], [-3.14 - 0.25, 0.25], atol=1e-6)
    np.testing.assert_allclose(model.hinge_range[index("left_elbow")], [-0.25, 3.14 + 0.25], atol=1e-6)
    np.testing.assert_allclose(model.hinge_limits[index("right_shoulder_x")], [-3.14, 0.5])  # humanoid3d.txt
    assert np.all(np.isinf(np.asarray(model.sys.actuator.ctrl_range)))
    assert model.spherical_hinges.shape == (8, 3) and model.revolute_hinges.shape == (4,)


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: "{ not json", "not valid JSON"),
        (lambda d: {**d, "Skeleton": {}}, "no 'Skeleton.Joints'"),
        (lambda d: d["Skeleton"]["Joints"][2].update(Type="prismatic") or d, "unknown type 'prismatic'"),
        (lambda d: d["Skeleton"]["Joints"][3].pop("AttachY") or d, "no 'AttachY' field"),
        (lambda d: d["BodyDefs"][1].update(Mass=-1) or d, "non-positive mass"),
        (lambda d: d["BodyDefs"].pop() and d, "need one body per joint"),
    ],
)
def test_bad_character_file_names_file_and_problem(tmp_path, source_files, mutate, message):
    data = mutate(json.loads(source_files[0].read_text()))
    bad = _write(tmp_path, "bad_character.txt", data)
    with pytest.raises(CharacterError, match=message) as info:
        load_character(bad, source_files[1])
    assert "bad_character.txt" in str(info.value)


def test_missing_gains_names_controller_file(tmp_path, source_files):
    controller = json.loads(source_files[1].read_text())
    controller["PDControllers"] = [c for c in controller["PDControllers"] if c["Name"] != "neck"]
    bad = _write(tmp_path, "ctrl.txt", controller)
    with pytest.raises(CharacterError, match="ctrl.txt: no PD gains for joint 'neck'"):
        load_character(source_files[0], bad)


def test_unknown_character_lists_choices():
    with pytest.raises(CharacterError, match="unknown character 'robot'.*humanoid3d"):
        load_character_model("robot")
