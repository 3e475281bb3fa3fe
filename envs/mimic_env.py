"""The shared mimic environment: a Brax ``PipelineEnv`` that asks the character to reproduce a reference motion.

One step: action per hinge -> PD target (``action_mapping``, see :mod:`envs.actions`; targets may lie past a joint
limit, as in both originals) -> ``substeps`` physics steps -> compare the simulated bodies with the reference frame.
The step returns DeepMimic's reward in ``state.reward`` (0 on a fall step, as DeepMimic's ``cSceneImitate::CalcReward``)
and puts DiffMimic's differentiable state-matching loss, the pose error, fall and replay flags in ``state.metrics``.

A fall is DeepMimic's: a ground contact of one of the clip's fall-contact bodies (``--fall_contact_bodies``, per clip in
:mod:`envs.clip_settings`), found with Brax's collision detection (``brax.contact.get``, MuJoCo's narrow phase) on the
state after the step, the same way on every backend, within DeepMimic's 1 mm (``fall_contact_distance``).

Demonstration Replay (DiffMimic): after a step, if the mean world body-position error exceeds
``replay_threshold`` (``threshold`` mode) or with probability ``replay_rate`` (``random`` mode), the simulated
state is replaced by the reference state of the same frame. The replacement is a ``jnp.where`` on the whole
pipeline state, so gradients flow through every non-replayed step and stop at the replayed ones.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import numpy as np
import jax.numpy as jnp
from brax import base
from brax import contact as brax_contact
from brax.envs.base import PipelineEnv, State

from envs.actions import ACTION_MAPPINGS, pd_targets
from envs.clip_settings import clip_settings
from envs.losses import LossWeights, diffmimic_bodies, global_position_error, pose_error, state_matching_loss
from envs.model import (
    INERTIA_MODELS,
    JOINT_DAMPING,
    CharacterModel,
    body_states,
    with_diffmimic_joint_damping,
    with_inertia,
    without_torque_limits,
)
from envs.motion import ReferenceMotion
from envs.observations import OBSERVATION_TYPES, observe, observe_deepmimic, observe_timestamp
from envs.rewards import (
    RewardWeights,
    centre_of_mass_velocity,
    cycle_root_offset,
    deepmimic_reward,
    reset_lift,
    shift_reference,
)

BACKENDS = ("spring", "positional", "generalized", "mjx")
REPLAY_MODES = ("none", "threshold", "random")
TORQUE_LIMITS = ("none", "character")
PHASE_MODES = ("exact", "rounded")


class EnvConfigError(ValueError):
    """An environment option that is not valid."""


@dataclasses.dataclass(frozen=True)
class MimicConfig:
    """Options of :class:`MimicEnv`; defaults follow DiffMimic's released settings."""

    backend: Literal["spring", "positional", "generalized", "mjx"] = "spring"
    """Brax physics pipeline; spring measured 3-5x faster than the others on CPU."""
    substeps: int = 16
    """Physics steps per 30 Hz control step (timestep = control dt / substeps): DiffMimic's 16 (DeepMimic: 20)."""
    inertia: Literal["unit", "geometric"] = "unit"
    """Link rotational inertia on every backend: `unit` = diag(1, 1, 1) kg m^2 (DiffMimic's system config), `geometric`
    = from the collision shapes and masses (DeepMimic/Bullet)."""
    torque_limits: Literal["none", "character"] = "none"
    """`none`: unclipped PD torques, as DiffMimic's controller applies them; `character`: the character's actuator
    force limits (humanoid3d: DeepMimic's `TorqueLim`, 50-200 N m; smpl and swordshield have none). DeepMimic's
    limits kept DiffMimic from learning backflip here (FIDELITY.md section 3)."""
    action_mapping: Literal["diffmimic", "deepmimic", "range"] = "diffmimic"
    """Action -> PD target (envs.actions): `diffmimic` action x 1.2 pi, `deepmimic` DeepMimic's offset/scale,
    `range` mid-range + half-range x action."""
    fall_contact_bodies: tuple[str, ...] | None = None
    """Bodies whose ground contact is a fall (DeepMimic's `--fall_contact_bodies`); None: on humanoid3d the clip's list
    from envs.clip_settings (every body but the ankles unless the clip says otherwise), on another character its own
    list (its metadata's `fall_contact`)."""
    fall_contact_distance: float = 0.001
    """Metres of signed geom-floor distance at or below which a fall body touches the floor: DeepMimic's
    `cContactManager` counts a Bullet contact point at distance <= 0.001 x world scale (1 mm). Bodies resting on
    the floor measured -0.0004..0 m on spring and -0.019..+0.0002 m on generalized (soft contacts)."""
    observation: Literal["state", "target", "timestamp", "deepmimic"] = "state"
    """`state`: every body relative to the root's ground projection (root height visible) and the phase as
    (sin, cos); `target`: also the next reference frame; `timestamp`: DiffMimic's released observation (its 13
    bodies relative to the root, no root height, the phase as one number); `deepmimic`: DeepMimic's own state for
    its humanoid (heading-invariant but for the root's rotation and velocities, rotations as normal and tangent, the
    phase as one number; 227 values on humanoid3d). envs.observations."""
    phase: Literal["exact", "rounded"] = "exact"
    """The clip's phase (observed, and where a looping clip's reference root is re-synced): `exact` from the clip's
    duration (DeepMimic's time / period; backflip's cycle is 52.5 control steps; a clip that does not loop goes from
    0 to 1 over its frames); `rounded` this environment's phase until 6 December 2026: a whole number of steps per
    cycle (52), which drifts 0.01 cycle per cycle away from the reference, and for a clip that does not loop the
    length of the reference the env happened to build, which differed between training and evaluation
    (FIDELITY.md, *Phase*)."""
    joint_damping: Literal["brax", "diffmimic"] = "brax"
    """Extra damping of each joint's relative angular velocity, beside the PD's Kd (spring and positional's
    `constraint_ang_damping`): `brax` the asset's 30 on every joint (Brax's humanoid), `diffmimic` each actuated
    joint's own Kd, as DiffMimic's `angular_damping` (HUMANOID.py: Kp / 10), which doubles the damping along the
    actuated axes (FIDELITY.md section 4)."""
    reset_above_ground: bool = False
    """DeepMimic's `ResolveCharGroundIntersect`: at every reset (the evaluation's too) raise the character so that its
    lowest geom is 1 mm above the floor (a random start on an acrobatic clip often puts a geom below it:
    `benchmarks.reference_ground`); False: start from the reference frame as it is (DiffMimic). The reward, loss, pose
    error and replay compare with the reference as it is either way (DeepMimic's reward measures the reference's
    heights from its origin, which its reset raises by the same amount)."""
    loss_weights: LossWeights = LossWeights()
    reward_weights: RewardWeights = RewardWeights()
    random_start: bool = True
    """Reference state initialisation (RSI): start each episode at a random frame; else frame 0."""
    random_start_range: int | None = None
    """RSI start frame uniform in [0, random_start_range] (DiffMimic: ep_len_eval - ep_len = 540); None: within one
    cycle of the clip."""
    early_termination: bool = False
    """End the episode (``done``) when the character falls (DeepMimic's PPO uses it; DiffMimic does not)."""
    replay: Literal["none", "threshold", "random"] = "threshold"
    replay_threshold: float = 0.2
    """Metres of mean world body-position error that trigger a replay (0.4 acrobatics, 0.2 locomotion)."""
    replay_rate: float = 0.05
    """Replay probability per step in `random` mode."""
    episode_length: int = 32
    """Control steps per episode; the reference is extended to cover it from any start frame."""

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise EnvConfigError(f"unknown backend '{self.backend}': expected one of {BACKENDS}")
        if self.replay not in REPLAY_MODES:
            raise EnvConfigError(f"unknown replay mode '{self.replay}': expected one of {REPLAY_MODES}")
        if self.observation not in OBSERVATION_TYPES:
            raise EnvConfigError(f"unknown observation '{self.observation}': expected one of {OBSERVATION_TYPES}")
        if self.substeps < 1 or self.episode_length < 1:
            raise EnvConfigError("substeps and episode_length must be positive")
        if not 0.0 <= self.replay_rate <= 1.0:
            raise EnvConfigError(f"replay_rate must be in [0, 1], got {self.replay_rate}")
        if self.inertia not in INERTIA_MODELS:
            raise EnvConfigError(f"unknown inertia '{self.inertia}': expected one of {INERTIA_MODELS}")
        if self.action_mapping not in ACTION_MAPPINGS:
            raise EnvConfigError(f"unknown action_mapping '{self.action_mapping}': expected one of {ACTION_MAPPINGS}")
        if self.torque_limits not in TORQUE_LIMITS:
            raise EnvConfigError(f"unknown torque_limits '{self.torque_limits}': expected one of {TORQUE_LIMITS}")
        if self.phase not in PHASE_MODES:
            raise EnvConfigError(f"unknown phase '{self.phase}': expected one of {PHASE_MODES}")
        if self.joint_damping not in JOINT_DAMPING:
            raise EnvConfigError(f"unknown joint_damping '{self.joint_damping}': expected one of {JOINT_DAMPING}")
        if self.joint_damping == "diffmimic" and self.backend not in ("spring", "positional"):
            raise EnvConfigError(
                f"joint_damping 'diffmimic' sets spring and positional's per-joint damping; backend "
                f"'{self.backend}' has none (use spring or positional)"
            )
        if not np.isfinite(self.fall_contact_distance):
            raise EnvConfigError(f"fall_contact_distance must be finite, got {self.fall_contact_distance}")
        if self.random_start_range is not None and self.random_start_range < 0:
            raise EnvConfigError(f"random_start_range must be >= 0, got {self.random_start_range}")

    def start_frames(self, cycle_frames: int) -> int:
        """Number of possible RSI start frames: [0, start_frames)."""
        if not self.random_start:
            return 1
        return cycle_frames if self.random_start_range is None else self.random_start_range + 1


