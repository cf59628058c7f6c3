"""The one tabular writer (CSV for people, CSV for machines, XLSX, ODS) and the reader of imported tables.

Every CSV/XLSX/ODS file the application produces goes through `export_response()` (web) or `write_table()`
(CLI). What it guarantees:

- **No formula, ever** (OWASP « CSV injection »): in CSV a text cell starting with `=`, `+`, `-`, `@`, tab or
  carriage return gets a leading apostrophe; in XLSX and ODS text is always written as a text cell, never
  as a formula (the value stays exactly what was typed).
- **Formats** (`fmt`): `csv` for people (UTF-8 with BOM, `;`, CRLF, decimal comma, dates `JJ/MM/AAAA` in
  Paris time, French column titles), `rfc4180` for machines (`,`, CRLF, decimal point, ISO 8601 with the
  Paris offset, the columns' machine keys as header), `xlsx` and `ods` (French column titles, real number
  and date cells with formats, widths per column kind, bold frozen header, auto-filter, a « Lisez-moi »
  sheet, title and author).
- **Constant memory**: rows are read one at a time from any iterable; CSV is a generator response, XLSX
  is written by XlsxWriter's constant_memory mode and ODS by a streamed XML writer, both into a temporary
  file that is then streamed (openpyxl reads the imported workbooks).
"""

import csv
import io
import itertools
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

import xlsxwriter
from flask import Response, current_app, g, request, stream_with_context
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from .formatting import PARIS

PORTFOLIO_COLUMNS = ["code", "brique", "besoin"]
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"
CSV_MIME = "text/csv; charset=utf-8"
FORMATS = ("csv", "xlsx", "ods")  # what page buttons offer; `?format=rfc4180` on a .csv URL for machines
AUTHOR = "Mutualisation DSI — secrétariat interministériel"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024


class TableError(ValueError):
    """The file cannot be read as a table (French message)."""


# --- columns and exports ------------------------------------------------------------------------------------


class Kind(StrEnum):
    """What a column holds: decides the cell type, its format and its width."""

    CODE = "code"
    TEXT = "text"
    LONGTEXT = "longtext"
    INTEGER = "integer"
    EUROS = "euros"
    PERCENT = "percent"  # values are percentages (12.5 means 12,5 %)
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    Kind.CODE: "Code",
    Kind.TEXT: "Texte",
    Kind.LONGTEXT: "Texte long",
    Kind.INTEGER: "Nombre entier",
    Kind.EUROS: "Montant en euros",
    Kind.PERCENT: "Pourcentage",
    Kind.DECIMAL: "Nombre décimal",
    Kind.DATE: "Date (heure de Paris)",
    Kind.DATETIME: "Date et heure (heure de Paris)",
}
WIDTHS = {  # in characters
    Kind.CODE: 11,
    Kind.TEXT: 30,
    Kind.LONGTEXT: 60,
    Kind.INTEGER: 10,
    Kind.EUROS: 15,
    Kind.PERCENT: 10,
    Kind.DECIMAL: 12,
    Kind.DATE: 12,
    Kind.DATETIME: 17,
}
XLSX_FORMATS = {
    Kind.INTEGER: "#,##0",
    Kind.EUROS: '#,##0\\ "€"',
    Kind.PERCENT: "0.0\\ %",
    Kind.DECIMAL: "#,##0.00",
    Kind.DATE: "DD/MM/YYYY",
    Kind.DATETIME: "DD/MM/YYYY HH:MM",
}


@dataclass(frozen=True)
class Column:
    key: str  # machine name: header of the rfc4180 CSV
    title: str  # French title: header of the people CSV, XLSX and ODS
    kind: Kind = Kind.TEXT
    value: Callable[[Any], Any] = lambda row: row
    description: str = ""


@dataclass
class Sheet:
    name: str
    columns: list[Column]
    rows: Iterable  # source rows, each turned into cells by the columns' `value`


@dataclass
class Export:
    """One downloadable file: its sheets (CSV keeps the first), title and the filters that selected it."""

    basename: str
    title: str
    sheets: list[Sheet]
    filters: list[tuple[str, str]] = field(default_factory=list)  # (label, value) for « Lisez-moi »
    readme: bool = True
    headers: dict = field(default_factory=dict)  # extra response headers


