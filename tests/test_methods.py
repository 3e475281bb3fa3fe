"""Methods: the contract every registered method keeps, determinism, the non-finite guard, the registry and plugins.

Compiling a gradient through the humanoid takes about a minute on two CPU cores, so each method's update is
compiled once (module-scoped ``runs``) and shared by the tests; batches, horizons and networks are tiny. DiffMimic's
is the harness's one-device smoke-tier program, which tests/test_parallel.py compiles too: whichever runs second reads
it from the persistent compilation cache.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import envs
import methods
from benchmarks import harness
from methods import registry
from methods.diffmimic import DIFFMIMIC, DIFFMIMIC_NOREPLAY, DIFFMIMIC_RANDOM
from methods.networks import ObservationNormaliser
from methods.optimisation import guarded_step
from methods.ppo import PPO
from tests.test_parallel import smoke_spec

# PPO's own tiny settings; the DiffMimic family runs at the harness's smoke tier (test_parallel.smoke_spec).
TINY = {
    # episode_length 6 < unroll 8: every environment is truncated (and reset) inside the first update.
    "ppo": {
        "num_envs": 4,
        "unroll_length": 8,
        "minibatch_size": 16,
        "num_epochs": 2,
        "actor_hidden_sizes": (32, 32),
        "critic_hidden_sizes": (32, 32),
        "episode_length": 6,
    },
}
TINY["ppo_deepmimic"] = TINY["ppo"]  # a variant of ppo; tests/test_ppo.py runs it
FAST_METHODS = ("diffmimic", "ppo")  # the ablations share diffmimic's code; their full runs are marked slow


@pytest.fixture(scope="module")
def base_env():
    return envs.make_env("synthetic", envs.MimicConfig(episode_length=8))


@pytest.fixture(scope="module")
def observations(base_env):
    """A batch of 3 observations from random start frames (every method's env observes the same way)."""
    return jax.jit(jax.vmap(base_env.reset))(jax.random.split(jax.random.PRNGKey(7), 3)).obs


def build(method, base_env):
    config = method.config_cls(**TINY.get(method.name, {}))
    env = envs.MimicEnv(base_env.model, base_env.reference, method.env_config(config, base_env.config))
    return env, config


@dataclasses.dataclass
class Run:
    method: methods.Method
    env: envs.MimicEnv
    config: object
    update: object
    initial: object
    states: list
    metrics: list


def run_two_updates(method, base_env, seed=0) -> Run:
    if method.needs_differentiable_env:
        # test_parallel's one-device smoke run: its compiled gradient (about a minute of compiling) is then
        # shared through the persistent cache instead of compiled again for a config of this file's own.
        _, config, env = harness.build(smoke_spec(method.name, devices=1, seed=seed))
    else:
        env, config = build(method, base_env)
    methods.check_compatible(method, env, config)
    state = initial = method.init(jax.random.PRNGKey(seed), env, config)
    # Compiled ahead of time as the harness does: a state whose structure, shapes or types changed after an update
    # would be refused by the second call instead of silently compiling another program.
    update = harness.compile_update(method, env, config, state, jax.random.PRNGKey(100))
    states, metrics = [], []
    for i in range(2):
        state, step_metrics = update(state, jax.random.PRNGKey(100 + i))
        states.append(state)
        metrics.append(jax.device_get(step_metrics))
    return Run(method, env, config, update, initial, states, metrics)


@pytest.fixture(scope="module")
def runs(base_env):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = run_two_updates(methods.get_method(name), base_env)
        return cache[name]

    return get


def samples_per_update(run: Run) -> int:
    steps = getattr(run.config, "rollout_length", None) or getattr(run.config, "unroll_length")
    return run.config.num_envs * steps


def assert_contract(run: Run, obs):
    for metrics in run.metrics:
        assert set(methods.REQUIRED_METRICS) <= set(metrics), sorted(metrics)
        assert int(metrics["samples"]) == samples_per_update(run)
        assert metrics["grad_finite"] == 1.0
        assert np.isfinite(metrics["loss"]) and np.isfinite(metrics["grad_norm"]) and metrics["grad_norm"] > 0
        for name, value in metrics.items():
            assert np.ndim(value) == 0, f"metric {name} is not a scalar"
    if run.method.needs_differentiable_env:
        assert all("replay_rate" in metrics for metrics in run.metrics)
    # Parameters moved (and the second update ran the first one's compiled program: run_two_updates).
    assert not tree_equal(run.initial.params, run.states[-1].params)

    act = run.method.policy(run.states[-1])
    actions = np.asarray(act(obs, jax.random.PRNGKey(0)))
    assert actions.shape == (3, run.env.action_size)
    assert np.all(np.isfinite(actions))
    if run.method.needs_differentiable_env:
        assert np.all(np.abs(actions) <= 1.0)  # DiffMimic's tanh policy; PPO's mean is unbounded, as DeepMimic's
    single = np.asarray(act(obs[0], jax.random.PRNGKey(1)))
    np.testing.assert_allclose(single, actions[0], rtol=1e-5, atol=1e-6)  # deterministic: the key does not matter

    # The stochastic policy: the key draws the action (the same key the same action, another key another), around
    # the mean action.
    if run.method.sample_policy is not None:
        sample = run.method.sample_policy(run.states[-1])
        drawn = [np.asarray(sample(obs, jax.random.PRNGKey(k))) for k in (0, 1)]
        assert drawn[0].shape == actions.shape and np.all(np.isfinite(drawn[0]))
        assert not np.allclose(drawn[0], drawn[1])
        many = jax.vmap(sample, in_axes=(None, 0))(obs, jax.random.split(jax.random.PRNGKey(2), 1000))
        np.testing.assert_allclose(np.mean(many, 0), actions, atol=0.05)  # standard error <= 0.2 / sqrt(1000)


def tree_equal(a, b) -> bool:
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(leaves_a) == len(leaves_b) and all(
        np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True) for x, y in zip(leaves_a, leaves_b)
    )


