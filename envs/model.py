"""The simulated character at run time: the Brax system plus DeepMimic's body list on top of Brax's links.

Brax orders links depth-first as the MJCF nests them and has no links for DeepMimic's fixed joints (wrists). Every
other module talks about *bodies* in the character's own order (humanoid3d: DeepMimic's ``root``, ``chest``,
``neck``, ``right_hip``, ...; smpl and swordshield: the order of DiffMimic's state files), with fixed joints as points
rigidly attached to their parent link. :func:`body_states` is the one place that maps
Brax link states to those bodies, used alike for the reference motion and for the simulation.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from functools import lru_cache
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from brax import base, math
from brax.io import mjcf

from envs.character import SPHERICAL_AXES, CharacterError

ASSET_DIR = Path(__file__).parent / "assets"
# humanoid3d: DeepMimic's (envs.mjcf_writer); smpl, swordshield: DiffMimic's (envs.character_sources).
CHARACTERS = ("humanoid3d", "smpl", "swordshield")
INERTIA_MODELS = ("unit", "geometric")
JOINT_DAMPING = ("brax", "diffmimic")


@dataclasses.dataclass(frozen=True, eq=False)
class CharacterModel:
    name: str
    sys: base.System
    body_names: tuple[str, ...]  # the character's body order (DeepMimic's; DiffMimic's state files')
    motion_joints: tuple[tuple[str, str], ...]  # (name, type) of the joint moving each non-root body, in body order
    # (DeepMimic's motion-file order for humanoid3d, where joints and bodies share names)
    body_link: np.ndarray  # [B] Brax link index each body rides on
    body_offset: np.ndarray  # [B, 3] point offset in that link's frame (zero for real links)
    hinge_names: tuple[str, ...]  # actuator order = action order
    hinge_q_index: np.ndarray  # [A] index of each hinge in q (and qd index = q index - 1)
    hinge_range: np.ndarray  # [A, 2] the simulated joint's limits (radians)
    hinge_limits: np.ndarray  # [A, 2] DeepMimic's limits of each hinge (character file), for the action mappings
    spherical_hinges: np.ndarray  # [S, 3] action indices of each spherical joint's hinges (z, y, x)
    revolute_hinges: np.ndarray  # [R] action indices of the revolute joints
    body_parent: np.ndarray  # [B] parent body index, -1 for the root
    diff_weights: np.ndarray  # [B] DeepMimic's reward weight per joint
    end_effectors: np.ndarray  # [E] body indices
    fall_contact: np.ndarray  # [F] body indices with EnableFallContact in the character file
    body_geom: np.ndarray  # [B] index of each body's collision geom (the geom carries the body's name)
    link_mass: np.ndarray  # [L] for the centre of mass
    link_com_offset: np.ndarray  # [L, 3] centre of mass in the link frame
    mjcf_path: Path

    @property
    def num_bodies(self) -> int:
        return len(self.body_names)

    @property
    def action_size(self) -> int:
        return len(self.hinge_names)

    @property
    def action_center(self) -> np.ndarray:
        """[A] middle of DeepMimic's range of each hinge."""
        return self.hinge_limits.mean(axis=1)

    @property
    def action_half_range(self) -> np.ndarray:
        """[A] half of DeepMimic's range of each hinge."""
        return 0.5 * (self.hinge_limits[:, 1] - self.hinge_limits[:, 0])

    def body_index(self, name: str) -> int:
        return self.body_names.index(name)


def _resolve_paths(character: str) -> tuple[Path, Path]:
    path = Path(character)
    if path.suffix == ".xml":
        if not path.exists():
            raise CharacterError(f"{path}: MJCF file not found")
        xml = path
    elif character in CHARACTERS:
        xml = ASSET_DIR / f"{character}.xml"
    else:
        raise CharacterError(
            f"unknown character '{character}': expected one of {CHARACTERS} or a path to an MJCF written by "
            "`python -m envs.mjcf_writer` or `python -m envs.character_sources` (with its .meta.json beside it)"
        )
    meta = xml.with_suffix(".meta.json")
    if not meta.exists():
        raise CharacterError(f"{meta}: metadata sidecar missing; regenerate with `python -m envs.mjcf_writer`")
    return xml, meta