def neutralise(text: str) -> str:
    """A CSV cell that a spreadsheet would run as a formula gets a leading apostrophe (OWASP)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _paris_naive(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(PARIS).replace(tzinfo=None)


def _number(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _cells(sheet: Sheet) -> Iterator[list]:
    for row in sheet.rows:
        yield [column.value(row) for column in sheet.columns]


# --- CSV ----------------------------------------------------------------------------------------------------


def _people_text(value, kind: Kind) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime):
        value = _paris_naive(value)
        return f"{value:%d/%m/%Y}" if kind == Kind.DATE else f"{value:%d/%m/%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, int | float | Decimal):
        value = _number(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).replace(".", ",")
    return neutralise(str(value))


def _machine_text(value, kind: Kind) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(PARIS)
        return value.date().isoformat() if kind == Kind.DATE else value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(_number(value))
    return neutralise(str(value))


def csv_chunks(export: Export, machine: bool = False) -> Iterator[bytes]:
    """The first sheet as CSV, one encoded row at a time."""
    sheet = export.sheets[0]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter="," if machine else ";", lineterminator="\r\n")
    to_text = _machine_text if machine else _people_text

    def flush() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode("utf-8")

    writer.writerow([c.key if machine else c.title for c in sheet.columns])
    yield ("" if machine else "\ufeff").encode("utf-8") + flush()
    kinds = [c.kind for c in sheet.columns]
    for cells in _cells(sheet):
        writer.writerow([to_text(v, k) for v, k in zip(cells, kinds, strict=True)])
        yield flush()


# --- XLSX ---------------------------------------------------------------------------------------------------


def _sheet_name(name: str, taken: set[str]) -> str:
    clean = re.sub(r"[\[\]:*?/\\']", "-", name).strip() or "Feuille"
    clean = clean[:31]
    candidate, n = clean, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = clean[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def _readme_rows(export: Export, now: datetime) -> list[list]:
    rows = [
        ["Export", export.title],
        ["Date de l'export", f"{_paris_naive(now):%d/%m/%Y à %H:%M} (heure de Paris)"],
    ]
    if export.filters:
        rows += [["Filtre", f"{label} : {value}"] for label, value in export.filters]
    else:
        rows.append(["Filtre", "aucun (toutes les lignes visibles)"])
    rows += [[], ["Feuille", "Colonne", "Type", "Définition"]]
    for sheet in export.sheets:
        rows += [[sheet.name, c.title, c.kind.label, c.description] for c in sheet.columns]
    return rows


class _XlsxFormats:
    """One XlsxWriter format per cell kind (a workbook's formats are shared by its sheets)."""

    def __init__(self, workbook):
        self.bold = workbook.add_format({"bold": True})
        self.wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        self.number = {kind: workbook.add_format({"num_format": code}) for kind, code in XLSX_FORMATS.items()}


def _xlsx_write(ws, row: int, col: int, value, kind: Kind, formats: _XlsxFormats, bold: bool = False) -> None:
    value = _number(value)
    if isinstance(value, str):  # always a string cell, never a formula (strings_to_formulas is off)
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        fmt = formats.bold if bold else formats.wrap if kind == Kind.LONGTEXT else None
        ws.write_string(row, col, text, fmt)
    elif isinstance(value, datetime):
        ws.write_datetime(
            row, col, _paris_naive(value), formats.number[Kind.DATE if kind == Kind.DATE else Kind.DATETIME]
        )
    elif isinstance(value, date):
        ws.write_datetime(row, col, value, formats.number[Kind.DATE])
    elif isinstance(value, bool):
        ws.write_string(row, col, "oui" if value else "non")
    elif isinstance(value, int | float):
        fmt = formats.number.get(kind, formats.number[Kind.DECIMAL])
        ws.write_number(row, col, value / 100 if kind == Kind.PERCENT else value, fmt)


def _xlsx_sheet(
    workbook, formats, name: str, columns: list[Column], rows: Iterable[list], header: bool = True
):
    ws = workbook.add_worksheet(name)
    for index, column in enumerate(columns):
        ws.set_column(index, index, WIDTHS[column.kind])
    count = 0
    if header:
        ws.freeze_panes(1, 0)
        for col, column in enumerate(columns):
            _xlsx_write(ws, 0, col, column.title, Kind.TEXT, formats, bold=True)
        count = 1
    kinds = [c.kind for c in columns]
    for cells in rows:
        for col, (value, kind) in enumerate(zip(cells, kinds, strict=False)):
            if value is not None:
                _xlsx_write(ws, count, col, value, kind, formats)
        count += 1
    if header and columns:
        ws.autofilter(0, 0, max(count, 1) - 1, len(columns) - 1)


def write_xlsx(export: Export, target) -> None:
    """XlsxWriter in `constant_memory` mode: each row is flushed to a temporary file as soon as the next one
    starts (bench/export_writers.py: flat memory, 3.5 × less CPU than openpyxl's write-only mode)."""
    now = datetime.now(UTC)
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,  # a text starting with "=" stays text
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    workbook.set_properties({"title": export.title, "author": AUTHOR, "created": now.replace(tzinfo=None)})
    formats = _XlsxFormats(workbook)
    taken: set[str] = set()
    for sheet in export.sheets:
        _xlsx_sheet(workbook, formats, _sheet_name(sheet.name, taken), sheet.columns, _cells(sheet))
    if export.readme:
        readme = [Column("a", "Rubrique", Kind.TEXT), Column("b", "Valeur", Kind.LONGTEXT)]
        readme += [Column("c", "", Kind.TEXT), Column("d", "", Kind.LONGTEXT)]
        _xlsx_sheet(
            workbook, formats, _sheet_name("Lisez-moi", taken), readme, _readme_rows(export, now), False
        )
    workbook.close()


# --- ODS (streamed OpenDocument XML) ------------------------------------------------------------------------

_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" '
    'office:version="1.2"'
)
_NUMBER = '<number:number number:decimal-places="{d}" number:min-integer-digits="1"{g}/>'
_ODS_DATA_STYLES = (
    '<number:number-style style:name="N-integer">'
    + _NUMBER.format(d=0, g=' number:grouping="true"')
    + "</number:number-style>"
    '<number:number-style style:name="N-euros">'
    + _NUMBER.format(d=0, g=' number:grouping="true"')
    + "<number:text> €</number:text></number:number-style>"
    '<number:percentage-style style:name="N-percent">'
    + _NUMBER.format(d=1, g="")
    + "<number:text> %</number:text></number:percentage-style>"
    '<number:number-style style:name="N-decimal">'
    + _NUMBER.format(d=2, g=' number:grouping="true"')
    + "</number:number-style>"
    '<number:date-style style:name="N-date"><number:day number:style="long"/><number:text>/</number:text>'
    '<number:month number:style="long"/><number:text>/</number:text><number:year number:style="long"/>'
    "</number:date-style>"
    '<number:date-style style:name="N-datetime"><number:day number:style="long"/><number:text>/</number:text>'
    '<number:month number:style="long"/><number:text>/</number:text><number:year number:style="long"/>'
    '<number:text> </number:text><number:hours number:style="long"/><number:text>:</number:text>'
    '<number:minutes number:style="long"/></number:date-style>'
)
_ODS_NUMERIC = (Kind.INTEGER, Kind.EUROS, Kind.PERCENT, Kind.DECIMAL, Kind.DATE, Kind.DATETIME)


