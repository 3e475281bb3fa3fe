"""The README's throughput table, generated from the records of ``python -m benchmarks.perf`` (no JAX).

    python -m benchmarks.perf_table              # print the table from results/perf/*.json
    python -m benchmarks.perf_table --readme     # write it into README.md between its perf-table markers

Records of ``python -m benchmarks.side_by_side`` (results/perf/side_by_side/*.json) add a table of this checkout's
training speed against an older commit's.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from benchmarks.side_by_side import rates_by_commit

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- perf-table:begin (python -m benchmarks.perf_table --readme) -->", "<!-- perf-table:end -->"


class PerfRecordError(ValueError):
    """A perf record that cannot be read; the message names the file and the problem."""


def load_records(folder: Path) -> list[dict]:
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
            record["machine"]["name"], record["env"], record["training"]  # the fields the table reads
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise PerfRecordError(f"{path}: not a benchmarks.perf record ({type(error).__name__}: {error})") from error
        records.append(record)
    return records


def load_side_by_side(folder: Path) -> list[dict]:
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
            record["machine"]["name"], record["old"]["commit"], record["runs"], record["speedup"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise PerfRecordError(f"{path}: not a benchmarks.side_by_side record ({type(error).__name__}: {error})"
                                  ) from error
        records.append(record)
    return records


def render_side_by_side(records: list[dict]) -> str:
    """Markdown: a row per (machine, method): the old and new commits' samples/s (median of the runs) and the ratio."""
    rows = ["| machine | clip, tier | method | old commit samples/s | this code samples/s | speed-up (>= 1.8) |",
            "|---|---|---|---|---|---|"]
    for record in records:
        settings = record["settings"]
        for method, speedup in sorted(record["speedup"].items()):
            cells = [f"{_rate(statistics.median(values))} ({', '.join(_rate(v) for v in values)})"
                     for values in rates_by_commit(record["runs"], method).values()]
            rows.append(f"| {record['machine']['name']} | {settings['clip']}, {settings['tier']} | {method} "
                        f"| {cells[0]} at {record['old']['commit'][:7]} | {cells[1]} at {record['new']['commit'][:7]} "
                        f"| {speedup:.2f}x |")
    return "\n".join(rows) + "\n"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    """A ratio, or empty for a record made before it was measured."""
    return "" if value is None else f"{value:.1f}x"


def render(records: list[dict]) -> str:
    """Markdown: one environment table and one training table, a row per (machine, device count)."""
    env_rows = ["| machine | tier | devices | raw Brax steps/s | env steps/s | env / raw (<= 1.1) | gradient s "
                "| gradient / forward (<= 3) | substeps stored: gradient / forward |", "|---|---|---|---|---|---|---|---|---|"]
    methods = sorted({method for record in records for method in record["training"]})
    train_rows = ["| machine | tier | devices | " + " | ".join(f"{m} samples/s" for m in methods) + " |",
                  "|---|---|---|" + "---|" * len(methods)]
    for record in records:
        name, tier = record["machine"]["name"], record["settings"]["tier"]
        for count, env in sorted(record["env"].items(), key=lambda item: int(item[0])):
            env_rows.append(
                f"| {name} | {tier} | {count} | {_rate(env['raw']['steps_per_s'])} | {_rate(env['env']['steps_per_s'])} "
                f"| {env['env_over_raw']:.2f}x | {env['grad']['seconds']:.2f} | {env['grad_over_forward']:.1f}x "
                f"| {_ratio(env.get('stored_grad_over_forward'))} |")
        counts = sorted({count for method in record["training"].values() for count in method}, key=int)
        for count in counts:
            cells = []
            for method in methods:
                entry = record["training"].get(method, {}).get(count)
                cells.append("" if entry is None else f"{_rate(entry['samples_per_s'])} ({entry['devices']} dev)")
            train_rows.append(f"| {name} | {tier} | {count} | " + " | ".join(cells) + " |")
    return "\n".join(env_rows) + "\n\n" + "\n".join(train_rows) + "\n"


def readme_table(folder: Path) -> str:
    """The README's tables: the perf records', then the side-by-side records' where there are any."""
    table = render(load_records(folder))
    side_by_side = load_side_by_side(folder / "side_by_side")
    return table + ("\n" + render_side_by_side(side_by_side) if side_by_side else "")


def with_table(readme: str, table: str, path: Path) -> str:
    if BEGIN not in readme or END not in readme:
        raise PerfRecordError(f"{path}: no perf-table markers ({BEGIN} ... {END})")
    head, rest = readme.split(BEGIN, 1)
    return head + BEGIN + "\n" + table + rest[rest.index(END):]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=REPO / "results" / "perf")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)
    table = readme_table(args.results)
    if args.readme:
        path = REPO / "README.md"
        path.write_text(with_table(path.read_text(), table, path))
        print(f"wrote the table into {path}")
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
