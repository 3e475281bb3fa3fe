"""Building blocks shared by the methods: an MLP named by its sizes, and running observation normalisation."""

from __future__ import annotations

from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

Activation = Literal["elu", "relu", "swish", "tanh"]
ACTIVATIONS = {"elu": nn.elu, "relu": nn.relu, "swish": nn.swish, "tanh": nn.tanh}
HiddenInit = Literal["lecun_normal", "xavier_uniform"]
OutputInit = Literal["scaled_lecun_normal", "uniform", "xavier_uniform"]
HIDDEN_INITS = {"lecun_normal": nn.initializers.lecun_normal(), "xavier_uniform": nn.initializers.xavier_uniform()}


class MLP(nn.Module):
    """Dense layers of ``hidden_sizes`` with ``activation``, then a linear layer of ``output_size``; biases start at
    zero.

    ``hidden_init``: flax's default `lecun_normal`, or `xavier_uniform` (TensorFlow's ``xavier_initializer``, which
    DeepMimic's ``tf_util.fc_net`` uses). ``output_init``: `scaled_lecun_normal`, LeCun normal x ``output_scale``
    (standard deviation output_scale / sqrt(fan in): purejaxrl's orthogonal(0.01) actor head has that scale);
    `uniform`, uniform in +-``output_scale`` (DeepMimic's actor output, ``ActorInitOutputScale``); `xavier_uniform`
    (DeepMimic's critic output; ``output_scale`` unused). A small actor output puts the first actions at the zero
    action. Fields are hashable, so a module can live in a static (non-pytree) field of a training state.
    """

    hidden_sizes: tuple[int, ...]
    output_size: int
    activation: Activation = "relu"
    output_scale: float = 1.0
    hidden_init: HiddenInit = "lecun_normal"
    output_init: OutputInit = "scaled_lecun_normal"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.hidden_init not in HIDDEN_INITS:
            raise ValueError(f"unknown hidden_init '{self.hidden_init}': expected one of {tuple(HIDDEN_INITS)}")
        for size in self.hidden_sizes:
            x = ACTIVATIONS[self.activation](nn.Dense(size, kernel_init=HIDDEN_INITS[self.hidden_init])(x))
        return nn.Dense(self.output_size, kernel_init=self._output_kernel_init())(x)

    def _output_kernel_init(self):
        if self.output_init == "scaled_lecun_normal":
            return nn.initializers.variance_scaling(self.output_scale**2, "fan_in", "truncated_normal")
        if self.output_init == "uniform":
            return _uniform(self.output_scale)
        if self.output_init == "xavier_uniform":
            return nn.initializers.xavier_uniform()
        raise ValueError(
            f"unknown output_init '{self.output_init}': expected one of scaled_lecun_normal, uniform, xavier_uniform"
        )


def _uniform(bound: float):
    """TensorFlow's ``random_uniform_initializer(-bound, bound)``."""
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


@struct.dataclass
class ObservationNormaliser:
    """Running mean and variance of observations (parallel-variance merge of whole batches).

    Statistics are data, not parameters: :meth:`update` stops their gradient, and :meth:`__call__` treats them as
    constants. Until the first update (``count == 0``) the normaliser is the identity.
    """

    mean: jax.Array
    var: jax.Array
    count: jax.Array
    std_min: float = struct.field(pytree_node=False, default=1e-2)
    """Observation components that barely vary (a body's height in a flat walk) would otherwise blow up."""
    clip: float = struct.field(pytree_node=False, default=10.0)

    @classmethod
    def create(cls, size: int) -> "ObservationNormaliser":
        return cls(mean=jnp.zeros(size), var=jnp.ones(size), count=jnp.zeros(()))

    def update(self, observations: jax.Array) -> "ObservationNormaliser":
        batch = jax.lax.stop_gradient(observations).reshape(-1, self.mean.shape[-1])
        batch_count = jnp.asarray(batch.shape[0], jnp.float32)
        batch_mean = jnp.mean(batch, axis=0)
        batch_var = jnp.var(batch, axis=0)
        count = self.count + batch_count
        delta = batch_mean - self.mean
        mean = self.mean + delta * batch_count / count
        var = (self.count * self.var + batch_count * batch_var + delta**2 * self.count * batch_count / count) / count
        return self.replace(mean=mean, var=var, count=count)

    def __call__(self, observations: jax.Array) -> jax.Array:
        mean, var = jax.lax.stop_gradient((self.mean, self.var))
        std = jnp.maximum(jnp.sqrt(var), self.std_min)
        normalised = jnp.clip((observations - mean) / std, -self.clip, self.clip)
        return jnp.where(self.count > 0, normalised, observations)