# -- every method keeps the contract ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FAST_METHODS)
def test_method_initialises_updates_and_acts(runs, observations, name):
    assert_contract(runs(name), observations)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["diffmimic_noreplay", "diffmimic_random"])
def test_ablation_initialises_updates_and_acts(runs, observations, name):
    run = runs(name)
    assert_contract(run, observations)
    if name == "diffmimic_random":
        assert run.env.config.replay == "random"


def test_every_registered_method_is_tested_or_a_variant():
    builtins = {m.name for module in registry.BUILTIN_MODULES for m in importlib.import_module(module).METHODS}
    assert builtins == {"diffmimic", "diffmimic_noreplay", "diffmimic_random", "ppo", "ppo_deepmimic"}
    differentiable = {name for name in builtins if methods.get_method(name).needs_differentiable_env}
    assert differentiable == {"diffmimic", "diffmimic_noreplay", "diffmimic_random"}  # run through smoke_spec
    assert set(TINY) == builtins - differentiable


def test_ablations_are_variants_of_the_same_code(base_env):
    for variant, replay in ((DIFFMIMIC_NOREPLAY, "none"), (DIFFMIMIC_RANDOM, "random")):
        assert (variant.init, variant.update, variant.policy, variant.env_config) == (
            DIFFMIMIC.init,
            DIFFMIMIC.update,
            DIFFMIMIC.policy,
            DIFFMIMIC.env_config,
        )
        assert issubclass(variant.config_cls, DIFFMIMIC.config_cls)
        config = variant.config_cls()
        assert config.replay == replay and config.replay_rate == 0.05 and config.num_envs == 300
        assert variant.env_config(config, base_env.config).replay == replay
    assert DIFFMIMIC.config_cls().replay == "threshold"
    # A per-clip threshold (0.4 for acrobatics) reaches the environment.
    acrobatics = DIFFMIMIC.config_cls(replay_threshold=0.4, rollout_length=30)
    env_config = DIFFMIMIC.env_config(acrobatics, base_env.config)
    assert env_config.replay_threshold == 0.4 and env_config.episode_length == 30
    assert not env_config.early_termination and env_config.random_start