def _pd_damping_for_backend(sys: base.System, backend: str) -> base.System:
    """Moves the PD controller's ``kd`` from the actuators into implicit joint damping for generalized and mjx.

    Those pipelines can integrate joint damping implicitly, which keeps DeepMimic's stiff gains stable on light links
    (an explicit ``kd * dt / inertia`` of ~20 at the feet otherwise makes the character collapse within 10 steps);
    spring and positional ignore joint damping, so they keep ``kd`` in the actuator.
    """
    if backend not in ("generalized", "mjx"):
        return sys
    kd = -np.asarray(sys.actuator.bias_qd)
    dof = np.asarray(sys.actuator.qd_id)
    damping = np.asarray(sys.dof.damping).copy()
    damping[dof] = kd
    biasprm = np.asarray(sys.actuator_biasprm).copy()
    biasprm[:, 2] = 0.0
    # generalized integrates damping implicitly only with an exact mass-matrix inverse (matrix_inv_iterations=0).
    sys = sys.replace(matrix_inv_iterations=0)
    if backend == "mjx":
        # MuJoCo's constraint solver loops with lax.while_loop, which reverse mode cannot differentiate; one
        # Newton iteration (with its scanned line search) is the differentiable setting MJX documents.
        sys = sys.tree_replace({"opt.iterations": 1, "opt.ls_iterations": 4})
    return sys.tree_replace(
        {
            "dof.damping": jnp.asarray(damping),
            "dof_damping": jnp.asarray(damping),
            "actuator.bias_qd": jnp.zeros_like(sys.actuator.bias_qd),
            "actuator_biasprm": jnp.asarray(biasprm),
        }
    )


