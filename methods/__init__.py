"""Training methods, one file each, registered by name; third-party methods arrive by entry point.

See :mod:`methods.base` for the contract the harness relies on::

    m = methods.get_method("diffmimic")
    env = envs.make_env(clip, m.env_config(config, base_env_config))
"""

from methods import parallel
from methods.base import REQUIRED_METRICS, Method
from methods.registry import (
    ENTRY_POINT_GROUP,
    IncompatibleMethodError,
    UnknownMethodError,
    check_compatible,
    get_method,
    list_methods,
    register,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "REQUIRED_METRICS",
    "IncompatibleMethodError",
    "Method",
    "UnknownMethodError",
    "check_compatible",
    "get_method",
    "list_methods",
    "parallel",
    "register",
]