def test_ppo_env_config_terminates_on_falls_and_never_replays(base_env):
    config = PPO.env_config(PPO.config_cls(), dataclasses.replace(base_env.config, replay="threshold"))
    assert config.early_termination and config.replay == "none" and config.random_start
    assert config.backend == base_env.config.backend


def field_docstrings(cls) -> dict[str, str]:
    """``field: type = default`` followed by a string literal, in ``cls`` and its bases (tyro's convention)."""
    docs = {}
    for klass in reversed(cls.__mro__):
        try:
            body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        except (OSError, TypeError):
            continue  # a variant's generated class: its fields are documented on the base
        for statement, following in zip(body, body[1:]):
            if isinstance(statement, ast.AnnAssign) and isinstance(following, ast.Expr):
                if isinstance(following.value, ast.Constant) and isinstance(following.value.value, str):
                    docs[statement.target.id] = following.value.value
    return docs


def test_configs_document_every_hyperparameter(capsys):
    import tyro

    for name in methods.list_methods():
        cls = methods.get_method(name).config_cls
        docs = field_docstrings(cls)
        with pytest.raises(SystemExit):
            tyro.cli(cls, args=["--help"])
        help_text = " ".join(capsys.readouterr().out.split())
        for field in dataclasses.fields(cls):
            assert field.default is not dataclasses.MISSING, f"{name}.{field.name} has no default"
            assert docs.get(field.name), f"{name}.{field.name} has no docstring"
            assert "--" + field.name.replace("_", "-") in help_text
            assert " ".join(docs[field.name].split())[:30] in help_text, f"{name}.{field.name}: docstring not in --help"


# -- determinism ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FAST_METHODS)
def test_same_seed_gives_identical_parameters(runs, name):
    run = runs(name)
    state = run.method.init(jax.random.PRNGKey(0), run.env, run.config)
    for i in range(2):
        state, _ = run.update(state, jax.random.PRNGKey(100 + i))
    assert tree_equal(state.params, run.states[-1].params)
    assert tree_equal(state, run.states[-1])
    other = run.method.init(jax.random.PRNGKey(1), run.env, run.config)
    assert not tree_equal(other.params, run.initial.params)


# -- a non-finite gradient is never applied -------------------------------------------------------------------------


def poison(params):
    """The same parameters with one NaN weight: every loss and gradient downstream of it becomes NaN."""
    leaves, treedef = jax.tree.flatten(params)
    first = leaves[0]
    leaves[0] = first.at[(0,) * first.ndim].set(jnp.nan)
    return jax.tree.unflatten(treedef, leaves)


@pytest.mark.parametrize("name", FAST_METHODS)
def test_non_finite_gradient_is_skipped_and_reported(runs, name):
    run = runs(name)
    state = run.states[-1]
    if name == "ppo":
        poisoned = state.replace(params={**state.params, "actor": poison(state.params["actor"])})
    else:
        poisoned = state.replace(params=poison(state.params))
    new_state, metrics = run.update(poisoned, jax.random.PRNGKey(5))
    assert float(metrics["grad_finite"]) == 0.0
    assert tree_equal(new_state.params, poisoned.params)  # not a single weight moved
    assert tree_equal(new_state.opt_state, poisoned.opt_state)
    assert tree_equal(new_state.normaliser, poisoned.normaliser)
    # ...while the same update from the clean state does move them.
    clean_state, clean_metrics = run.update(state, jax.random.PRNGKey(5))
    assert float(clean_metrics["grad_finite"]) == 1.0 and not tree_equal(clean_state.params, state.params)


