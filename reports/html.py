"""report.html: one self-contained page (inline CSS, script, SVG charts and JSON data) rendered
with jinja2 from the named queries' rows; page text is escaped everywhere it lands."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

# Long texts are cut in the page (the CSV and XLSX keep them whole).
HTML_TEXT_CHARS = 400


def script_json(data: Any) -> Markup:
    """JSON safe to place inside <script>: '<', '>', '&' and the JavaScript line separators are
    escaped, so text like '</script><script>' stays a string in the data."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_plain)
    text = (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return Markup(text)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if kind == "list":
        return [str(v)[:HTML_TEXT_CHARS] for v in value if v is not None]
    if isinstance(value, str) and len(value) > HTML_TEXT_CHARS:
        return value[:HTML_TEXT_CHARS - 1] + "…"
    if isinstance(value, float):
        return round(value, 3)
    return value


class TableData:
    """Rows of one section for the in-page table: column specs and compact row arrays, cut at
    `limit` rows (the total is kept, so the page can say how many more the CSV holds).

    columns: (key, label, type) with type text | url | num | sev | status | list | date.
    group: key of the column whose repeats are shown once (rows of one page together).
    facets: keys offered as drop-down filters."""

    def __init__(self, table_id: str, columns: list[tuple[str, str, str]], limit: int,
                 group: str | None = None, facets: tuple[str, ...] = (), csv: str | None = None):
        self.id = table_id
        self.columns = columns
        self.limit = limit
        self.group = group
        self.facets = facets
        self.csv = csv
        self.rows: list[list] = []
        self.total = 0

    def add(self, rows: list[dict]) -> None:
        self.total += len(rows)
        room = self.limit - len(self.rows)
        if room > 0:
            self.rows.extend([_cell(r.get(k), t) for k, _, t in self.columns] for r in rows[:room])

    def spec(self) -> dict:
        return {"columns": [{"key": k, "label": label, "type": t} for k, label, t in self.columns],
                "rows": self.rows, "total": self.total,
                "group": self.group, "facets": list(self.facets), "csv": self.csv}

    def json(self) -> Markup:
        return script_json(self.spec())


def _asset(name: str) -> str:
    return resources.files("reports").joinpath("templates", name).read_text(encoding="utf-8")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda n: "–" if n is None else f"{n:,}"
    env.filters["signed"] = lambda n: "–" if n is None else (f"+{n:,}" if n > 0 else f"{n:,}")
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if d else "–"
    return env


def render(context: dict) -> str:
    """The report page. Its only script is ours, allowed by hash in the Content-Security-Policy,
    so no injected script could run and nothing may be fetched from any network."""
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    template = _environment().get_template("report.html.j2")
    return template.render(**context, css=Markup(_asset("report.css")), script=Markup(script), csp=csp)