class MimicEnv(PipelineEnv):
    """Tracks ``reference`` with ``model``; build it with :func:`envs.make_env` to get the reference extended."""

    def __init__(
        self,
        model: CharacterModel,
        reference: ReferenceMotion,
        config: MimicConfig = MimicConfig(),
        *,
        remat_substeps: bool = True,
    ):
        """``remat_substeps``: recompute each physics substep in the backward pass instead of storing its
        intermediates (see :meth:`pipeline_step`); it changes neither values nor forward-only code, only the cost
        of a gradient through :meth:`step`."""
        config.validate()
        needed = config.start_frames(reference.cycle_frames) + config.episode_length + 1
        if reference.num_frames < needed:
            raise EnvConfigError(
                f"reference '{reference.name}' has {reference.num_frames} frames; episodes of {config.episode_length} "
                f"steps need {needed} (build it with envs.make_env or a larger num_frames)"
            )
        sys = with_inertia(model.sys.tree_replace({"opt.timestep": reference.dt / config.substeps}), config.inertia)
        if config.torque_limits == "none":
            sys = without_torque_limits(sys)
        if config.joint_damping == "diffmimic":
            sys = with_diffmimic_joint_damping(sys)
        sys = _pd_damping_for_backend(sys, config.backend)
        super().__init__(sys=sys, backend=config.backend, n_frames=config.substeps)
        self.model = model
        self.reference = reference
        self.config = config
        self.remat_substeps = remat_substeps
        # mjx integrates MuJoCo's true joint velocities; Brax's own pipelines start from their own qd -> xd map.
        self._reference_qd = reference.qd if config.backend == "mjx" else reference.qd_brax
        fall_bodies = config.fall_contact_bodies
        if fall_bodies is None:
            fall_bodies = clip_settings(reference.name).fall_contact_bodies if model.name == "humanoid3d" else None
        if fall_bodies is None:  # the character's own list, from its metadata
            fall_bodies = tuple(model.body_names[i] for i in model.fall_contact)
        unknown = sorted(set(fall_bodies) - set(model.body_names))
        if unknown:
            raise EnvConfigError(f"fall_contact_bodies {unknown} are not bodies of '{model.name}': {model.body_names}")
        self.fall_contact_bodies = tuple(fall_bodies)
        mask = np.zeros(sys.ngeom, bool)
        mask[[model.body_geom[model.body_index(name)] for name in fall_bodies]] = True
        self._fall_geom = mask  # [ngeom] geoms whose floor contact is a fall (only body-floor pairs collide)
        # The fall query collides only the fall bodies with the floor: MuJoCo filters pairs by contype/conaffinity
        # when it builds the collision program, so the other bodies (the feet's boxes) cost nothing there.
        floor = np.asarray(sys.geom_bodyid) == 0
        self._fall_sys = self.sys.replace(geom_conaffinity=np.where(mask | floor, sys.geom_conaffinity, 0))

    # -- reference helpers -------------------------------------------------------------------------------------
    def reference_bodies(self, frame: jax.Array):
        return jax.tree.map(lambda a: a[frame], self.reference.bodies)

    def reference_pipeline_state(self, frame: jax.Array) -> base.State:
        return self.pipeline_init(self.reference.q[frame], self._reference_qd[frame])

    def _phase(self, frame: jax.Array) -> jax.Array:
        if self.config.phase == "exact":
            return self.reference.phase[frame]
        period = self.reference.cycle_frames if self.reference.loop else self.reference.num_frames
        return (frame % period) / period

    def _cycle_start(self, frame: jax.Array) -> jax.Array:
        if self.config.phase == "exact":
            return self.reference.cycle_start[frame]
        return frame % self.reference.cycle_frames == 0

    def _observe(self, sim, frame):
        if self.config.observation == "deepmimic":
            return observe_deepmimic(sim, self._phase(frame))
        if self.config.observation == "timestamp":
            return observe_timestamp(sim, self._phase(frame), np.flatnonzero(diffmimic_bodies(self.model)))
        target = self.reference_bodies(frame + 1) if self.config.observation == "target" else None
        return observe(sim, self._phase(frame), target)

    def pipeline_step(self, pipeline_state: base.State, action: jax.Array) -> base.State:
        """``substeps`` physics steps under one PD target (``PipelineEnv.pipeline_step``'s scan), each substep under
        ``jax.checkpoint`` when ``remat_substeps``: reverse mode then keeps one pipeline state per substep and
        recomputes the substep's internals (contacts, constraint forces) from it, instead of reading back everything
        the forward pass produced. At the quick tier's 32 envs x 32 steps on the idle 2-core CPU the gradient took
        1.29 s this way against 1.52 s stored on one device, 0.84 s against 1.16 s on two (``benchmarks.perf``); the
        forward pass is the same program either way."""

        def substep(state, _):
            return self._pipeline.step(self.sys, state, action, self._debug), None

        if self.remat_substeps:
            substep = jax.checkpoint(substep, prevent_cse=False)  # a scan body cannot be CSE'd across iterations
        return jax.lax.scan(substep, pipeline_state, (), self._n_frames)[0]

    # -- brax Env interface -------------------------------------------------------------------------------------
    @property
    def action_size(self) -> int:
        return self.model.action_size

    def reset(self, rng: jax.Array) -> State:
        rng, start_key = jax.random.split(rng)
        if self.config.random_start:
            starts = self.config.start_frames(self.reference.cycle_frames)
            if not self.reference.loop:
                # A clip that does not loop has no frames past its end to track, so start early enough to finish.
                starts = max(1, min(starts, self.reference.cycle_frames - self.config.episode_length))
            frame = jax.random.randint(start_key, (), 0, starts)
        else:
            frame = jnp.zeros((), jnp.int32)
        pipeline_state = self.reference_pipeline_state(frame)
        if self.config.reset_above_ground:
            lift = reset_lift(brax_contact.get(self.sys, pipeline_state.x).dist)
            q = self.reference.q[frame].at[2].add(lift)  # the free root joint's height; velocities as they are
            pipeline_state = self.pipeline_init(q, self._reference_qd[frame])
        sim = body_states(self.model, pipeline_state.x, pipeline_state.xd)
        zero = jnp.zeros(())
        metrics = {
            "loss": zero,
            "pose_error": zero,
            "global_position_error": zero,
            "fall": zero,
            "replay": zero,
        }
        info = {"frame": frame, "start_frame": frame, "rng": rng, "reference_root_offset": jnp.zeros(2)}
        return State(pipeline_state, self._observe(sim, frame), zero, zero, metrics, info)

    def step(self, state: State, action: jax.Array) -> State:
        model, config = self.model, self.config
        pipeline_state = self.pipeline_step(state.pipeline_state, pd_targets(model, action, config.action_mapping))
        frame = jnp.minimum(state.info["frame"] + 1, self.reference.num_frames - 2)

        sim = body_states(model, pipeline_state.x, pipeline_state.xd)
        ref = self.reference_bodies(frame)
        bodies = diffmimic_bodies(model)
        loss = state_matching_loss(sim, ref, config.loss_weights, bodies)
        new_cycle = jnp.asarray(self.reference.loop) & self._cycle_start(frame)
        root_offset = cycle_root_offset(sim, ref, new_cycle, state.info["reference_root_offset"])
        reward, _ = deepmimic_reward(
            model,
            sim,
            shift_reference(ref, root_offset),
            centre_of_mass_velocity(model, pipeline_state.x.rot, pipeline_state.xd.vel, pipeline_state.xd.ang),
            centre_of_mass_velocity(
                model, self.reference.link_x.rot[frame], self.reference.link_xd.vel[frame], self.reference.link_xd.ang[frame]
            ),
            config.reward_weights,
        )
        fall = self._fell(pipeline_state.x)
        reward = jnp.where(fall, 0.0, reward)  # DeepMimic: a fall step earns nothing
        position_error = global_position_error(sim, ref, bodies)
        tracking_error = pose_error(sim, ref, bodies)  # of the simulated state, before any replay

        rng, replay_key = jax.random.split(state.info["rng"])
        if config.replay == "threshold":
            replay = position_error > config.replay_threshold
        elif config.replay == "random":
            replay = jax.random.bernoulli(replay_key, config.replay_rate)
        else:
            replay = jnp.zeros((), bool)
        if config.replay != "none":
            replayed = self.reference_pipeline_state(frame)
            pipeline_state = jax.tree.map(lambda r, s: jnp.where(replay, r, s), replayed, pipeline_state)
            sim = jax.tree.map(lambda r, s: jnp.where(replay, r, s), ref, sim)

        done = fall if config.early_termination else jnp.zeros((), bool)
        metrics = {
            "loss": loss,
            "pose_error": tracking_error,
            "global_position_error": position_error,
            "fall": fall.astype(jnp.float32),
            "replay": replay.astype(jnp.float32),
        }
        info = {**state.info, "frame": frame, "rng": rng, "reference_root_offset": root_offset}
        return state.replace(
            pipeline_state=pipeline_state,
            obs=self._observe(sim, frame),
            reward=reward,
            done=done.astype(jnp.float32),
            metrics=metrics,
            info=info,
        )

    def _fell(self, x: base.Transform) -> jax.Array:
        """DeepMimic's fall: one of the fall-contact bodies touches the ground (link transforms ``x`` ``[L]``)."""
        if not self._fall_geom.any():
            return jnp.zeros((), bool)
        contact = brax_contact.get(self._fall_sys, x)  # fall-body / floor pairs only
        return jnp.any(contact.dist <= self.config.fall_contact_distance)
