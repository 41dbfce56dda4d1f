"""Writes the report folder of docs/contract.md for a stored crawl, compared with the previous
finished crawl of the same site: report.html, flags.csv/.xlsx, fixed.csv, pages.csv, summary.json."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from analysis.findings import SEVERITIES
from crawler import __version__, store
from crawler.config import Options
from crawler.errors import AuditError
from reports import charts, queries
from reports.html import TableData, render
from reports.tables import CsvFile, FlagsWorkbook, write_json

FLAG_COLUMNS = store.FLAG_COLUMNS + ["page_title", "anchor_text", "analysis"]
FIXED_COLUMNS = FLAG_COLUMNS + ["last_seen_crawl_id"]
PAGE_COLUMNS = ["url", "status", "depth", "title", "word_count", "reading_grade",
                "flesch_kincaid_grade", "flesch_reading_ease", "topic", "topic_similarity",
                "inlinks", "outlinks", "off_topic", "findings", "outcome", "error", "redirect_to",
                "found_by", "main_words", "not_scored_reason"]
# Rows of each table embedded in report.html: enough to work through, small enough that the
# page of a 100,000-page site opens in seconds. The CSV and XLSX files hold every row.
HTML_ROWS = 20_000
SECTION_ROWS = 5_000
SIMILARITY_DOTS = 1_500
# DuckDB's share while writing the report: the sorted findings and the per-page link counts of
# a large crawl spill to disk past it instead of growing with the site (969 MB at 100,000 pages
# without it, 2.6x the figure at 10,000)
REPORT_MEMORY_LIMIT = "256MB"


def write_report(con, crawl_id: int, out: Path, options: Options) -> Path:
    """Write the report folder for the crawl into `out` (created if needed); returns the path
    of report.html. AuditError when the crawl does not exist, was not analysed, or the folder
    cannot be written."""
    info = store.crawl_info(con, crawl_id)
    if info["analysed_at"] is None:
        raise AuditError(f"crawl {crawl_id} has not been analysed yet: run `python pipeline.py analyse "
                         f"--crawl {crawl_id}` first (with the same --db), then the report")
    out = check_writable(Path(out))
    prev = store.previous_crawl(con, crawl_id)
    prev_info = store.crawl_info(con, prev) if prev is not None else None
    con.execute(f"SET memory_limit = '{REPORT_MEMORY_LIMIT}'")
    try:
        return _write(con, info, prev_info, out, options)
    except OSError as exc:
        raise AuditError(f"cannot write the report to {out}: {exc.strerror or exc}; "
                         "pass another --out folder") from None
    finally:
        con.execute("RESET memory_limit")


def check_writable(out: Path) -> Path:
    """Create the report folder if needed and make sure it can be written (before a crawl too)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise AuditError(f"cannot write the report to {out}: {exc.strerror or exc}; "
                         "pass another --out folder you can write to") from None
    return out


class _Staged:
    """Files are written under a temporary name and renamed when all are done, so a failed
    run never leaves a half-written report beside last week's."""

    def __init__(self, out: Path):
        self.out = out
        self.paths: list[tuple[Path, Path]] = []

    def path(self, name: str) -> Path:
        final = self.out / name
        tmp = self.out / f".{name}.{os.getpid()}.partial"  # two reports into one folder at once
        self.paths.append((tmp, final))
        return tmp

    def commit(self) -> None:
        for tmp, final in self.paths:
            os.replace(tmp, final)

    def discard(self) -> None:
        for tmp, _ in self.paths:
            tmp.unlink(missing_ok=True)


def _write(con, info: dict, prev_info: dict | None, out: Path, options: Options) -> Path:
    cid = info["crawl_id"]
    prev = prev_info["crawl_id"] if prev_info else None
    staged = _Staged(out)
    try:
        health = queries.health(cid, prev).run(con)
        tables = _stream_tables(con, cid, prev, staged, health, _notices(con, info, prev_info))
        context = _context(con, info, prev_info, health, tables, options)
        write_json(staged.path("summary.json"), _summary(info, prev_info, health))
        report = staged.path("report.html")
        report.write_text(render(context), encoding="utf-8")
        staged.commit()
    except BaseException:
        staged.discard()
        raise
    return out / "report.html"


