"""The shared mimic environment: a Brax ``PipelineEnv`` that asks the character to reproduce a reference motion.

One step: action in [-1, 1] per hinge -> PD target in the joint's range -> ``substeps`` physics steps -> compare the
simulated bodies with the reference frame. The step returns DeepMimic's reward in ``state.reward`` and puts
DiffMimic's differentiable state-matching loss, the pose error, fall and replay flags in ``state.metrics``.

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
from brax import base, math
from brax.envs.base import PipelineEnv, State

from envs.losses import LossWeights, diffmimic_bodies, global_position_error, pose_error, state_matching_loss
from envs.model import CharacterModel, body_states
from envs.motion import ReferenceMotion
from envs.observations import OBSERVATION_TYPES, observe
from envs.rewards import RewardWeights, centre_of_mass_velocity, cycle_root_offset, deepmimic_reward, shift_reference

BACKENDS = ("spring", "positional", "generalized", "mjx")
REPLAY_MODES = ("none", "threshold", "random")
FALL_CONTACT_MARGIN = 0.05  # metres: a fall-contact body this close to the floor touches it (spring contacts rest a few cm up)
FALL_REFERENCE_CLEARANCE = 0.1  # metres: ...unless the reference body is itself this close (crawl, roll)


class EnvConfigError(ValueError):
    """An environment option that is not valid."""


@dataclasses.dataclass(frozen=True)
class MimicConfig:
    """Options of :class:`MimicEnv`; defaults follow DiffMimic's released settings."""

    backend: Literal["spring", "positional", "generalized", "mjx"] = "spring"
    """Brax physics pipeline; spring measured 3-5x faster than the others on CPU."""
    substeps: int = 20
    """Physics steps per 30 Hz control step (timestep = control dt / substeps)."""
    observation: Literal["state", "target"] = "state"
    """`state`: DiffMimic's observation; `target`: also the next reference frame."""
    loss_weights: LossWeights = LossWeights()
    reward_weights: RewardWeights = RewardWeights()
    random_start: bool = True
    """Reference state initialisation (RSI): start each episode at a random frame of the cycle; else frame 0."""
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

    def __init__(self, model: CharacterModel, reference: ReferenceMotion, config: MimicConfig = MimicConfig()):
        config.validate()
        needed = reference.cycle_frames + config.episode_length + 1 if config.random_start else config.episode_length + 1
        if reference.num_frames < needed:
            raise EnvConfigError(
                f"reference '{reference.name}' has {reference.num_frames} frames; episodes of {config.episode_length} "
                f"steps need {needed} (build it with envs.make_env or a larger num_frames)"
            )
        sys = _pd_damping_for_backend(model.sys.tree_replace({"opt.timestep": reference.dt / config.substeps}), config.backend)
        super().__init__(sys=sys, backend=config.backend, n_frames=config.substeps)
        self.model = model
        self.reference = reference
        self.config = config
        # mjx integrates MuJoCo's true joint velocities; Brax's own pipelines start from their own qd -> xd map.
        self._reference_qd = reference.qd if config.backend == "mjx" else reference.qd_brax

    # -- reference helpers -------------------------------------------------------------------------------------
    def reference_bodies(self, frame: jax.Array):
        return jax.tree.map(lambda a: a[frame], self.reference.bodies)

    def reference_pipeline_state(self, frame: jax.Array) -> base.State:
        return self.pipeline_init(self.reference.q[frame], self._reference_qd[frame])

    def _phase(self, frame: jax.Array) -> jax.Array:
        period = self.reference.cycle_frames if self.reference.loop else self.reference.num_frames
        return (frame % period) / period

    def _observe(self, sim, frame):
        target = self.reference_bodies(frame + 1) if self.config.observation == "target" else None
        return observe(sim, self._phase(frame), target)

    # -- brax Env interface -------------------------------------------------------------------------------------
    @property
    def action_size(self) -> int:
        return self.model.action_size

    def reset(self, rng: jax.Array) -> State:
        rng, start_key = jax.random.split(rng)
        if self.config.random_start:
            # A clip that does not loop has no frames past its end to track, so start early enough to finish.
            last_start = self.reference.cycle_frames
            if not self.reference.loop:
                last_start = max(1, self.reference.cycle_frames - self.config.episode_length)
            frame = jax.random.randint(start_key, (), 0, last_start)
        else:
            frame = jnp.zeros((), jnp.int32)
        pipeline_state = self.reference_pipeline_state(frame)
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
        target = jnp.asarray(model.action_center) + jnp.asarray(model.action_half_range) * jnp.clip(action, -1.0, 1.0)
        pipeline_state = self.pipeline_step(state.pipeline_state, target)
        frame = jnp.minimum(state.info["frame"] + 1, self.reference.num_frames - 2)

        sim = body_states(model, pipeline_state.x, pipeline_state.xd)
        ref = self.reference_bodies(frame)
        bodies = diffmimic_bodies(model)
        loss = state_matching_loss(sim, ref, config.loss_weights, bodies)
        new_cycle = jnp.asarray(self.reference.loop) & (frame % self.reference.cycle_frames == 0)
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
        fall = self._fell(sim, ref)
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

    def _fell(self, sim, ref) -> jax.Array:
        """DeepMimic's fall: a fall-contact body (root, chest, neck) touches the floor where the reference's does not."""
        index = jnp.asarray(self.model.fall_contact)
        offset = jnp.asarray(self.model.fall_contact_offset)
        radius = jnp.asarray(self.model.fall_contact_radius)

        def lowest(bodies):
            centre = bodies.pos[index] + jax.vmap(math.rotate)(offset, bodies.rot[index])
            return centre[:, 2] - radius

        touching = lowest(sim) < FALL_CONTACT_MARGIN
        expected = lowest(ref) < FALL_CONTACT_MARGIN + FALL_REFERENCE_CLEARANCE
        return jnp.any(touching & ~expected)
