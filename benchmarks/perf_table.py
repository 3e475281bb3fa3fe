"""The README's throughput table, generated from the records of ``python -m benchmarks.perf`` (no JAX).

    python -m benchmarks.perf_table              # print the table from results/perf/*.json
    python -m benchmarks.perf_table --readme     # write it into README.md between its perf-table markers
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def render(records: list[dict]) -> str:
    """Markdown: one environment table and one training table, a row per (machine, device count)."""
    env_rows = ["| machine | tier | devices | raw Brax steps/s | env steps/s | env / raw (<= 1.1) | gradient s "
                "| gradient / forward (<= 3) |", "|---|---|---|---|---|---|---|---|"]
    methods = sorted({method for record in records for method in record["training"]})
    train_rows = ["| machine | tier | devices | " + " | ".join(f"{m} samples/s" for m in methods) + " |",
                  "|---|---|---|" + "---|" * len(methods)]
    for record in records:
        name, tier = record["machine"]["name"], record["settings"]["tier"]
        for count, env in sorted(record["env"].items(), key=lambda item: int(item[0])):
            env_rows.append(
                f"| {name} | {tier} | {count} | {_rate(env['raw']['steps_per_s'])} | {_rate(env['env']['steps_per_s'])} "
                f"| {env['env_over_raw']:.2f}x | {env['grad']['seconds']:.2f} | {env['grad_over_forward']:.1f}x |")
        counts = sorted({count for method in record["training"].values() for count in method}, key=int)
        for count in counts:
            cells = []
            for method in methods:
                entry = record["training"].get(method, {}).get(count)
                cells.append("" if entry is None else f"{_rate(entry['samples_per_s'])} ({entry['devices']} dev)")
            train_rows.append(f"| {name} | {tier} | {count} | " + " | ".join(cells) + " |")
    return "\n".join(env_rows) + "\n\n" + "\n".join(train_rows) + "\n"


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
    table = render(load_records(args.results))
    if args.readme:
        path = REPO / "README.md"
        path.write_text(with_table(path.read_text(), table, path))
        print(f"wrote the table into {path}")
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