@lru_cache(maxsize=8)
def load_character_model(character: str = "humanoid3d") -> CharacterModel:
    """Loads a committed character (by name) or a converted MJCF (by path) into a :class:`CharacterModel`."""
    xml, meta_path = _resolve_paths(character)
    meta = json.loads(meta_path.read_text())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Brax System")
        sys = mjcf.load(str(xml))
    mj = sys.mj_model
    link_names = list(sys.link_names)
    body_names = tuple(meta["body_names"])
    body_link, body_offset = [], []
    for name in body_names:
        if name in meta["fixed_points"]:
            point = meta["fixed_points"][name]
            body_link.append(link_names.index(point["parent"]))
            body_offset.append(point["offset"])
        elif name in link_names:
            body_link.append(link_names.index(name))
            body_offset.append([0.0, 0.0, 0.0])
        else:
            raise CharacterError(f"{meta_path}: body '{name}' is neither a link of {xml} nor a fixed point")

    hinge_names = tuple(mj.actuator(i).name for i in range(mj.nu))
    hinge_q_index = np.array([mj.jnt_qposadr[mj.joint(mj.actuator_trnid[i, 0]).id] for i in range(mj.nu)])
    if "hinge_limits" not in meta:
        raise CharacterError(f"{meta_path}: no 'hinge_limits'; regenerate with `python -m envs.mjcf_writer`")
    hinge_limits = np.array([meta["hinge_limits"][name] for name in hinge_names], dtype=np.float32)
    hinge_range = np.array([mj.jnt_range[mj.actuator_trnid[i, 0]] for i in range(mj.nu)], dtype=np.float32)
    hinge_index = {name: i for i, name in enumerate(hinge_names)}
    spherical = [[hinge_index[f"{n}_{a}"] for a in SPHERICAL_AXES] for n, t in meta["motion_joints"] if t == "spherical"]
    revolute = [hinge_index[n] for n, t in meta["motion_joints"] if t == "revolute"]
    geom_names = [mj.geom(i).name for i in range(mj.ngeom)]
    missing = [name for name in body_names if name not in geom_names]
    if missing:
        raise CharacterError(f"{xml}: no collision geom named after bodies {missing}")
    link_index = {name: i for i, name in enumerate(link_names)}
    body_parent = []
    for name in body_names:
        parent = None
        if name in meta["fixed_points"]:
            parent = meta["fixed_points"][name]["parent"]
        elif sys.link_parents[link_index[name]] >= 0:
            parent = link_names[sys.link_parents[link_index[name]]]
        body_parent.append(-1 if parent is None else body_names.index(parent))
    return CharacterModel(
        name=meta["name"],
        sys=sys,
        body_names=body_names,
        motion_joints=tuple((name, jtype) for name, jtype in meta["motion_joints"]),
        body_link=np.asarray(body_link),
        body_offset=np.asarray(body_offset, dtype=np.float32),
        hinge_names=hinge_names,
        hinge_q_index=hinge_q_index,
        hinge_range=hinge_range,
        hinge_limits=hinge_limits,
        spherical_hinges=np.asarray(spherical, dtype=np.int32).reshape(-1, 3),
        revolute_hinges=np.asarray(revolute, dtype=np.int32),
        body_parent=np.asarray(body_parent),
        diff_weights=np.asarray(meta["diff_weights"], dtype=np.float32),
        end_effectors=np.array([body_names.index(n) for n in meta["end_effectors"]]),
        fall_contact=np.array([body_names.index(n) for n in meta["fall_contact"]]),
        body_geom=np.array([geom_names.index(name) for name in body_names]),
        link_mass=np.asarray(sys.link.inertia.mass, dtype=np.float32),
        link_com_offset=np.asarray(sys.link.inertia.transform.pos, dtype=np.float32),
        mjcf_path=xml,
    )


@dataclasses.dataclass(frozen=True)
class BodyStates:
    """World-frame states of the tracked bodies; arrays are ``[..., B, k]``."""

    pos: jax.Array  # [B, 3] metres
    rot: jax.Array  # [B, 4] quaternion w, x, y, z
    vel: jax.Array  # [B, 3] m/s
    ang: jax.Array  # [B, 3] rad/s


jax.tree_util.register_dataclass(BodyStates, data_fields=["pos", "rot", "vel", "ang"], meta_fields=[])


def body_states(model: CharacterModel, x: base.Transform, xd: base.Motion) -> BodyStates:
    """Maps Brax link transforms/motions (``[L, ...]``) to DeepMimic bodies (``[B, ...]``)."""
    pos, rot = x.pos[model.body_link], x.rot[model.body_link]
    vel, ang = xd.vel[model.body_link], xd.ang[model.body_link]
    offset = jax.vmap(math.rotate)(jnp.asarray(model.body_offset), rot)
    return BodyStates(pos=pos + offset, rot=rot, vel=vel + jnp.cross(ang, offset), ang=ang)


def with_inertia(sys: base.System, inertia: str) -> base.System:
    """Applies the inertia model to every backend's copy of it (Brax's link inertia, MuJoCo's body_inertia).

    ``spring_inertia_scale`` is 0 in the asset, so spring and positional use ``link.inertia.i`` as generalized does.
    """
    if inertia == "geometric":
        return sys
    unit_link = jnp.tile(jnp.eye(3), (sys.num_links(), 1, 1))
    unit_body = jnp.asarray(sys.body_inertia).at[1:].set(1.0)  # body 0 is the world
    return sys.tree_replace({"link.inertia.i": unit_link, "body_inertia": unit_body})


def without_torque_limits(sys: base.System) -> base.System:
    """Removes every actuator's force limit on every backend (Brax's ``actuator.force_range``, MuJoCo's
    ``actuator_forcelimited``): DiffMimic's PD controller applies Kp * error - Kd * velocity unclipped."""
    unbounded = jnp.tile(jnp.array([-jnp.inf, jnp.inf]), (sys.nu, 1))
    return sys.tree_replace(
        {
            "actuator.force_range": unbounded,
            "actuator_forcerange": unbounded,
            "actuator_forcelimited": np.zeros_like(np.asarray(sys.actuator_forcelimited)),
        }
    )


def with_diffmimic_joint_damping(sys: base.System) -> base.System:
    """Sets each actuated link's ``constraint_ang_damping`` to its actuators' Kd, as DiffMimic's joints carry
    ``angular_damping`` = Kp / 10 (``HUMANOID.py``). Brax v1's PBD step applies ``-angular_damping x (parent's -
    child's angular velocity)`` at every substep beside the PD torque; spring and positional apply
    ``constraint_ang_damping x`` the joint's relative angular velocity the same way. Links without actuators (the
    root's free joint, fixed joints) keep the asset's value."""
    kd = -np.asarray(sys.actuator.bias_qd)
    link_of_actuator = np.asarray(sys.dof_link())[np.asarray(sys.actuator.qd_id)]
    damping = np.asarray(sys.link.constraint_ang_damping, dtype=np.float64).copy()
    for link in np.unique(link_of_actuator):
        # one value per joint: DeepMimic's and DiffMimic's gains are per joint, so a ball joint's three hinges agree
        damping[link] = kd[link_of_actuator == link].mean()
    return sys.tree_replace({"link.constraint_ang_damping": jnp.asarray(damping, dtype=jnp.float32)})
