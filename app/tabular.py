"""Read and write tables as CSV (UTF-8) or XLSX, for imports and exports."""

import csv
import io
from pathlib import Path

from flask import Response
from openpyxl import Workbook, load_workbook

PORTFOLIO_COLUMNS = ["code", "brique", "besoin"]
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class TableError(ValueError):
    """The file cannot be read as a table (French message)."""


def read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Return (header, [(line number, row dict)]) from a .csv or .xlsx file; blank lines are skipped."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise TableError("Le fichier CSV doit être encodé en UTF-8.") from None
        delimiter = _delimiter(text)
        raw = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        lines = _csv_line_numbers(text, delimiter)
    elif suffix == ".xlsx":
        try:
            sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
        except Exception:  # noqa: BLE001 - any unreadable workbook
            raise TableError("Le fichier XLSX ne peut pas être lu.") from None
        raw = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        lines = list(range(1, len(raw) + 1))
    else:
        raise TableError("Format non pris en charge : utilisez un fichier .csv ou .xlsx.")
    if not raw:
        raise TableError("Le fichier est vide.")
    header = [h.strip().lower() for h in raw[0]]
    rows = []
    for number, values in zip(lines[1:], raw[1:], strict=False):
        if not any((v or "").strip() for v in values):
            continue
        rows.append((number, dict(zip(header, values, strict=False))))
    return header, rows


def _delimiter(text: str) -> str:
    """French spreadsheets export with ";"; accept both."""
    first_line = text.partition("\n")[0]
    return ";" if first_line.count(";") > first_line.count(",") else ","


def _csv_line_numbers(text: str, delimiter: str) -> list[int]:
    """Physical line on which each CSV record starts (a record may span several lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    starts, previous_end = [], 0
    for _ in reader:
        starts.append(previous_end + 1)
        previous_end = reader.line_num
    return starts


def csv_bytes(columns: list[str], rows: list[list], delimiter: str = ",") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(columns: list[str], rows: list[list], title: str = "Feuille1") -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_table(path: Path, columns: list[str], rows: list[list]) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        path.write_bytes(csv_bytes(columns, rows))
    elif suffix == ".xlsx":
        path.write_bytes(xlsx_bytes(columns, rows, "opportunites"))
    else:
        raise TableError("Format non pris en charge : utilisez un fichier .csv ou .xlsx.")


def tabular_response(columns: list[str], rows: list[list], fmt: str, basename: str) -> Response:
    if fmt == "xlsx":
        body, mimetype = xlsx_bytes(columns, rows, basename), XLSX_MIME
    else:
        body, mimetype = csv_bytes(columns, rows), "text/csv; charset=utf-8"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{basename}.{fmt}"'
    return response