def _ods_styles() -> str:
    columns = "".join(
        f'<style:style style:name="co-{k}" style:family="table-column">'
        f'<style:table-column-properties style:column-width="{WIDTHS[k] * 0.21:.2f}cm"/></style:style>'
        for k in Kind
    )
    cells = "".join(
        f'<style:style style:name="ce-{k}" style:family="table-cell" style:parent-style-name="Default" '
        f'style:data-style-name="N-{k}"/>'
        for k in _ODS_NUMERIC
    )
    return (
        f"<office:automatic-styles>{columns}{_ODS_DATA_STYLES}{cells}"
        '<style:style style:name="ce-head" style:family="table-cell" style:parent-style-name="Default">'
        '<style:text-properties fo:font-weight="bold"/></style:style>'
        '<style:style style:name="ce-longtext" style:family="table-cell" style:parent-style-name="Default">'
        '<style:table-cell-properties fo:wrap-option="wrap" style:vertical-align="top"/></style:style>'
        "</office:automatic-styles>"
    )


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


_SPACES = re.compile(r"(?:^ +| {2,})")  # a tab stays a character: Calc drops <text:tab/> in cells


def _ods_text(text: str) -> str:
    """A paragraph's text: ODF collapses spaces, so runs of spaces and a leading space become text:s."""

    def element(match) -> str:
        run = match.group()
        extra = len(run) - (0 if match.start() == 0 else 1)
        return ("" if match.start() == 0 else " ") + (
            f'<text:s text:c="{extra}"/>' if extra > 1 else "<text:s/>"
        )

    return _SPACES.sub(element, escape(_XML_ILLEGAL.sub("", text)))


