"""The errors that mean bad input (a name, a file, a setting) in any layer: a command line tool reports them as one
line naming the problem and exits with code 2, rather than a traceback."""

from __future__ import annotations


def input_errors() -> tuple[type[BaseException], ...]:
    """Bad input of any layer (imported late, so that a tool's ``--help`` does not wait for JAX)."""
    from benchmarks.overrides import OverrideError
    from benchmarks.suites import UnknownSuiteError
    from benchmarks.tiers import UnknownTierError
    from envs.character import CharacterError
    from envs.data import DataError
    from envs.motion import MotionError
    from methods import IncompatibleMethodError, UnknownMethodError

    return (UnknownSuiteError, UnknownTierError, UnknownMethodError, IncompatibleMethodError, DataError,
            MotionError, CharacterError, OverrideError, ValueError)