def _stream_tables(con, cid: int, prev: int | None, staged: _Staged, health: list[dict],
                   notices: list[dict]) -> dict[str, TableData]:
    """flags.csv, flags.xlsx, fixed.csv and pages.csv, each from one pass over its query, whose
    rows also fill the report's tables (up to HTML_ROWS)."""
    findings = TableData("t-findings", [
        ("page_url", "page", "url"), ("kind", "kind", "text"), ("severity", "severity", "sev"),
        ("target", "target", "url"), ("detail", "detail", "text"), ("suggestion", "fix", "text"),
        ("status", "status", "status"), ("first_seen", "first seen", "date")],
        HTML_ROWS, facets=("kind", "severity", "status"), csv="flags.csv")
    csv_file = CsvFile(staged.path("flags.csv"), FLAG_COLUMNS)
    book = FlagsWorkbook(staged.path("flags.xlsx"), FLAG_COLUMNS)
    try:
        for rows in queries.findings(cid).stream(con):
            csv_file.write(rows)
            book.write(rows)
            findings.add(rows)
    finally:
        csv_file.close()
    book.close(health, [n["title"] + " " + n["text"] for n in notices])

    fixed = TableData("t-fixed", [
        ("page_url", "page", "url"), ("kind", "kind", "text"), ("severity", "severity", "sev"),
        ("target", "target", "url"), ("detail", "detail", "text"), ("first_seen", "first seen", "date")],
        HTML_ROWS, facets=("kind", "severity"), csv="fixed.csv")
    _to_csv(con, queries.fixed(cid, prev), staged.path("fixed.csv"), FIXED_COLUMNS, fixed)

    pages = TableData("t-pages", [
        ("url", "page", "url"), ("status", "status", "num"), ("title", "title", "text"),
        ("depth", "depth", "num"), ("word_count", "words", "num"), ("reading_grade", "grade", "num"),
        ("topic", "topic", "text"), ("topic_similarity", "similarity", "num"),
        ("inlinks", "inlinks", "num"), ("outlinks", "outlinks", "num"), ("findings", "findings", "num")],
        HTML_ROWS, csv="pages.csv")
    _to_csv(con, queries.pages(cid), staged.path("pages.csv"), PAGE_COLUMNS, pages)
    return {"findings": findings, "fixed": fixed, "pages": pages}


def _to_csv(con, query: queries.Query, path: Path, columns: list[str], table: TableData) -> None:
    csv_file = CsvFile(path, columns)
    try:
        for rows in query.stream(con):
            csv_file.write(rows)
            table.add(rows)
    finally:
        csv_file.close()


def _section(con, query: queries.Query, table: TableData) -> TableData:
    for rows in query.stream(con):
        table.add(rows)
    return table


