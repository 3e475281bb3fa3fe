"""The README's throughput table is generated from results/perf (no JAX); a hand-made record renders as expected."""

from __future__ import annotations

import json

import pytest

from benchmarks import perf_table

RECORD = {
    "machine": {"name": "cpu2-test"},
    "settings": {"tier": "quick"},
    "env": {
        "1": {"raw": {"steps_per_s": 5000.0}, "env": {"steps_per_s": 4000.0}, "grad": {"seconds": 2.5},
              "env_over_raw": 1.25, "grad_over_forward": 4.0},
    },
    "training": {"diffmimic": {"1": {"samples_per_s": 731.6, "devices": 1}, "2": {"samples_per_s": 969.2, "devices": 2}},
                 "ppo": {"1": {"samples_per_s": 2062.9, "devices": 1}}},
}


def test_a_record_renders_its_numbers(tmp_path):
    (tmp_path / "cpu2-test.json").write_text(json.dumps(RECORD))
    table = perf_table.render(perf_table.load_records(tmp_path))
    assert "| cpu2-test | quick | 1 | 5,000 | 4,000 | 1.25x | 2.50 | 4.0x |" in table
    assert "| cpu2-test | quick | 1 | 732 (1 dev) | 2,063 (1 dev) |" in table
    assert "| cpu2-test | quick | 2 | 969 (2 dev) |  |" in table


def test_a_broken_record_names_its_file(tmp_path):
    (tmp_path / "broken.json").write_text('{"machine": {}}')
    with pytest.raises(perf_table.PerfRecordError, match="broken.json: not a benchmarks.perf record"):
        perf_table.load_records(tmp_path)


def test_readme_table_is_current():
    readme = (perf_table.REPO / "README.md").read_text()
    table = perf_table.render(perf_table.load_records(perf_table.REPO / "results" / "perf"))
    assert perf_table.with_table(readme, table, perf_table.REPO / "README.md") == readme, (
        "README's throughput table is stale: run python -m benchmarks.perf_table --readme")
