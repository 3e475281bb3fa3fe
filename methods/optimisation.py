"""A gradient step that logs the raw gradient norm and refuses to apply a non-finite one."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax


def all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree) if jnp.issubdtype(leaf.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.ones((), bool)


def select(condition: jax.Array, on_true: Any, on_false: Any) -> Any:
    """``on_true`` where the scalar ``condition`` holds, else ``on_false``, leaf by leaf (no NaN leaks through)."""
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), on_true, on_false)


def guarded_step(
    optimizer: optax.GradientTransformation, params: Any, opt_state: Any, grads: Any, loss: jax.Array
) -> tuple[Any, Any, dict[str, jax.Array]]:
    """One optimizer step, skipped (parameters and optimizer state unchanged) if ``loss`` or ``grads`` is non-finite.

    Returns the new ``params``, ``opt_state`` and ``{"grad_norm": raw global norm, "grad_finite": 1.0 or 0.0}``.
    The norm is taken before any clipping inside ``optimizer``, since its growth with the horizon is what the
    benchmark reports (DESIGN.md: spring reached 7e14 at 128 steps).
    """
    finite = jnp.isfinite(loss) & all_finite(grads)
    # Zeroed gradients keep NaN out of the discarded branch; the select below is what skips the step.
    safe_grads = jax.tree.map(lambda g: jnp.where(finite, g, jnp.zeros_like(g)), grads)
    updates, new_opt_state = optimizer.update(safe_grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    params, opt_state = select(finite, (new_params, new_opt_state), (params, opt_state))
    return params, opt_state, {"grad_norm": optax.tree.norm(grads), "grad_finite": finite.astype(jnp.float32)}