def _notices(con, info: dict, prev_info: dict | None) -> list[dict]:
    out = []
    status = info["status"]
    verdict = (info.get("stats") or {}).get("verdict") if isinstance(info.get("stats"), dict) else None
    if status == "failed":
        out.append({"level": "warning", "title": "The crawl could not see the site.",
                    "text": f"{(verdict or 'no page of the site could be read').capitalize()}. "
                            "No finding here means nothing was checked, not that all is well."})
    elif status == "partial":
        out.append({"level": "warning", "title": "Partial crawl: the site stopped answering.",
                    "text": f"{(verdict or 'the site stopped answering').capitalize()}. Findings cover "
                            f"only the {info['pages_crawled'] or 0} pages reached before; pages not "
                            "reached are neither checked nor counted as fixed."})
    elif status != "finished":
        what = {"interrupted": "was interrupted", "failed": "failed", "running": "is still running"}.get(
            status, f"ended as {status}")
        out.append({"level": "warning", "title": "Partial crawl.",
                    "text": f"This crawl {what} after {info['pages_crawled'] or 0} pages: findings cover "
                            "only the pages reached, and findings on pages not reached are not "
                            "counted as fixed."})
    stats = info.get("stats") or {}
    if isinstance(stats, dict) and stats.get("max_pages_reached"):
        out.append({"level": "warning", "title": "Page limit reached.",
                    "text": "The crawl stopped at --max-pages; pages beyond it were not checked."})
    if isinstance(stats, dict) and stats.get("redirect_chains_cut"):
        n = stats["redirect_chains_cut"]
        out.append({"level": "info", "title": "Endless redirects cut short.",
                    "text": f"{n} redirect chain{'s' * (n > 1)} went on past 20 hops and "
                            f"{'were' if n > 1 else 'was'} not followed further (see too_many_redirects)."})
    if isinstance(stats, dict) and stats.get("sitemaps_not_read"):
        n = stats["sitemaps_not_read"]
        out.append({"level": "info", "title": "Some sitemaps not read.",
                    "text": f"{n} sitemap file{'s' * (n > 1)} past the limits (3 levels of sitemap index, "
                            "1,000 files per crawl) were not read; pages only they list were not crawled."})
    if prev_info is None:
        out.append({"level": "info", "title": "First crawl of this site.",
                    "text": "There is no earlier finished crawl to compare with: every finding is new "
                            "and none is fixed. Next week's report will show what changed."})
    elif prev_info["analysed_at"] is None:
        out.append({"level": "warning", "title": "Previous crawl not analysed.",
                    "text": f"Crawl #{prev_info['crawl_id']} has no findings to compare with: run "
                            f"`python pipeline.py analyse --crawl {prev_info['crawl_id']}` and then "
                            "`analyse` and `report` for this crawl again."})
    return out


