"""Building blocks shared by the methods: an MLP named by its sizes, and running observation normalisation."""

from __future__ import annotations

from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

Activation = Literal["elu", "relu", "swish", "tanh"]
ACTIVATIONS = {"elu": nn.elu, "relu": nn.relu, "swish": nn.swish, "tanh": nn.tanh}
Initialisation = Literal["flax", "deepmimic"]
INITIALISATIONS = ("flax", "deepmimic")


class MLP(nn.Module):
    """Dense layers of ``hidden_sizes`` with ``activation``, then a linear layer of ``output_size``.

    ``output_scale`` shrinks the last layer's initial weights (DeepMimic initialises its actor's output at 0.01 so
    the first actions sit at the middle of the joint ranges). ``initialisation``: `flax`, LeCun-normal hidden layers
    and an output layer of LeCun normal x ``output_scale`` (standard deviation output_scale / sqrt(fan in), the scale
    of purejaxrl's orthogonal(0.01) actor head); `deepmimic`, DeepMimic's TensorFlow initialisers (``tf_util.fc_net``:
    Xavier-uniform hidden layers; ``pg_agent.py``: the output uniform in +-``output_scale`` where it is below 1, the
    actor's, else Xavier uniform, the critic's). Biases start at zero either way. Fields are hashable, so a module
    can live in a static (non-pytree) field of a training state.
    """

    hidden_sizes: tuple[int, ...]
    output_size: int
    activation: Activation = "relu"
    output_scale: float = 1.0
    initialisation: Initialisation = "flax"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.initialisation not in INITIALISATIONS:
            raise ValueError(
                f"unknown network initialisation '{self.initialisation}': expected one of {INITIALISATIONS}"
            )
        deepmimic = self.initialisation == "deepmimic"
        hidden_init = nn.initializers.xavier_uniform() if deepmimic else nn.initializers.lecun_normal()
        for size in self.hidden_sizes:
            x = ACTIVATIONS[self.activation](nn.Dense(size, kernel_init=hidden_init)(x))
        if not deepmimic:
            output_init = nn.initializers.variance_scaling(self.output_scale**2, "fan_in", "truncated_normal")
        elif self.output_scale < 1.0:
            output_init = _uniform(self.output_scale)
        else:
            output_init = nn.initializers.xavier_uniform()
        return nn.Dense(self.output_size, kernel_init=output_init)(x)


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
