"""Methods by name: the built-ins, those registered at run time, and third-party plugins found by entry point.

A third-party package makes a method available by declaring, in its ``pyproject.toml``::

    [project.entry-points."mimicbench.methods"]
    my_method = "my_package.my_module:MY_METHOD"   # a methods.Method object

Plugins are listed by entry-point name without importing them; a plugin is imported when it is first asked for,
so a broken plugin cannot break the built-ins.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import warnings
from typing import Any

import jax

from envs import MimicEnv
from methods.base import Method

ENTRY_POINT_GROUP = "mimicbench.methods"
# A new built-in method is a module exporting METHODS plus one line here.
BUILTIN_MODULES = ("methods.diffmimic", "methods.ppo")
# Every Brax pipeline the environment offers is differentiable; a backend not listed here is not assumed to be.
DIFFERENTIABLE_BACKENDS = ("spring", "positional", "generalized", "mjx")

_registry: dict[str, Method] = {}
_builtins_loaded = False


class UnknownMethodError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; this one is meant to be read
        return str(self.args[0])


class IncompatibleMethodError(ValueError):
    """A method paired with an environment it cannot train on."""


def register(method: Method, *, replace: bool = False) -> Method:
    """Makes ``method`` available by ``method.name``; a name already taken is an error unless ``replace``."""
    if not isinstance(method, Method):
        raise TypeError(f"expected a methods.Method, got {type(method).__name__}")
    if method.name in _registry and not replace and _registry[method.name] is not method:
        raise ValueError(f"a method named '{method.name}' is already registered")
    _registry[method.name] = method
    return method


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN_MODULES:
            for method in importlib.import_module(module).METHODS:
                register(method)


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {entry_point.name: entry_point for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def list_methods() -> list[str]:
    """Names of every available method: built-in, registered and plugin (plugins are not imported)."""
    _load_builtins()
    return sorted(set(_registry) | set(_entry_points()))


def get_method(name: str) -> Method:
    _load_builtins()
    if name in _registry:
        return _registry[name]
    entry_point = _entry_points().get(name)
    if entry_point is None:
        raise UnknownMethodError(f"unknown method '{name}': valid names are {', '.join(list_methods())}")
    try:
        method = entry_point.load()
    except Exception as error:
        raise ImportError(f"method plugin '{name}' ({entry_point.value}) failed to load: {error}") from error
    if not isinstance(method, Method):
        raise TypeError(
            f"entry point '{name}' ({entry_point.value}) in group '{ENTRY_POINT_GROUP}' gave a "
            f"{type(method).__name__}, not a methods.Method"
        )
    if method.name != name:
        warnings.warn(f"plugin entry point '{name}' holds a method named '{method.name}'; registering it as '{name}'")
        method = dataclasses.replace(method, name=name)
    return register(method)


def check_compatible(method: Method, target: Any, config: Any = None) -> None:
    """Raises :class:`IncompatibleMethodError` if ``method`` cannot train on ``target``.

    ``target`` is an environment, a ``MimicConfig`` or a backend name. With an environment and the method's
    ``config``, also checks that the environment was built with ``method.env_config(config, ...)``: PPO on an
    environment that replays demonstrations, say, would be trained on a different problem than it reports.
    """
    env_config = getattr(target, "config", target if dataclasses.is_dataclass(target) else None)
    backend = target if isinstance(target, str) else getattr(env_config, "backend", None)
    if backend is None:
        backend = getattr(target, "backend", None)
    if method.needs_differentiable_env:
        if backend not in DIFFERENTIABLE_BACKENDS:
            raise IncompatibleMethodError(
                f"method '{method.name}' needs a differentiable environment, but backend '{backend}' is not one of "
                f"the differentiable Brax pipelines {DIFFERENTIABLE_BACKENDS}; use a method that needs only rewards "
                "(e.g. 'ppo')"
            )
        if not isinstance(target, str) and hasattr(target, "reset") and not _has_loss_metric(target):
            raise IncompatibleMethodError(
                f"method '{method.name}' differentiates state.metrics['loss'], which environment "
                f"{type(target).__name__} does not provide; build it with envs.make_env"
            )
    if config is not None and env_config is not None and hasattr(target, "reset"):
        wanted = method.env_config(config, env_config)
        if wanted != env_config:
            differences = {
                field.name: (getattr(env_config, field.name), getattr(wanted, field.name))
                for field in dataclasses.fields(wanted)
                if getattr(env_config, field.name) != getattr(wanted, field.name)
            }
            raise IncompatibleMethodError(
                f"environment was not built with {method.name}'s env_config: (has, needs) {differences}; build it "
                f"with envs.make_env(clip, method.env_config(config, base))"
            )


def _has_loss_metric(env) -> bool:
    if isinstance(getattr(env, "unwrapped", env), MimicEnv):
        return True
    state = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
    return "loss" in getattr(state, "metrics", {})