def _context(con, info: dict, prev_info: dict | None, health: list[dict],
             tables: dict[str, TableData], options: Options) -> dict:
    cid = info["crawl_id"]
    target = options.readability.target_grade
    trend_rows = queries.trend(cid).run(con)
    crawl_ids = sorted({r["crawl_id"] for r in trend_rows})
    per_kind: dict[str, dict[int, int]] = {}
    for r in trend_rows:
        if r["kind"]:
            per_kind.setdefault(r["kind"], {})[r["crawl_id"]] = r["n"]
    for r in health:
        r["spark"] = charts.sparkline([per_kind.get(r["kind"], {}).get(c, 0) for c in crawl_ids])

    points = queries.topic_similarity(cid, SIMILARITY_DOTS).run(con)
    total_judged = points[0]["total"] if points else 0
    histogram = queries.similarity_histogram(cid).run(con) if total_judged > len(points) else []
    chart_marks = {
        "trend": charts.trend_chart(trend_rows),
        "grades": charts.grade_histogram(queries.grade_distribution(cid).run(con), target),
        "similarity": charts.similarity_chart(points, histogram, total_judged),
        "broken_hosts": charts.broken_hosts_chart(queries.broken_by_host(cid).run(con)),
    }
    sections = [
        _section(con, queries.link_problems(cid, SECTION_ROWS), TableData("t-links", [
            ("page_url", "page", "url"), ("kind", "problem", "text"), ("severity", "severity", "sev"),
            ("target", "link to", "url"), ("anchor_text", "link text", "text"),
            ("detail", "detail", "text"), ("suggestion", "fix", "text"), ("status", "status", "status")],
            SECTION_ROWS, group="page_url", facets=("kind", "status"), csv="flags.csv")),
        _section(con, queries.off_topic_pages(cid, SECTION_ROWS), TableData("t-offpages", [
            ("page_url", "page", "url"), ("page_title", "title", "text"), ("similarity", "similarity", "num"),
            ("topic", "its topic", "text"), ("distinctive_words", "words that set it apart", "text"),
            ("status", "status", "status")], SECTION_ROWS, facets=("status",), csv="flags.csv")),
        _section(con, queries.off_topic_blocks(cid, SECTION_ROWS), TableData("t-offblocks", [
            ("block", "block", "text"), ("target", "links to", "url"), ("pages", "pages", "num"),
            ("page_urls", "on pages", "list"), ("status", "status", "status")],
            SECTION_ROWS, csv="flags.csv")),
        _section(con, queries.topic_changes(cid, SECTION_ROWS), TableData("t-changes", [
            ("page_url", "page", "url"), ("page_title", "title", "text"), ("topic", "topic now", "text"),
            ("detail", "detail", "text"), ("status", "status", "status")], SECTION_ROWS, csv="flags.csv")),
        _section(con, queries.hardest_pages(cid, SECTION_ROWS), TableData("t-hard", [
            ("page_url", "page", "url"), ("grade", "grade", "num"), ("previous_grade", "last crawl", "num"),
            ("words", "words", "num"), ("words_per_sentence", "words/sentence", "num"),
            ("long_sentences", "long sentences", "num"), ("hardest_sentences", "worst sentences", "list"),
            ("status", "status", "status")], SECTION_ROWS, facets=("status",), csv="pages.csv")),
    ]
    by_sev = {s: {"name": s, "n": 0, "new": 0, "fixed": 0} for s in SEVERITIES}
    for r in health:
        sev = by_sev.setdefault(r["severity"], {"name": r["severity"], "n": 0, "new": 0, "fixed": 0})
        for key in ("n", "new", "fixed"):
            sev[key] += r[key]
    prev_pages = prev_info["pages_crawled"] if prev_info else None
    return {
        "site": info["site"], "crawl_id": cid, "started_at": info["started_at"],
        "finished_at": info["finished_at"], "crawl_status": info["status"],
        "hosts": list(info["hosts"] or []),
        "previous_crawl_id": prev_info["crawl_id"] if prev_info else None,
        "previous_started_at": prev_info["started_at"] if prev_info else None,
        "pages_crawled": info["pages_crawled"] or 0,
        "pages_change": (info["pages_crawled"] or 0) - (prev_pages or 0) if prev_info else None,
        "severities": list(by_sev.values()), "health": [r for r in health if r["n"] or r["fixed"]],
        "orphans": sum(r["n"] for r in health if r["kind"] == "orphan_page"),
        "notices": _notices(con, info, prev_info), "charts": chart_marks,
        "tables": list(tables.values()) + sections, "target_grade": f"{target:g}",
        "total_findings": tables["findings"].total,
        "generated_at": store.utcnow(), "version": __version__,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def _summary(info: dict, prev_info: dict | None, health: list[dict]) -> dict:
    """summary.json: the contract's keys, then a few more (status, partial, by severity)."""
    counts: dict[str, int] = {}
    new: dict[str, int] = {}
    fixed: dict[str, int] = {}
    severity: dict[str, int] = {s: 0 for s in SEVERITIES}
    for r in health:
        counts[r["kind"]] = counts.get(r["kind"], 0) + r["n"]
        new[r["kind"]] = new.get(r["kind"], 0) + r["new"]
        fixed[r["kind"]] = fixed.get(r["kind"], 0) + r["fixed"]
        severity[r["severity"]] = severity.get(r["severity"], 0) + r["n"]
    return {
        "site": info["site"], "crawl_id": info["crawl_id"],
        "previous_crawl_id": prev_info["crawl_id"] if prev_info else None,
        "started_at": _iso(info["started_at"]), "finished_at": _iso(info["finished_at"]),
        "pages_crawled": info["pages_crawled"] or 0,
        "counts": counts, "new": new, "fixed": fixed,
        "status": info["status"], "partial": info["status"] != "finished",
        "site_seen": info["status"] != "failed",
        "verdict": (info.get("stats") or {}).get("verdict") if isinstance(info.get("stats"), dict) else None,
        "severity_counts": severity,
        "findings": sum(counts.values()), "new_findings": sum(new.values()),
        "fixed_findings": sum(fixed.values()),
    }