@pytest.mark.slow  # a gradient program of its own: about a minute of compiling on 2 cores, for a rarely changed path
def test_rematerialised_steps_give_the_same_update(runs):
    """Where the backward pass recomputes the forward pass does not change the update: the shared runs recompute
    each physics substep (the env's default ``remat_substeps``); this one stores the substeps and recomputes each
    control step instead (``remat_steps``). The same loss and gradient, so the same update (one compile for both
    choices: either one computing another gradient would fail it)."""
    run = runs("diffmimic")
    env = envs.MimicEnv(run.env.model, run.env.reference, run.env.config, remat_substeps=False)
    config = dataclasses.replace(run.config, remat_steps=True)
    state, metrics = DIFFMIMIC.jit_update(env, config)(run.initial, jax.random.PRNGKey(100))
    # Recomputing the steps reorders float32 work (and XLA's code differs between CPUs): CI's machine measured
    # a 2e-5 relative difference in the loss, so equal to 1e-4, like the gradient norm.
    assert float(metrics["loss"]) == pytest.approx(float(run.metrics[0]["loss"]), rel=1e-4)
    assert float(metrics["grad_norm"]) == pytest.approx(float(run.metrics[0]["grad_norm"]), rel=1e-4)
    # Adam's first step moves each weight by about lr * sign(gradient), so a weight whose gradient is near zero
    # may move either way under float noise: compare the whole update's direction, and each weight to lr / 5.
    initial = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(run.initial.params)])
    remat = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(state.params)]) - initial
    stored = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(run.states[0].params)]) - initial
    assert np.dot(remat, stored) / (np.linalg.norm(remat) * np.linalg.norm(stored)) > 0.999
    np.testing.assert_allclose(remat, stored, atol=config.learning_rate / 5)


def test_guarded_step_skips_non_finite_and_logs_the_raw_norm():
    optimizer = optax.chain(optax.clip_by_global_norm(0.4), optax.adam(0.1))
    params = {"w": jnp.array([1.0, -2.0])}
    opt_state = optimizer.init(params)
    grads = {"w": jnp.array([3.0, 4.0])}
    new_params, new_opt_state, metrics = guarded_step(optimizer, params, opt_state, grads, jnp.array(1.0))
    assert float(metrics["grad_norm"]) == pytest.approx(5.0)  # raw, not the clipped 0.4
    assert float(metrics["grad_finite"]) == 1.0 and not tree_equal(new_params, params)
    cases = (({"w": jnp.array([jnp.nan, 1.0])}, 1.0), (grads, jnp.inf), ({"w": jnp.array([jnp.inf, 0.0])}, 1.0))
    for bad_grads, loss in cases:
        kept_params, kept_opt_state, metrics = guarded_step(optimizer, params, opt_state, bad_grads, jnp.array(loss))
        assert float(metrics["grad_finite"]) == 0.0
        assert tree_equal(kept_params, params) and tree_equal(kept_opt_state, opt_state)


