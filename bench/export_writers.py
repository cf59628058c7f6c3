"""XLSX/ODS/CSV writers in constant memory? Peak resident memory growth and CPU time of each writer for
N rows of the portfolio export's shape (12 columns: codes, long French text, dates, numbers), each run in
a fresh process.

    .venv/bin/python bench/export_writers.py                  # 2 000, 20 000 and 50 000 rows
    .venv/bin/python bench/export_writers.py --rows 20000

Compared: what app/tabular.py uses (XlsxWriter's `constant_memory` mode with the app's formats, the
streamed ODS writer, CSV), openpyxl's write-only workbook (what the app used before) and its default
(in-memory) workbook.
A writer is in constant memory when its peak does not grow with N.
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import tabular  # noqa: E402
from app.tabular import Column, Export, Kind, Sheet  # noqa: E402

COLUMNS = [
    Column("code", "Code", Kind.CODE, lambda r: r[0]),
    Column("brique", "Brique", Kind.TEXT, lambda r: r[1]),
    Column("besoin", "Besoin", Kind.LONGTEXT, lambda r: r[2]),
    Column("statut", "Statut", Kind.TEXT, lambda r: r[3]),
    Column("priorite", "Priorité", Kind.TEXT, lambda r: r[4]),
    Column("montant", "Montant", Kind.EUROS, lambda r: r[5]),
    Column("taux", "Taux", Kind.PERCENT, lambda r: r[6]),
    Column("etp", "ETP", Kind.DECIMAL, lambda r: r[7]),
    Column("votes", "Votes", Kind.INTEGER, lambda r: r[8]),
    Column("debut", "Début", Kind.DATE, lambda r: r[9]),
    Column("cree", "Créée le", Kind.DATETIME, lambda r: r[10]),
    Column("ministeres", "Ministères", Kind.TEXT, lambda r: r[11]),
]
BESOIN = (
    "Disposer d'une solution mutualisée de messagerie collaborative, hébergée sur un cloud de confiance, "
    "interopérable avec les annuaires ministériels et accessible aux agents en mobilité. "
)


def rows(n: int):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        yield (
            f"M{i:05d}",
            f"Brique {i % 97} — socle partagé",
            BESOIN * (1 + i % 3),
            "identifiee",
            "must",
            1000 * i,
            12.5,
            1.5,
            i % 300,
            (start + timedelta(days=i % 365)).date(),
            start + timedelta(minutes=i),
            "MI|MEF|MTE",
        )


def export(n: int) -> Export:
    return Export("bench", "Banc d'essai", [Sheet("Opportunités", COLUMNS, rows(n))])


def openpyxl_in_memory(n: int, target) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append([c.title for c in COLUMNS])
    for row in rows(n):
        sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row])
    workbook.save(target)


def openpyxl_write_only(n: int, target) -> None:
    """What app/tabular.py used before XlsxWriter: openpyxl's write-only workbook."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Opportunités")
    sheet.append([c.title for c in COLUMNS])
    for row in rows(n):
        sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row])
    workbook.save(target)


WRITERS = {
    "xlsx XlsxWriter constant_memory (app)": lambda n, t: tabular.write_xlsx(export(n), t),
    "xlsx openpyxl write-only": openpyxl_write_only,
    "xlsx openpyxl in memory": openpyxl_in_memory,
    "ods streamed (app)": lambda n, t: tabular.write_ods(export(n), t),
    "csv (app)": lambda n, t: [t.write(chunk) for chunk in tabular.csv_chunks(export(n))] and None,
}


def _one(name: str, n: int, path: Path) -> None:
    """In a child process: write, then print the CPU time and the peak RSS growth."""
    import openpyxl  # noqa: F401 - imported before the base measure, as the app has them loaded
    import xlsxwriter  # noqa: F401

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    if "openpyxl" in name:  # openpyxl opens the file itself
        WRITERS[name](n, str(path))
    else:
        with path.open("wb") as handle:
            WRITERS[name](n, handle)
    cpu = time.process_time() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base  # kB on Linux
    print(f"{cpu} {peak}")


def measure(name: str, n: int, folder: Path) -> tuple[float, float, int]:
    """(peak RSS growth in MB, CPU seconds, file size), each writer in a fresh process (the peak RSS of a
    process never goes down)."""
    path = folder / f"bench-{n}"
    out = subprocess.run(
        [sys.executable, __file__, "--one", name, "--rows", str(n), "--path", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    size = path.stat().st_size
    path.unlink()
    return int(out[1]) / 1024, float(out[0]), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="2000,20000,50000")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one, int(args.rows), Path(args.path))
        return 0
    sizes = [int(n) for n in args.rows.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'writer':34} {'rows':>7} {'peak RSS MB':>11} {'CPU s':>6} {'file MB':>7}")
        for name in WRITERS:
            for n in sizes:
                peak, cpu, size = measure(name, n, Path(folder))
                print(f"{name:34} {n:7d} {peak:11.1f} {cpu:6.2f} {size / 1e6:7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
