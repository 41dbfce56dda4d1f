"""The report's data files: CSV and XLSX written row by row as a query streams, with every
text cell a spreadsheet would run as a formula neutralised, and summary.json."""

from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# OWASP "CSV injection": a cell starting with one of these is a formula to Excel, LibreOffice
# or Google Sheets (tab and CR too, as some of them strip those first).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_576          # Excel's limit per sheet, header included
XLSX_CELL_CHARS = 32_767           # Excel's limit per cell
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def neutralise(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula gets a leading apostrophe; other values
    are returned unchanged. '-3' stays a formula-looking text too: it is page text, not a number."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def cell_text(value: Any) -> Any:
    """A value as a CSV cell: lists joined with ' | ', timestamps in ISO form, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = " | ".join("" if v is None else str(v) for v in value)
    elif isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    elif isinstance(value, date):
        return value.isoformat()
    return neutralise(value)


class CsvFile:
    """A CSV file written as rows arrive (UTF-8, no byte-order mark: scripts read the header as is)."""

    def __init__(self, path: Path, columns: list[str]):
        self.path = path
        self.columns = columns
        self.file = open(path, "w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.file)
        self.writer.writerow(columns)
        self.rows = 0

    def write(self, rows: Iterable[dict]) -> None:
        cols = self.columns
        self.writer.writerows([cell_text(row.get(c)) for c in cols] for row in rows)

    def close(self) -> None:
        self.file.close()


def _xlsx_value(ws, value: Any):
    """A value as an XLSX cell: neutralised text is written as a string cell, never a formula."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = " | ".join("" if v is None else str(v) for v in value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_CELL_CHARS]
        if value.startswith(FORMULA_START):
            cell = WriteOnlyCell(ws, value="'" + value)
            cell.data_type = "s"
            return cell
    return value


class FlagsWorkbook:
    """flags.xlsx: a summary sheet, then one sheet per finding kind with a filter on every
    column and the header row frozen. Streams (openpyxl write-only mode)."""

    WIDTHS = {"page_url": 50, "target": 45, "detail": 60, "suggestion": 60, "page_title": 40,
              "anchor_text": 30, "first_seen": 20, "kind": 22}

    def __init__(self, path: Path, columns: list[str]):
        self.path = path
        self.columns = columns
        self.book = Workbook(write_only=True)
        self.summary = self.book.create_sheet("Summary")
        self.sheets: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self.cut: dict[str, int] = {}

    @staticmethod
    def sheet_name(kind: str) -> str:
        return _SHEET_NAME_BAD.sub("_", kind)[:31] or "findings"

    def _sheet(self, kind: str):
        ws = self.sheets.get(kind)
        if ws is None:
            ws = self.book.create_sheet(self.sheet_name(kind))
            for i, col in enumerate(self.columns, 1):
                ws.column_dimensions[get_column_letter(i)].width = self.WIDTHS.get(col, 14)
            ws.freeze_panes = "A2"
            ws.append(self._header(ws, self.columns))
            self.sheets[kind] = ws
            self.counts[kind] = 0
        return ws

    @staticmethod
    def _header(ws, names: list[str]) -> list:
        out = []
        for name in names:
            cell = WriteOnlyCell(ws, value=name)
            cell.font = Font(bold=True)
            out.append(cell)
        return out

    def write(self, rows: Iterable[dict]) -> None:
        cols = self.columns
        for row in rows:
            kind = row["kind"]
            ws = self._sheet(kind)
            if self.counts[kind] >= XLSX_MAX_ROWS - 1:
                self.cut[kind] = self.cut.get(kind, 0) + 1
                continue
            ws.append([_xlsx_value(ws, row.get(c)) for c in cols])
            self.counts[kind] += 1

    def close(self, summary_rows: list[dict], notes: list[str]) -> None:
        """Write the summary sheet (findings per kind and severity, new, fixed) and save."""
        ws = self.summary
        cols = ["kind", "severity", "findings", "new", "fixed", "previous crawl"]
        for i, width in enumerate((24, 10, 10, 8, 8, 14), 1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"
        ws.append(self._header(ws, cols))
        for r in summary_rows:
            ws.append([r["kind"], r["severity"], r["n"], r["new"], r["fixed"], r["previous"]])
        ws.auto_filter.ref = f"A1:F{len(summary_rows) + 1}"
        if notes or self.cut:
            ws.append([])
        for note in notes:
            ws.append([_xlsx_value(ws, note)])
        for kind, n in sorted(self.cut.items()):
            ws.append([f"{n} {kind} findings left out: a sheet holds {XLSX_MAX_ROWS - 1} rows; "
                       "flags.csv has them all"])
        last = get_column_letter(len(self.columns))
        for kind, sheet in self.sheets.items():
            sheet.auto_filter.ref = f"A1:{last}{self.counts[kind] + 1}"
        self.book.save(self.path)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