def _ods_cell(value, kind: Kind, head: bool = False) -> str:
    value = _number(value)
    if value is None or value == "":
        return "<table:table-cell/>"
    if isinstance(value, bool):
        value = "oui" if value else "non"
    if isinstance(value, str):
        style = (
            ' table:style-name="ce-head"'
            if head
            else (' table:style-name="ce-longtext"' if kind == Kind.LONGTEXT else "")
        )
        paragraphs = "".join(f"<text:p>{_ods_text(line)}</text:p>" for line in value.split("\n"))
        return f'<table:table-cell office:value-type="string"{style}>{paragraphs}</table:table-cell>'
    if isinstance(value, datetime | date):
        if isinstance(value, datetime):
            value = _paris_naive(value)
            style = "date" if kind == Kind.DATE else "datetime"
            iso = value.date().isoformat() if style == "date" else value.isoformat(timespec="seconds")
            shown = f"{value:%d/%m/%Y}" if style == "date" else f"{value:%d/%m/%Y %H:%M}"
        else:
            style, iso, shown = "date", value.isoformat(), f"{value:%d/%m/%Y}"
        return (
            f'<table:table-cell office:value-type="date" office:date-value="{iso}" '
            f'table:style-name="ce-{style}"><text:p>{shown}</text:p></table:table-cell>'
        )
    if kind == Kind.PERCENT:
        return (
            f'<table:table-cell office:value-type="percentage" office:value="{value / 100!r}" '
            f'table:style-name="ce-percent"><text:p>{value} %</text:p></table:table-cell>'
        )
    style = kind if kind in (Kind.INTEGER, Kind.EUROS, Kind.DECIMAL) else Kind.DECIMAL
    return (
        f'<table:table-cell office:value-type="float" office:value="{value!r}" table:style-name="ce-{style}">'
        f"<text:p>{value}</text:p></table:table-cell>"
    )


def _ods_table(out, name: str, columns: list[Column], rows: Iterable[list], header: bool = True) -> int:
    out.write(f"<table:table table:name={quoteattr(name)}>".encode())
    out.write("".join(f'<table:table-column table:style-name="co-{c.kind}"/>' for c in columns).encode())
    count = 0
    if header:
        cells = "".join(_ods_cell(c.title, Kind.TEXT, head=True) for c in columns)
        out.write(f"<table:table-row>{cells}</table:table-row>".encode())
        count = 1
    kinds = [c.kind for c in columns]
    for values in rows:
        cells = "".join(_ods_cell(v, k) for v, k in zip(values, kinds, strict=False))
        out.write(f"<table:table-row>{cells}</table:table-row>".encode())
        count += 1
    out.write(b"</table:table>")
    return count


def _ods_range(name: str, columns: int, rows: int) -> str:
    quoted = "'" + name.replace("'", "''") + "'"
    return f"{quoted}.A1:{quoted}.{get_column_letter(max(columns, 1))}{max(rows, 1)}"