def test_observation_normaliser_merges_batches_exactly():
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(3, 50, 4)).astype(np.float32)
    normaliser = ObservationNormaliser.create(4)
    np.testing.assert_array_equal(normaliser(data[0]), data[0])  # identity before any statistics
    for batch in data:
        normaliser = normaliser.update(batch)
    flat = data.reshape(-1, 4)
    np.testing.assert_allclose(normaliser.mean, flat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(normaliser.var, flat.var(0), rtol=1e-4)
    np.testing.assert_allclose(normaliser(flat).std(0), 1.0, rtol=1e-3)


# -- registry ---------------------------------------------------------------------------------------------------------


def test_unknown_method_lists_valid_names():
    with pytest.raises(methods.UnknownMethodError) as error:
        methods.get_method("diffmimc")
    for name in ("diffmimic", "diffmimic_noreplay", "diffmimic_random", "ppo"):
        assert name in str(error.value)


def test_register_refuses_a_taken_name():
    with pytest.raises(ValueError, match="already registered"):
        methods.register(dataclasses.replace(PPO, description="another ppo"))
    with pytest.raises(TypeError):
        methods.register(object())


def test_incompatible_pairs_are_refused(base_env):
    import brax.envs

    with pytest.raises(methods.IncompatibleMethodError, match="differentiable"):
        methods.check_compatible(DIFFMIMIC, "mujoco")
    methods.check_compatible(PPO, "mujoco")  # PPO needs rewards only
    for backend in envs.BACKENDS:
        methods.check_compatible(DIFFMIMIC, backend)
    # An environment without DiffMimic's state-matching loss cannot be differentiated against the reference.
    pendulum = brax.envs.get_environment("inverted_pendulum", backend="spring")
    with pytest.raises(methods.IncompatibleMethodError, match="metrics\\['loss'\\]"):
        methods.check_compatible(DIFFMIMIC, pendulum)
    # PPO on an environment that replays demonstrations would be training on another problem.
    env, config = build(PPO, base_env)
    methods.check_compatible(PPO, env, config)
    replaying = envs.MimicEnv(env.model, env.reference, dataclasses.replace(env.config, replay="threshold"))
    with pytest.raises(methods.IncompatibleMethodError, match="replay"):
        methods.check_compatible(PPO, replaying, config)


PLUGIN_MODULE = '''
"""A third-party method: holds the PD targets at the middle of the joint ranges (zero action)."""
import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from methods import Method


@dataclasses.dataclass(frozen=True)
class HoldConfig:
    num_envs: int = 2
    """Environments per update."""
    steps: int = 3
    """Control steps per update."""


@struct.dataclass
class HoldState:
    updates: jax.Array
    action_size: int = struct.field(pytree_node=False)


def init(key, env, config):
    return HoldState(updates=jnp.zeros((), jnp.int32), action_size=env.action_size)


def update(state, key, *, env, config):
    env_state = jax.vmap(env.reset)(jax.random.split(key, config.num_envs))
    zero = jnp.zeros((config.num_envs, env.action_size))

    def step(env_state, _):
        env_state = jax.vmap(env.step)(env_state, zero)
        return env_state, env_state.metrics["pose_error"]

    _, pose_error = jax.lax.scan(step, env_state, None, config.steps)
    return state.replace(updates=state.updates + 1), {
        "samples": jnp.asarray(config.num_envs * config.steps, jnp.int32),
        "loss": jnp.mean(pose_error),
        "grad_norm": jnp.zeros(()),
        "grad_finite": jnp.ones(()),
    }


def policy(state):
    return lambda obs, key: jnp.zeros(obs.shape[:-1] + (state.action_size,))


METHOD = Method("hold_still", HoldConfig, lambda config, base: base, init, update, policy)
'''


def install_plugin(tmp_path, monkeypatch, entry_points: str, module: str | None = None):
    """A real installed distribution: a dist-info folder with entry_points.txt on sys.path."""
    dist_info = tmp_path / "mimicbench_demo_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: mimicbench-demo-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    if module is not None:
        (tmp_path / "mimicbench_demo_plugin.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mimicbench_demo_plugin", raising=False)
    importlib.invalidate_caches()


def test_entry_point_plugin_is_discovered_and_runs(tmp_path, monkeypatch, base_env):
    install_plugin(
        tmp_path,
        monkeypatch,
        """
        [mimicbench.methods]
        hold_still = mimicbench_demo_plugin:METHOD
        broken_plugin = mimicbench_no_such_module:METHOD
        """,
        PLUGIN_MODULE,
    )
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))  # forget the plugin afterwards
    assert {"hold_still", "broken_plugin", "diffmimic", "ppo"} <= set(methods.list_methods())

    method = methods.get_method("hold_still")
    assert method.name == "hold_still" and methods.get_method("hold_still") is method
    env, config = build(method, base_env)
    methods.check_compatible(method, env, config)
    state = method.init(jax.random.PRNGKey(0), env, config)
    update = method.jit_update(env, config)
    for i in range(2):
        state, metrics = update(state, jax.random.PRNGKey(i))
        assert int(metrics["samples"]) == 6 and float(metrics["loss"]) > 0
    assert int(state.updates) == 2
    assert method.policy(state)(env.reset(jax.random.PRNGKey(0)).obs, None).shape == (env.action_size,)

    # A plugin that fails to import breaks only itself, with its name in the message.
    with pytest.raises(ImportError, match="broken_plugin"):
        methods.get_method("broken_plugin")
    assert methods.get_method("diffmimic") is DIFFMIMIC


def test_entry_point_must_hold_a_method(tmp_path, monkeypatch):
    install_plugin(
        tmp_path,
        monkeypatch,
        """
        [mimicbench.methods]
        not_a_method = mimicbench_demo_plugin:HoldConfig
        """,
        PLUGIN_MODULE,
    )
    with pytest.raises(TypeError, match="not a methods.Method"):
        methods.get_method("not_a_method")


