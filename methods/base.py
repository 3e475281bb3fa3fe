"""The Method contract: what a training method gives the harness, and what the harness may rely on.

A method is a :class:`Method`: a name, a tyro-friendly config dataclass, capability flags, and four pure functions
(a fifth, optional).
The harness owns the loop, the clock and the evaluator; a method owns one training update::

    m = methods.get_method("diffmimic")
    config = m.config_cls(num_envs=64)                       # every field has a default and a docstring
    env = envs.make_env(clip, m.env_config(config, base_env_config))
    methods.check_compatible(m, env)                         # refuses invalid pairs with a clear message
    state = m.init(key, env, config)                         # a flax.struct.dataclass (a pytree)
    update = m.jit_update(env, config)                       # = jax.jit(partial(m.update, env=env, config=config))
    state, metrics = update(state, key)                      # one training iteration
    act = m.policy(state)                                    # act(obs, key) -> action, deterministic
    sample = m.sample_policy(state)                          # optional: act(obs, key) -> an action as training samples

The functions:

- ``env_config(config, base) -> MimicConfig``: the environment options the method needs, derived from the suite's
  ``base`` (PPO turns on early termination and turns off Demonstration Replay; DiffMimic sets the replay mode).
  Options the method does not care about (backend, clip, observation) pass through unchanged.
- ``init(key, env, config) -> state``: the whole training state as a pytree; static parts (network modules) are
  non-pytree fields, so ``policy(state)`` needs nothing else.
- ``update(state, key, *, env, config) -> (state, metrics)``: pure and jit-able with ``env`` and ``config`` bound
  statically. ``metrics`` is a flat dict of scalars with at least the keys in :data:`REQUIRED_METRICS`:
  ``samples`` (simulated control steps of one environment used for training in this update, ``num_envs x steps``;
  DESIGN.md's sample), ``loss``, ``grad_norm`` (global norm of the raw gradient, before clipping; the mean over
  gradient steps where an update takes several) and ``grad_finite`` (1.0, or 0.0 if any gradient or loss of this
  update was not finite: such a step is *not applied*, and the harness should mark the run diverged).
- ``policy(state) -> act``: ``act(obs, key) -> action`` for evaluation, deterministic (the mean action), jit-able,
  for one observation ``[obs_size]`` or a batch ``[..., obs_size]``; ``key`` is accepted for a uniform signature.
  The action is in the environment's action units, as training applies it: the env's action mapping clips where
  its original did (DiffMimic's and the `range` mapping to [-1, 1]; DeepMimic's does not).
- ``sample_policy(state) -> act`` (optional, None by default): ``act(obs, key) -> action`` drawn with ``key`` from the
  method's stochastic policy (the distribution whose mean ``policy`` returns; training may explore differently, as
  ``ppo_deepmimic`` adds its noise only at an annealed rate), for the sampled evaluation of
  ``benchmarks.policy_eval`` (DiffMimic's release evaluates this way). A method without one is evaluated
  deterministically only.

Capability flags let :func:`methods.registry.check_compatible` refuse invalid pairs before any compile:
``needs_differentiable_env`` (gradients flow through ``env.step``, and ``state.metrics["loss"]`` exists).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping

import jax

REQUIRED_METRICS = ("samples", "loss", "grad_norm", "grad_finite")


@dataclasses.dataclass(frozen=True)
class Method:
    """A training method as the harness sees it; see the module docstring for the contract of each function."""

    name: str
    config_cls: type
    """A frozen dataclass of hyperparameters, each with a default and a docstring (tyro reads both)."""
    env_config: Callable[[Any, Any], Any]
    init: Callable[[jax.Array, Any, Any], Any]
    update: Callable[..., tuple[Any, Mapping[str, jax.Array]]]
    policy: Callable[[Any], Callable[[jax.Array, jax.Array], jax.Array]]
    needs_differentiable_env: bool = False
    """True when the method differentiates through ``env.step`` and its ``metrics["loss"]``."""
    description: str = ""
    sample_policy: Callable[[Any], Callable[[jax.Array, jax.Array], jax.Array]] | None = None
    """The stochastic policy (module docstring); None: the method has none."""

    def jit_update(self, env, config, **jit_kwargs) -> Callable[[Any, jax.Array], tuple[Any, Mapping[str, jax.Array]]]:
        """``update`` with ``env`` and ``config`` bound, compiled with :func:`jax.jit` (``jit_kwargs`` pass through)."""
        return jax.jit(functools.partial(self.update, env=env, config=config), **jit_kwargs)

    def variant(self, name: str, description: str, **defaults: Any) -> "Method":
        """The same method under another name with other config defaults (an ablation is a variant, not a copy).

        ``config_cls`` of the variant is a subclass of this one whose listed fields default to ``defaults``, so
        ``--help``, manifests and overrides all show the ablation's own settings.
        """
        fields = {field.name: field for field in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(defaults) - set(fields))
        if unknown:
            raise TypeError(f"{self.config_cls.__name__} has no field(s) {unknown}; fields: {sorted(fields)}")
        config_cls = dataclasses.make_dataclass(
            "".join(part.capitalize() for part in name.split("_")) + "Config",
            [(key, fields[key].type, dataclasses.field(default=value)) for key, value in defaults.items()],
            bases=(self.config_cls,),
            frozen=True,
            namespace={"__module__": self.config_cls.__module__},
        )
        config_cls.__doc__ = f"{self.config_cls.__doc__}\n\nVariant '{name}': {description}"
        return dataclasses.replace(self, name=name, config_cls=config_cls, description=description)