def _ods_settings(frozen: list[str]) -> str:
    def item(name, kind, value):
        return f'<config:config-item config:name="{name}" config:type="{kind}">{value}</config:config-item>'

    tables = "".join(
        f"<config:config-item-map-entry config:name={quoteattr(name)}>"
        + item("VerticalSplitMode", "short", 2)
        + item("VerticalSplitPosition", "int", 1)
        + item("ActiveSplitRange", "short", 2)
        + item("PositionTop", "int", 0)
        + item("PositionBottom", "int", 1)
        + "</config:config-item-map-entry>"
        for name in frozen
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-settings {_NS}><office:settings>'
        '<config:config-item-set config:name="ooo:view-settings">'
        '<config:config-item-map-indexed config:name="Views"><config:config-item-map-entry>'
        + item("ViewId", "string", "view1")
        + f'<config:config-item-map-named config:name="Tables">{tables}</config:config-item-map-named>'
        "</config:config-item-map-entry></config:config-item-map-indexed></config:config-item-set>"
        "</office:settings></office:document-settings>"
    )


def _ods_meta(export: Export, now: datetime) -> str:
    stamp = now.replace(tzinfo=None).isoformat(timespec="seconds")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {_NS}><office:meta>'
        f"<dc:title>{escape(export.title)}</dc:title><meta:initial-creator>{escape(AUTHOR)}</meta:initial-creator>"
        f"<dc:creator>{escape(AUTHOR)}</dc:creator><meta:creation-date>{stamp}</meta:creation-date>"
        f"<dc:date>{stamp}</dc:date><dc:language>fr-FR</dc:language>"
        "<meta:generator>Mutualisation DSI</meta:generator></office:meta></office:document-meta>"
    )


_ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
    'manifest:version="1.2">'
    f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODS_MIME}" manifest:version="1.2"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
    '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
    '<manifest:file-entry manifest:full-path="settings.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)
_ODS_STYLES_XML = (
    f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {_NS}><office:styles>'
    '<style:style style:name="Default" style:family="table-cell"/></office:styles></office:document-styles>'
)


def write_ods(export: Export, target) -> None:
    now = datetime.now(UTC)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", ODS_MIME, compress_type=zipfile.ZIP_STORED)  # first, uncompressed
        archive.writestr("META-INF/manifest.xml", _ODS_MANIFEST)
        archive.writestr("styles.xml", _ODS_STYLES_XML)
        archive.writestr("meta.xml", _ods_meta(export, now))
        taken: set[str] = set()
        ranges, frozen = [], []
        with archive.open("content.xml", "w") as out:
            out.write(
                f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_NS}>{_ods_styles()}'
                "<office:body><office:spreadsheet>".encode()
            )
            for sheet in export.sheets:
                name = _sheet_name(sheet.name, taken)
                count = _ods_table(out, name, sheet.columns, _cells(sheet))
                ranges.append(_ods_range(name, len(sheet.columns), count))
                frozen.append(name)
            if export.readme:
                readme = [Column("a", "", Kind.TEXT), Column("b", "", Kind.LONGTEXT)]
                readme += [Column("c", "", Kind.TEXT), Column("d", "", Kind.LONGTEXT)]
                _ods_table(out, _sheet_name("Lisez-moi", taken), readme, _readme_rows(export, now), False)
            filters = "".join(
                f'<table:database-range table:name="__Anonymous_Sheet_DB__{i}" '
                f'table:target-range-address={quoteattr(r)} table:display-filter-buttons="true"/>'
                for i, r in enumerate(ranges)
            )
            out.write(
                f"<table:database-ranges>{filters}</table:database-ranges>"
                "</office:spreadsheet></office:body></office:document-content>".encode()
            )
        archive.writestr("settings.xml", _ods_settings(frozen))


# --- responses and files ------------------------------------------------------------------------------------


SPOOL = 1024 * 1024  # files above 1 MB go to disk while written


def _chunks(handle) -> Iterator[bytes]:
    try:
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()


# Set by app/routes/export_jobs.py: called as deferral(export, fmt) for an XLSX/ODS export above
# EXPORT_JOB_ROWS rows (a GET: the page offering to prepare it) or posted (a POST: the job is queued), it
# answers instead and the scheduler process writes the file.
_deferral: Callable[[Export, str], Response] | None = None
# The export routes answer GET (the file, or above the threshold the page offering the background job) and
# POST (the form of that page, or of a list's export button above the threshold: it queues the job).
EXPORT_METHODS = ("GET", "POST")