# -- learning, fast: a few updates on the tiny problem, reusing the compiled updates above ------------------------


def test_diffmimic_loss_goes_down_on_a_fixed_batch(runs):
    run = runs("diffmimic")
    state, key, losses = run.initial, jax.random.PRNGKey(11), []  # one key: the same start frames every update
    for _ in range(8):
        state, metrics = run.update(state, key)
        losses.append(float(metrics["loss"]))  # of the parameters before this update
    # The first update also switches the observation normaliser from the identity to the batch's statistics, which
    # changes every policy input (on the kneeling clip the loss rose 0.00121 -> 0.00123 there); from then on the
    # normaliser moves a little per update and the gradient steps must lower the loss.
    descent = losses[1:]
    assert all(after < before for before, after in zip(descent, descent[1:])), losses
    assert descent[-1] < 0.95 * descent[0], losses


def test_ppo_surrogate_improves_on_its_batch(runs):
    from methods import ppo

    run = runs("ppo")
    state, key = run.initial, jax.random.PRNGKey(11)
    trained, _ = run.update(state, key)
    # The batch that update collected (with its first key split), checked by where it left the environments.
    carry, batch = jax.jit(ppo._collect, static_argnums=(2, 3))(state, jax.random.split(key)[0], run.env, run.config)
    assert tree_equal(carry, trained.env)
    advantages, targets = ppo._advantages(state, carry, batch, run.config)
    samples = samples_per_update(run)
    flat_batch, advantages, targets = jax.tree.map(lambda x: x.reshape((samples,) + x.shape[2:]), (batch, advantages, targets))
    # ppo samples every action, so the actor's and the critic's parts of a minibatch are the same steps.
    whole_batch = ((flat_batch, advantages), (flat_batch, targets))

    def parts(params):
        return jax.device_get(ppo._loss(params, state, whole_batch, run.config)[1])

    before, after = parts(state.params), parts(trained.params)
    # At the collecting policy every ratio is 1 and the normalised advantages average to 0.
    assert before["policy_loss"] == pytest.approx(0.0, abs=1e-5)
    assert after["policy_loss"] < -0.01, (before, after)  # the clipped surrogate went up on its own batch
    assert after["value_loss"] < before["value_loss"], (before, after)


@pytest.mark.parametrize("name", ["ppo", "diffmimic"])
def test_learning_check_evaluates_under_the_methods_own_env_settings(name):
    """PPO's policy acts through DeepMimic's action mapping; evaluating it under DiffMimic's (the env default) made
    every PPO learning check report a policy that falls."""
    from methods.learning_check import Args, build_envs

    method = methods.get_method(name)
    env, eval_env = build_envs(Args(method=name), method, method.config_cls())
    assert eval_env.config == dataclasses.replace(
        env.config, random_start=False, replay="none", early_termination=False, episode_length=Args().eval_steps
    )
    assert eval_env.config.action_mapping == ("deepmimic" if name == "ppo" else "diffmimic")


# -- learning (slow: minutes of training on two CPU cores) ----------------------------------------------------------


@pytest.mark.slow
def test_diffmimic_learns_the_synthetic_clip():
    from methods.learning_check import Args, main

    result = main(Args(method="diffmimic", iterations=100, log_every=1000))
    # Measured on the kneeling clip: 0.424 -> 0.037 after 100 updates of 16 envs x 32 steps (51 200 samples).
    assert result["pose_error_after"] < 0.3 * result["pose_error_before"]
    assert result["pose_error_after"] < 0.1 and result["fell_after"] == 0.0


@pytest.mark.slow
def test_ppo_improves_on_the_synthetic_clip():
    from methods.learning_check import Args, main

    result = main(Args(method="ppo", iterations=150, seconds=0.0, log_every=1000))
    # Measured on the kneeling clip: 0.371 -> 0.088 after 150 updates of 32 envs x 32 steps (153 600 samples), no fall;
    # PPO is noisier than DiffMimic.
    assert result["pose_error_after"] < 0.8 * result["pose_error_before"]
    assert result["return_after"] > result["return_before"]
