"""The command line: subcommands and their help, seeds, overrides, plan validation, quiet output. Nothing here
compiles a training program."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import run_benchmark
from benchmarks.overrides import OverrideError, config_overrides, env_overrides, override_tier, parse_seeds, parse_set
from benchmarks.tiers import TIERS, get_tier
from methods.diffmimic import DiffMimicConfig
from methods.ppo import PPOConfig
from run_benchmark import main as cli

REPO = Path(__file__).resolve().parent.parent
SYNTHETIC_FILE = REPO / "envs" / "assets" / "humanoid3d_synthetic.txt"


# -------------------------------------------------------------------------------------------------- seeds


@pytest.mark.parametrize(
    "seeds, num_seeds, expected",
    [(None, None, [0]), ("0", None, [0]), ("3", None, [3]), ("0,1,2", None, [0, 1, 2]), (" 5, 7 ", None, [5, 7]),
     (None, 3, [0, 1, 2]), (None, 1, [0])],
)
def test_seeds(seeds, num_seeds, expected):
    assert parse_seeds(seeds, num_seeds) == expected


@pytest.mark.parametrize(
    "seeds, num_seeds, message",
    [("-1", None, "-1 is negative"), ("", None, "--seeds is empty"), (",", None, "--seeds is empty"),
     ("0,x", None, "'x' is not a seed"), ("1,1", None, "lists a seed twice"), (None, 0, "at least 1"),
     (None, -2, "at least 1"), ("0", 2, "not both")],
)
def test_bad_seeds(seeds, num_seeds, message):
    with pytest.raises(OverrideError, match=message):
        parse_seeds(seeds, num_seeds)


# ---------------------------------------------------------------------------------------------- overrides


def test_set_converts_to_the_field_types():
    settings = parse_set(["diffmimic.learning_rate=1e-4", "diffmimic.hidden_sizes=256,128", "diffmimic.replay=none",
                          "diffmimic.normalize_observations=false", "diffmimic.num_envs=8", "ppo.clip_epsilon=0.1"])
    values = config_overrides("diffmimic_noreplay", DiffMimicConfig, settings)  # the family name covers ablations
    assert values == {"learning_rate": 1e-4, "hidden_sizes": (256, 128), "replay": "none",
                      "normalize_observations": False, "num_envs": 8}
    assert type(values["num_envs"]) is int and type(values["learning_rate"]) is float
    assert config_overrides("ppo", PPOConfig, settings) == {"clip_epsilon": 0.1}
    DiffMimicConfig(**values)  # the converted values build the config


@pytest.mark.parametrize(
    "item, message",
    [("diffmimic.nosuch=1", "has no field 'nosuch'"), ("diffmimic.learning_rate=fast", "expected a number"),
     ("diffmimic.num_envs=2.5", "expected an integer"), ("diffmimic.replay=sometimes", "expected one of none, threshold, random"),
     ("diffmimic.normalize_observations=maybe", "expected true or false"),
     ("diffmimic.hidden_sizes=big", "expected a comma-separated tuple")],
)
def test_set_refuses_unknown_fields_and_bad_values(item, message):
    with pytest.raises(OverrideError, match=message) as error:
        config_overrides("diffmimic", DiffMimicConfig, parse_set([item]))
    assert str(error.value).startswith(f"--set {item}:") and "\n" not in str(error.value)


@pytest.mark.parametrize("item", ["learning_rate=1", "diffmimic.learning_rate", ".x=1", "diffmimic.=1"])
def test_set_needs_method_field_value(item):
    with pytest.raises(OverrideError, match="expected METHOD.FIELD=VALUE"):
        parse_set([item])


def test_env_converts_to_the_field_types():
    from envs import MimicConfig

    values = env_overrides(["observation=timestamp", "joint_damping=diffmimic", "substeps=20",
                            "fall_contact_distance=0.01", "fall_contact_bodies=pelvis,torso", "observation=target"],
                           MimicConfig)
    assert values == {"observation": "target", "joint_damping": "diffmimic", "substeps": 20,  # the last one wins
                      "fall_contact_distance": 0.01, "fall_contact_bodies": ("pelvis", "torso")}
    MimicConfig(**values).validate()


@pytest.mark.parametrize(
    "item, message",
    [("observation", "expected FIELD=VALUE"), ("=state", "expected FIELD=VALUE"),
     ("nosuch=1", r"has no field 'nosuch'; fields: .*observation, random_start"), ("observation=pixels", "expected one of state, target, timestamp"),
     ("substeps=many", "expected an integer"), ("phase=rounded", "use --phase for 'phase'"),
     ("backend=mjx", "use --backend"), ("episode_length=90", "use --set METHOD.rollout_length"), ("torque_limits=character", "use --torque-limits"),
     ("reward_weights=1", "cannot be set from the command line")],
)
def test_env_refuses_unknown_fields_and_bad_values(item, message):
    from envs import MimicConfig

    with pytest.raises(OverrideError, match=message) as error:
        env_overrides([item], MimicConfig)
    assert str(error.value).startswith(f"--env {item}:") and "\n" not in str(error.value)


def test_env_reaches_every_run_and_the_manifest():
    from benchmarks import harness
    from benchmarks.evaluator import Horizons

    args = run_benchmark.RunArgs(env=("observation=timestamp", "joint_damping=diffmimic"))
    plan = run_benchmark.make_plan(args)
    for spec in plan:
        method, config, env_config = harness.method_config(spec)
        assert (env_config.observation, env_config.joint_damping) == ("timestamp", "diffmimic")
    env = types.SimpleNamespace(config=env_config, reference=types.SimpleNamespace(dt=1 / 30))
    manifest = harness._manifest(plan[-1], method, config, env, env, Horizons(cycle_frames=60, long_frames=600), 1)
    assert manifest["env_command_line"] == {"observation": "timestamp", "joint_damping": "diffmimic"}
    assert manifest["config"]["env"]["observation"] == "timestamp"
    assert "observation=timestamp" in run_benchmark._describe(plan, args)
    # A field the method sets itself would be silently overwritten: refused, naming the method.
    with pytest.raises(ValueError, match="--env replay=none: diffmimic sets 'replay' itself"):
        run_benchmark.make_plan(run_benchmark.RunArgs(methods="diffmimic", env=("replay=none",)))


def test_budget_overrides():
    tier = override_tier(get_tier("demo"), max_samples=1000, max_train_minutes=0.5, eval_every_samples=100, eval_frames=20)
    assert (tier.max_samples, tier.max_train_seconds, tier.eval_every_samples, tier.eval_frames) == (1000, 30.0, 100, 20)
    assert override_tier(get_tier("demo")) == get_tier("demo")
    with pytest.raises(OverrideError, match="--max-train-minutes must be positive"):
        override_tier(get_tier("demo"), max_train_minutes=0)


def test_overrides_reach_the_config_and_the_manifest():
    from benchmarks import harness
    from benchmarks.evaluator import Horizons

    args = run_benchmark.RunArgs(num_envs=8, max_train_minutes=0.5, num_seeds=2,
                                 set=("diffmimic.learning_rate=1e-4", "ppo.minibatch_size=128"))
    plan = run_benchmark.make_plan(args)
    assert [(spec.method, spec.seed) for spec in plan] == [("diffmimic", 0), ("diffmimic", 1), ("ppo", 0), ("ppo", 1)]
    assert all(spec.tier.name == "demo" and spec.tier.max_train_seconds == 30.0 for spec in plan)
    method, config, env_config = harness.method_config(plan[0])
    assert (config.learning_rate, config.num_envs, config.rollout_length) == (1e-4, 8, 32)  # tier's rollout kept
    env = types.SimpleNamespace(config=env_config, reference=types.SimpleNamespace(dt=1 / 30))
    manifest = harness._manifest(plan[0], method, config, env, env, Horizons(cycle_frames=60, long_frames=600), 2)
    assert manifest["device_count"] == 2  # the devices the batch was split over
    assert manifest["control_dt"] == 1 / 30  # seconds per evaluation step, for the report's fall times
    assert manifest["config"]["method"]["learning_rate"] == 1e-4
    assert manifest["config"]["command_line"] == {"learning_rate": 1e-4, "num_envs": 8}
    assert manifest["config"]["tier"]["max_train_seconds"] == 30.0
    _, ppo_config, _ = harness.method_config(plan[2])
    assert (ppo_config.num_envs, ppo_config.minibatch_size) == (8, 128)
    json.dumps(manifest["config"])  # the manifest is written as JSON
    assert env_config.phase == "exact"
    rounded = run_benchmark.make_plan(dataclasses.replace(args, phase="rounded"))
    assert {harness.method_config(spec)[2].phase for spec in rounded} == {"rounded"}  # --phase reaches every run


def paused_run(out, spec, **env_changes):
    """A run folder as a paused run leaves it: a manifest with the run's configs (env fields changed) and a checkpoint."""
    from benchmarks import harness

    _, config, env_config = harness.method_config(spec)
    run_dir = spec.key.dir(out)
    run_dir.mkdir(parents=True)
    env = {**dataclasses.asdict(env_config), **env_changes}
    manifest = {"config": {"method": dataclasses.asdict(config), "env": env, "tier": dataclasses.asdict(spec.tier),
                           "clip_file": str(spec.clip.clip), "command_line": dict(spec.config_overrides)}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (run_dir / "checkpoint.msgpack").write_bytes(b"state")
    return run_dir


def test_a_paused_run_is_not_redone_under_other_settings(tmp_path, capsys):
    """A forgotten flag would restart a paused run from scratch: refused before anything compiles, naming the run
    and the settings; the same settings pass, and so do records from before an option (as the run had it)."""
    from benchmarks.plan import check_recorded_runs

    args = run_benchmark.RunArgs(methods="diffmimic", out=tmp_path)
    spec = run_benchmark.make_plan(args)[0]
    run_dir = paused_run(tmp_path, spec, phase="rounded")
    before = {path: path.read_bytes() for path in run_dir.iterdir()}
    assert cli(["--methods", "diffmimic", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {run_dir}: a paused run started under other settings (env.phase rounded -> exact); " in err
    assert f"delete {run_dir} to redo it" in err and "--no-resume" not in err  # which would delete finished runs
    assert err.count("\n") == 1
    assert {path: path.read_bytes() for path in run_dir.iterdir()} == before  # nothing touched
    check_recorded_runs(run_benchmark.make_plan(dataclasses.replace(args, phase="rounded")), tmp_path)  # its settings
    # A record from before reset_above_ground: started without the lift, which is today's default.
    manifest = json.loads((run_dir / "manifest.json").read_text())
    del manifest["config"]["env"]["reset_above_ground"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    check_recorded_runs(run_benchmark.make_plan(dataclasses.replace(args, phase="rounded")), tmp_path)
    with pytest.raises(ValueError, match="method.learning_rate 0.0003 -> 0.0001"):
        check_recorded_runs(run_benchmark.make_plan(
            dataclasses.replace(args, phase="rounded", set=("diffmimic.learning_rate=1e-4",))), tmp_path)
    # A budget, or a --set of the default value, changes what the harness compares too.
    with pytest.raises(ValueError, match=r"tier.max_train_seconds None -> 60.0"):
        check_recorded_runs(run_benchmark.make_plan(
            dataclasses.replace(args, phase="rounded", max_train_minutes=1.0)), tmp_path)
    with pytest.raises(ValueError, match=r"command_line.learning_rate \(none\) -> 0.0003"):
        check_recorded_runs(run_benchmark.make_plan(
            dataclasses.replace(args, phase="rounded", set=("diffmimic.learning_rate=3e-4",))), tmp_path)
    (run_dir / "manifest.json").write_text(json.dumps({"config": {"env": "not a config"}}))
    check_recorded_runs(run_benchmark.make_plan(args), tmp_path)  # unreadable: left to the harness, which redoes it


def test_finished_runs_recorded_under_other_settings_are_named(tmp_path, capsys, monkeypatch):
    """Finished runs are kept whatever the settings: a command that would mix settings across a suite says so
    before its first run, naming each run and setting."""
    from benchmarks import plan as plan_module

    args = run_benchmark.RunArgs(methods="diffmimic", num_seeds=2, out=tmp_path)
    specs = run_benchmark.make_plan(args)
    older = paused_run(tmp_path, specs[0], phase="rounded")
    paused_run(tmp_path, specs[1])  # the command's own settings
    monkeypatch.setattr(plan_module.store, "is_finished", lambda out, key: True)
    found = plan_module.check_recorded_runs(specs, tmp_path)
    assert found == [(older, ["env.phase rounded -> exact"])]
    run_benchmark._warn_of_finished_runs_with_other_settings(found, tmp_path)
    err = capsys.readouterr().err
    assert err.startswith(f"warning: 1 finished run(s) under {tmp_path} were recorded under other settings")
    assert f"{older} (env.phase rounded -> exact)" in err and err.count("\n") == 1
    run_benchmark._warn_of_finished_runs_with_other_settings(plan_module.check_recorded_runs(
        run_benchmark.make_plan(dataclasses.replace(args, phase="rounded", num_seeds=1)), tmp_path), tmp_path)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------------------- bad input: one line


@pytest.mark.parametrize(
    "argv, message",
    [(["--seeds", "-1"], "error: --seeds: -1 is negative"),
     (["--seeds", ""], "error: --seeds is empty"),
     (["--set", "diffmimic.nosuch=1"], "has no field 'nosuch'"),
     (["--set", "diffmimic.learning_rate=fast"], "expected a number"),
     (["--set", "difmimic.learning_rate=1"], "'difmimic' is not one of the methods run"),
     (["--max-samples", "-3"], "--max-samples must be at least 1"),
     (["--num-envs", "0"], "--num-envs must be at least 1"),
     (["--phase", "sometimes"], "--phase"),
     (["--env", "observation=pixels"], "--env observation=pixels: expected one of"),
     (["--env", "joint_damping=diffmimic", "--backend", "generalized"], "joint_damping 'diffmimic'"),
     (["--env", "fall_contact_bodies=chest,tail"], "fall_contact_bodies ['tail'] are not bodies of 'humanoid3d'")],
)
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    assert cli([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())


def test_ctrl_c_says_how_to_continue(tmp_path, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_benchmark, "_run", interrupted)
    assert cli(["--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "interrupted: finished runs under" in err and "run the same command again" in err and "Traceback" not in err


def test_a_malformed_clip_late_in_the_list_fails_before_any_run(tmp_path, capsys):
    bad = tmp_path / "clips" / "broken_clip.txt"
    bad.parent.mkdir()
    frames = json.loads(SYNTHETIC_FILE.read_text())
    frames["Frames"][3] = frames["Frames"][3][:-2]  # a truncated frame
    bad.write_text(json.dumps(frames))
    out = tmp_path / "out"
    assert cli(["--clips", f"{SYNTHETIC_FILE},{SYNTHETIC_FILE},{bad}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "broken_clip.txt: frame 3 has" in err, err
    assert not out.exists()


def test_seed_zero_is_one_run():
    plan = run_benchmark.make_plan(run_benchmark.RunArgs(seeds="0", methods="ppo", tier="smoke"))
    assert [spec.seed for spec in plan] == [0] and plan[0].tier.name == "smoke"


# ------------------------------------------------------------------------------------------- subcommands


@pytest.mark.parametrize(
    "argv, expected",
    [(["--help"], ["run", "list", "fetch", "view", "report"]),
     (["run", "--help"], ["--suite {smoke,deepmimic,amass,aist,swordshield}", "--tier {demo,smoke,quick,long,paper}",
                          "--backend {spring,positional,generalized,mjx}", "--num-seeds", "--max-train-minutes",
                          "--eval-every-samples", "--num-envs", "--stop-after-minutes", "--set METHOD.FIELD=VALUE", "--verbose"]),
     (["list", "--help"], ["suites, methods, tiers"]),
     (["fetch", "--help"], ["--dest", "--force", "--source", "--accept-licence", "non-commercial"]),
     (["view", "--help"], ["RUN_DIR_OR_ROLLOUT", "--open"]),
     (["report", "--help"], ["RESULTS", "--out"])],
)
def test_subcommand_help(capsys, monkeypatch, argv, expected):
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_:
        cli(argv)
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for item in expected:
        assert item in text, (item, text)


def test_choices_shown_in_help_are_the_registries():
    import envs
    from benchmarks.suites import SUITES

    assert run_benchmark.SUITE_CHOICES == tuple(SUITES)
    assert run_benchmark.BACKEND_CHOICES == tuple(envs.BACKENDS)
    assert run_benchmark.TORQUE_LIMIT_CHOICES == tuple(envs.TORQUE_LIMITS)
    assert run_benchmark.PHASE_CHOICES == tuple(envs.PHASE_MODES)
    assert "demo" in TIERS and "smoke" in TIERS


def test_bare_options_are_the_run_subcommand():
    assert run_benchmark.parse(["--suite", "deepmimic", "--methods", "diffmimic,ppo"]) == run_benchmark.parse(
        ["run", "--suite", "deepmimic", "--methods", "diffmimic,ppo"])
    assert run_benchmark.parse([]) == run_benchmark.RunArgs()


def test_report_subcommand_without_runs(tmp_path, capsys):
    assert cli(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error:")


# ------------------------------------------------------------------------------------------ quiet output


def _python(code_or_args: list[str], env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *code_or_args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def test_list_prints_only_the_listing():
    result = _python(["run_benchmark.py", "list"])
    assert result.returncode == 0, result.stderr
    assert "warp" not in (result.stdout + result.stderr).lower()
    assert result.stderr == "" and result.stdout.startswith("suites:")


def test_programs_loaded_from_the_compilation_cache_print_nothing(tmp_path):
    program = (
        "from benchmarks.console import quiet_libraries; quiet_libraries()\n"
        "import jax, jax.numpy as jnp\n"
        f"jax.config.update('jax_compilation_cache_dir', {str(tmp_path)!r})\n"
        "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)\n"
        "jax.config.update('jax_persistent_cache_min_entry_size_bytes', -1)\n"
        "print(float(jax.jit(lambda x: jnp.take(x, jnp.array([1, 0])).sum() * 2)(jnp.arange(3.0))))\n"
    )
    first, second = _python(["-c", program]), _python(["-c", program])  # the second loads from the cache
    assert any(tmp_path.iterdir())
    for result in (first, second):
        assert result.returncode == 0 and result.stdout == "2.0\n", result.stderr
        assert result.stderr == "", result.stderr[:500]


def test_view_and_report_subcommands_do_not_import_jax(tmp_path):
    program = ("import sys, run_benchmark\n"
               f"code = run_benchmark.main(['report', {str(tmp_path)!r}])\n"
               "print(code, 'jax' in sys.modules, 'envs' in sys.modules)\n")
    result = _python(["-c", program])
    assert result.stdout.split() == ["2", "False", "False"], result.stdout + result.stderr
