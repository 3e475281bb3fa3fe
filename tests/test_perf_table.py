"""The README's throughput table is generated from results/perf (no JAX); a hand-made record renders as expected."""

from __future__ import annotations

import json

import pytest

from benchmarks import perf_table, side_by_side

RECORD = {
    "machine": {"name": "cpu2-test"},
    "settings": {"tier": "quick"},
    "env": {
        "1": {"raw": {"steps_per_s": 5000.0}, "env": {"steps_per_s": 4000.0}, "grad": {"seconds": 2.5},
              "env_over_raw": 1.25, "grad_over_forward": 4.0, "stored_grad_over_forward": 6.0},
        # A record from before the stored-substeps gradient was measured: that cell stays empty.
        "2": {"raw": {"steps_per_s": 9000.0}, "env": {"steps_per_s": 8000.0}, "grad": {"seconds": 2.0},
              "env_over_raw": 1.125, "grad_over_forward": 5.0},
    },
    "training": {"diffmimic": {"1": {"samples_per_s": 731.6, "devices": 1}, "2": {"samples_per_s": 969.2, "devices": 2}},
                 "ppo": {"1": {"samples_per_s": 2062.9, "devices": 1}}},
}


def test_a_record_renders_its_numbers(tmp_path):
    (tmp_path / "cpu2-test.json").write_text(json.dumps(RECORD))
    table = perf_table.render(perf_table.load_records(tmp_path))
    assert "| cpu2-test | quick | 1 | 5,000 | 4,000 | 1.25x | 2.50 | 4.0x | 6.0x |" in table
    assert "| cpu2-test | quick | 2 | 9,000 | 8,000 | 1.12x | 2.00 | 5.0x |  |" in table
    assert "| cpu2-test | quick | 1 | 732 (1 dev) | 2,063 (1 dev) |" in table
    assert "| cpu2-test | quick | 2 | 969 (2 dev) |  |" in table


def test_a_broken_record_names_its_file(tmp_path):
    (tmp_path / "broken.json").write_text('{"machine": {}}')
    with pytest.raises(perf_table.PerfRecordError, match="broken.json: not a benchmarks.perf record"):
        perf_table.load_records(tmp_path)


def test_readme_table_is_current():
    readme = (perf_table.REPO / "README.md").read_text()
    table = perf_table.readme_table(perf_table.REPO / "results" / "perf")
    assert perf_table.with_table(readme, table, perf_table.REPO / "README.md") == readme, (
        "README's throughput table is stale: run python -m benchmarks.perf_table --readme")


SIDE_BY_SIDE = {
    "machine": {"name": "cpu2-test"},
    "settings": {"clip": "walk", "tier": "quick"},
    "old": {"ref": "abc", "commit": "1234567890abcdef"},
    "new": {"commit": "fedcba0987654321", "dirty": False},
    "runs": [
        {"commit": "old", "method": "ppo", "samples_per_s": 1000.0},
        {"commit": "old", "method": "ppo", "samples_per_s": 1200.0},
        {"commit": "new", "method": "ppo", "samples_per_s": 2400.0},
        {"commit": "new", "method": "ppo", "samples_per_s": 2000.0},
        {"commit": "new", "method": "ppo", "samples_per_s": 2600.0},
    ],
}


def test_side_by_side_speedup_is_the_ratio_of_medians():
    # old median (1000 + 1200) / 2 = 1100; new median of 2000, 2400, 2600 = 2400; 2400 / 1100 = 2.1818...
    assert side_by_side.speedups(SIDE_BY_SIDE["runs"]) == {"ppo": pytest.approx(2400 / 1100)}


def test_side_by_side_rate_is_samples_over_train_seconds(tmp_path):
    curve = tmp_path / "curve.csv"
    curve.write_text("samples,iteration,train_seconds,compile_seconds,eval_seconds,pose_error\n"
                     "0,0,0.0,40.0,0.1,0.3\n10240,10,20.0,40.0,0.2,0.2\n25600,25,50.0,40.0,0.3,0.1\n")
    assert side_by_side.read_rate(curve) == {"samples": 25600, "train_seconds": 50.0, "samples_per_s": 512.0,
                                             "compile_seconds": 40.0}
    curve.write_text("samples,train_seconds\n")
    with pytest.raises(side_by_side.SideBySideError, match="curve.csv: not a finished run's curve"):
        side_by_side.read_rate(curve)


def test_a_side_by_side_record_renders_its_numbers(tmp_path):
    record = {**SIDE_BY_SIDE, "speedup": side_by_side.speedups(SIDE_BY_SIDE["runs"])}
    (tmp_path / "cpu2-test.json").write_text(json.dumps(record))
    table = perf_table.render_side_by_side(perf_table.load_side_by_side(tmp_path))
    assert ("| cpu2-test | walk, quick | ppo | 1,100 (1,000, 1,200) at 1234567 | 2,400 (2,000, 2,400, 2,600) at fedcba0 "
            "| 2.18x |") in table
    (tmp_path / "broken.json").write_text('{"machine": {"name": "x"}}')
    with pytest.raises(perf_table.PerfRecordError, match="broken.json: not a benchmarks.side_by_side record"):
        perf_table.load_side_by_side(tmp_path)