def set_deferral(func: Callable[[Export, str], Response] | None) -> None:
    global _deferral
    _deferral = func


def _job_threshold(fmt: str) -> int:
    """EXPORT_JOB_ROWS when this export may become a background job, else 0."""
    if fmt not in ("xlsx", "ods") or _deferral is None or g.get("export_sink") is not None:
        return 0
    return current_app.config.get("EXPORT_JOB_ROWS") or 0


def defer_large(fmt: str, count: Callable[[], int], basename: str, title: str) -> Response | None:
    """For a route that can count its rows cheaply before it builds them: the deferral's answer when its
    XLSX/ODS export is posted or has more than EXPORT_JOB_ROWS rows (`count()` is only called for a GET),
    so that the request never builds the rows; None otherwise (the route goes on, and export_response()
    checks again)."""
    limit = _job_threshold(fmt)
    if not limit or (request.method != "POST" and count() <= limit):
        return None
    return _deferral(Export(basename, title, []), fmt)


def count_rows(export: Export, limit: int) -> int:
    """Rows of every sheet, counted up to limit + 1 at most (a sheet without len() is read that far; the rows
    read are kept, so the file still gets them)."""
    total = 0
    for sheet in export.sheets:
        if hasattr(sheet.rows, "__len__"):
            total += len(sheet.rows)
        else:
            iterator = iter(sheet.rows)
            head = list(itertools.islice(iterator, max(limit + 1 - total, 0)))
            sheet.rows = itertools.chain(head, iterator)
            total += len(head)
        if total > limit:
            break
    return total


def write_file(export: Export, fmt: str, target, machine: bool = False) -> None:
    """The export into an open binary file: csv (`machine`: RFC 4180), xlsx or ods."""
    if fmt == "csv":
        for chunk in csv_chunks(export, machine=machine):
            target.write(chunk)
    elif fmt == "xlsx":
        write_xlsx(export, target)
    elif fmt == "ods":
        write_ods(export, target)
    else:
        raise ValueError(f"unknown tabular format {fmt!r}")


def export_response(export: Export, fmt: str, machine: bool | None = None) -> Response:
    """`fmt` is the URL's extension (csv, xlsx, ods); a CSV is for machines with `?format=rfc4180`.

    CSV is streamed row by row as it is written (columns may read the database: the request context stays
    open). XLSX and ODS are written row by row into a spooled temporary file (constant memory), then
    streamed in chunks; above EXPORT_JOB_ROWS rows (or posted) they are written by the scheduler process
    instead (app/services/export_jobs.py): a GET answers with the page that offers it, a POST queues it."""
    if fmt == "csv" and machine is None:
        machine = _wants_machine_csv()
    sink = g.get("export_sink")  # a background job replaying this export: the file goes there
    if sink is not None:
        return sink(export, fmt, machine)
    if fmt not in FORMATS:
        raise ValueError(f"unknown tabular format {fmt!r}")
    if fmt == "csv":
        response = Response(
            stream_with_context(csv_chunks(export, machine=bool(machine))), content_type=CSV_MIME
        )
        response.headers["Content-Disposition"] = f'attachment; filename="{export.basename}.{fmt}"'
        response.headers.update(export.headers)
        return response
    limit = _job_threshold(fmt)
    if limit and (request.method == "POST" or count_rows(export, limit) > limit):
        return _deferral(export, fmt)
    handle = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 - closed by _chunks
    try:
        write_file(export, fmt, handle)
    except BaseException:
        handle.close()
        raise
    content_type = XLSX_MIME if fmt == "xlsx" else ODS_MIME
    length = handle.tell()
    handle.seek(0)
    response = Response(_chunks(handle), content_type=content_type, direct_passthrough=True)
    response.content_length = length
    response.headers["Content-Disposition"] = f'attachment; filename="{export.basename}.{fmt}"'
    response.headers.update(export.headers)
    return response


def _wants_machine_csv() -> bool:
    return request.args.get("format", "").lower() == "rfc4180"


