"""A study's results file: JSON Lines, one object per finished run (or curve), kept in order.

Drivers write into ``OUT/results.jsonl`` with :func:`put`, which replaces the record that has
the same values of the key fields or appends a new one; the file is rewritten atomically under
a lock, so several drivers may share one OUT. Tables read any such file with :func:`read`, the
measured ones in ``benchmarks/results/STUDY.MACHINE.jsonl`` included.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from zsk.core.storage.files import write_file

#: The file name a driver writes in its OUT folder.
RESULTS = "results.jsonl"


def read(path: Path) -> list[dict]:
    """Every record of ``path`` in file order (none when it does not exist yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def find(records: list[dict], **values: object) -> dict | None:
    """The first record whose fields equal ``values``."""
    for record in records:
        if all(record.get(key) == value for key, value in values.items()):
            return record
    return None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def put(path: Path, record: dict, key: tuple[str, ...]) -> None:
    """Write ``record`` into ``path``, in place of the record with its values of ``key``."""
    with _locked(path):
        records = read(path)
        same = find(records, **{k: record.get(k) for k in key})
        if same is None:
            records.append(record)
        else:
            records[records.index(same)] = record
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        write_file(path, text)


def finished(record: dict) -> dict:
    """``record`` with what every study's results file keeps beside a run's numbers: the
    machine that measured it and the time it finished."""
    return record | {
        "machine": platform.processor() or platform.machine(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def study_arguments(doc: str) -> argparse.ArgumentParser:
    """The arguments every study driver takes: ``OUT`` (its folder, or with ``--table`` a
    results file) and ``--table``; the driver adds its own."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("out", type=Path, help="the study's folder, or with --table a results file")
    parser.add_argument("--table", action="store_true", help="print the table of OUT and stop")
    return parser


def tabled(args: argparse.Namespace, table: Callable[[Path], str]) -> bool:
    """Print ``table(args.out)`` when ``--table`` was given; whether it was."""
    if args.table:
        print(table(args.out))
    return args.table


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table: ``header``, its rule, then a line per row (each cell as ``str``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def mean_spread(values: list[float]) -> str:
    """A table cell of numbers over seeds: mean ± std to three places, the count beside it when
    there are fewer than three, the one value with ``(n=1)``, ``—`` for none."""
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.3f} (n=1)"
    mean, spread = statistics.mean(values), statistics.stdev(values)
    return f"{mean:.3f} ± {spread:.3f}" + ("" if len(values) >= 3 else f" (n={len(values)})")


#: What one run says of one route: ZSL top-1, GZSL H and the CPU seconds it cost.
RouteNumbers = tuple[float, float, float]


def routes_table(
    cells: Mapping[tuple[str, str], list[RouteNumbers]], h: str = "GZSL H", cpu: str = "CPU s"
) -> str:
    """A row per (set, route) of ``cells``, in their order: ZSL top-1 and H as mean ± std over
    the runs (seeds, :func:`mean_spread`) and the runs' mean CPU seconds; ``h`` and ``cpu``
    head those columns."""
    rows = [
        (
            name,
            route,
            mean_spread([zsl for zsl, _, _ in runs]),
            mean_spread([h for _, h, _ in runs]),
            f"{statistics.mean(seconds for _, _, seconds in runs):.0f}",
        )
        for (name, route), runs in cells.items()
    ]
    return markdown_table(("set", "route", "ZSL top-1", h, cpu), rows)
