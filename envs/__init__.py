"""The shared Brax mimic environment: characters, reference motions, losses, rewards.

``make_env`` is the one entry point the rest of the project uses::

    env = envs.make_env("walk", data_dir="path/to/deepmimic/data", config=envs.MimicConfig(backend="spring"))
"""

from envs.mimic_env import BACKENDS, PHASE_MODES, REPLAY_MODES, TORQUE_LIMITS, EnvConfigError, MimicConfig, MimicEnv
from envs.reference import load_reference, make_env

__all__ = [
    "BACKENDS", "PHASE_MODES", "REPLAY_MODES", "TORQUE_LIMITS", "EnvConfigError", "MimicConfig", "MimicEnv",
    "load_reference", "make_env",
]