def write_table(path: Path, columns: list[str], rows: list[list]) -> None:
    """CLI export: machine CSV (the same columns as the import) or a formatted workbook, by extension."""
    export = Export(
        path.stem,
        "Portefeuille des opportunités",
        [Sheet("Opportunités", [Column(c, c, Kind.TEXT, _index(i)) for i, c in enumerate(columns)], rows)],
    )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("wb") as handle:
            for chunk in csv_chunks(export, machine=True):
                handle.write(chunk)
    elif suffix == ".xlsx":
        write_xlsx(export, path)
    elif suffix == ".ods":
        write_ods(export, path)
    else:
        raise TableError("Format non pris en charge : utilisez un fichier .csv, .xlsx ou .ods.")


def _index(i: int) -> Callable:
    return lambda row: row[i]


# --- reading imported tables --------------------------------------------------------------------------------


def read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Return (header, [(line number, row dict)]) from a .csv, .xlsx or .ods file; blank lines are skipped."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise TableError("Le fichier CSV doit être encodé en UTF-8.") from None
        delimiter = _delimiter(text)
        raw = [
            [_undo_neutralise(v) for v in values]
            for values in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        ]
        lines = _csv_line_numbers(text, delimiter)
    elif suffix == ".xlsx":
        try:
            sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
            raw = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        except Exception:  # noqa: BLE001 - any unreadable workbook
            raise TableError("Le fichier XLSX ne peut pas être lu.") from None
        lines = list(range(1, len(raw) + 1))
    elif suffix == ".ods":
        raw = _read_ods(path)
        lines = list(range(1, len(raw) + 1))
    else:
        raise TableError("Format non pris en charge : utilisez un fichier .csv, .xlsx ou .ods.")
    if not raw:
        raise TableError("Le fichier est vide.")
    header = [h.strip().lower() for h in raw[0]]
    rows = []
    for number, values in zip(lines[1:], raw[1:], strict=False):
        if not any((v or "").strip() for v in values):
            continue
        rows.append((number, dict(zip(header, values, strict=False))))
    return header, rows


_ODF_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODF_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
MAX_REPEAT = 1000  # LibreOffice pads rows with huge "repeated" empty cells


def _read_ods(path: Path) -> list[list[str]]:
    """The first sheet of an OpenDocument spreadsheet, as text (what the cells show)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open("content.xml") as content:
            rows: list[list[str]] = []
            for _event, element in ElementTree.iterparse(content):
                if element.tag == f"{_ODF_TABLE}table-row":
                    rows += [_ods_row(element)] * min(
                        int(element.get(f"{_ODF_TABLE}number-rows-repeated", "1")), MAX_REPEAT
                    )
                    element.clear()
                elif element.tag == f"{_ODF_TABLE}table":
                    break
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError):
        raise TableError("Le fichier ODS ne peut pas être lu.") from None
    while rows and not any(rows[-1]):
        rows.pop()
    return rows


def _odf_paragraph(element) -> str:
    """The text of a text:p, with its space, tab and line-break elements (and spans) turned back into text."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == f"{_ODF_TEXT}s":
            parts.append(" " * int(child.get(f"{_ODF_TEXT}c", "1")))
        elif child.tag == f"{_ODF_TEXT}tab":
            parts.append("\t")
        elif child.tag == f"{_ODF_TEXT}line-break":
            parts.append("\n")
        else:
            parts.append(_odf_paragraph(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _ods_row(row) -> list[str]:
    values: list[str] = []
    for cell in row:
        if cell.tag not in (f"{_ODF_TABLE}table-cell", f"{_ODF_TABLE}covered-table-cell"):
            continue
        if cell.get(f"{_ODF_OFFICE}value-type") in ("float", "percentage", "currency"):
            text = cell.get(f"{_ODF_OFFICE}value", "")
        else:
            text = "\n".join(_odf_paragraph(p) for p in cell.iter(f"{_ODF_TEXT}p"))
        values += [text] * min(int(cell.get(f"{_ODF_TABLE}number-columns-repeated", "1")), MAX_REPEAT)
    while values and not values[-1]:
        values.pop()
    return values


def _undo_neutralise(text: str) -> str:
    """Our CSV exports prefix formula-like cells with an apostrophe: re-importing one gives the typed text."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


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
