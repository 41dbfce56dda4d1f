"""Prints a recheck (analysis/recheck.py) for the editor: each finding of the last crawl beside
the page now, the reading grade and the topic verdict."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

VERDICT_STYLE = {"still there": "bold red", "new": "bold red", "fixed": "green",
                 "not rechecked": "dim"}


def print_recheck(url: str, info: dict, fresh, verdicts: list, console: Console | None = None) -> None:
    console = console or Console()
    started = info["started_at"].strftime("%Y-%m-%d %H:%M") if info["started_at"] else "?"
    console.print(f"[bold]Recheck of[/bold] {_esc(url)}")
    console.print(f"  now: {fresh.status} ({fresh.outcome}); compared with crawl #{info['crawl_id']} "
                  f"of site {_esc(info['site'])}, {started} UTC")
    table = Table(show_lines=False, expand=False)
    for col in ("finding", "severity", "target / detail", "last crawl → now"):
        table.add_column(col, overflow="fold")
    for v in verdicts:
        what = v.target or v.detail
        if v.target and v.kind in ("hard_to_read", "off_topic_page"):
            what = f"{v.target}: {v.detail}"
        verdict = v.verdict + (f" ({v.note})" if v.note else "")
        table.add_row(v.kind, v.severity, _esc(what[:160]), f"[{VERDICT_STYLE[v.verdict]}]{_esc(verdict)}[/]")
    if verdicts:
        console.print(table)
    else:
        console.print("  No findings, then or now.")
    counts = {k: sum(1 for v in verdicts if v.verdict == k) for k in VERDICT_STYLE}
    console.print(f"  {counts['still there']} still there, {counts['fixed']} fixed, {counts['new']} new, "
                  f"{counts['not rechecked']} not rechecked (site-level)")
    if fresh.grade is not None:
        was = f", {fresh.previous_grade:.1f} in the last crawl" if fresh.previous_grade is not None else ""
        console.print(f"  Reading grade: {fresh.grade:.1f} now{was}")
    topic = fresh.topic or {}
    if topic.get("similarity") is not None:
        verdict = ("off topic" if topic.get("off_topic") else "on topic" if topic.get("off_topic") is False
                   else topic.get("reason") or "not judged")
        cutoff = f"; off topic below {topic['cutoff']:.2f}" if topic.get("cutoff") is not None else ""
        console.print(f"  Topic: similarity {topic['similarity']:.2f} to the site's core{cutoff}: {_esc(verdict)}")
    elif topic.get("reason"):
        console.print(f"  Topic: not judged ({_esc(topic['reason'])})")
    for note in fresh.notes or []:
        console.print(f"  Note: {_esc(note)}")


def _esc(text: str) -> str:
    """Page text printed as text: rich would read '[red]' in a title as markup."""
    from rich.markup import escape
    return escape(str(text))
