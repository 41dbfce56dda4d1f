"""`pipeline.py recheck URL`, the workflow: fetch one page again, run the analyses' page-level
checks on it (its links, readability, on-page basics, its topic against the stored site model) and
judge each finding of the last crawl still there or fixed; reports/recheck.py prints the result."""

from __future__ import annotations

import importlib
import tempfile
from dataclasses import dataclass, fields, replace
from pathlib import Path

from analysis.findings import at_or_above, rank, severity_for
from crawler import relations, store
from analysis.options import LinksOptions, OnpageOptions, ReadabilityOptions, TopicsOptions
from crawler.config import Options
from crawler.errors import AuditError
from crawler.urls import host_key, normalize

# Judged from one page and the pages it links to.
PAGE_ANALYSES = ("links", "readability", "onpage")
# Kinds that need the whole site (or last week's) to judge: kept from the last crawl as they were.
SITE_LEVEL = {
    "orphan_page": "needs the whole site's links",
    "duplicate_title": "needs every page's title",
    "near_duplicate": "needs every page's text",
    "duplicate_url": "needs the whole site's links",
    "crawler_trap": "needs the whole crawl",
    "topic_changed": "compares two weekly crawls",
}
EXTRA_PAGES = 50      # pages beyond the recheck page's own links that the mini-crawl may fetch


@dataclass(frozen=True)
class Verdict:
    kind: str
    severity: str
    target: str
    detail: str
    verdict: str          # still there | fixed | new | not rechecked
    note: str = ""


def compare(old: list[dict], now: list[dict], rechecked: set[str]) -> list[Verdict]:
    """Each finding of the last crawl as 'still there', 'fixed' or 'not rechecked' (its kind
    was not judged now), then each finding found now that the last crawl did not have ('new').
    A finding is the same when kind and target are the same."""
    now_keys = {(r["kind"], r["target"] or "") for r in now}
    old_keys = {(r["kind"], r["target"] or "") for r in old}
    out = []
    for r in sorted(old, key=_order):
        key = (r["kind"], r["target"] or "")
        if r["kind"] not in rechecked:
            verdict, note = "not rechecked", SITE_LEVEL.get(r["kind"], "not judged from one page")
        else:
            verdict, note = ("still there" if key in now_keys else "fixed"), ""
        current = next((n for n in now if (n["kind"], n["target"] or "") == key), r)
        out.append(Verdict(r["kind"], current["severity"], r["target"] or "", current.get("detail") or "",
                           verdict, note))
    for r in sorted(now, key=_order):
        if (r["kind"], r["target"] or "") not in old_keys:
            out.append(Verdict(r["kind"], r["severity"], r["target"] or "", r.get("detail") or "", "new"))
    return out


def _order(r: dict) -> tuple:
    return (rank(r["severity"]), r["kind"], r["target"] or "")


def stored_crawl_for(con, url: str, site: str | None) -> int:
    """The latest crawl (of the site, if given) that fetched the URL; else the site's latest."""
    row = con.execute(
        "SELECT max(c.crawl_id) FROM crawls c JOIN responses r ON r.crawl_id = c.crawl_id "
        "WHERE r.url = ? AND r.purpose = 'crawl' AND (? IS NULL OR c.site = ?)", [url, site, site],
    ).fetchone()
    if row[0] is not None:
        return int(row[0])
    if site:
        return store.latest_crawl(con, site)
    raise AuditError(f"{url} is in no stored crawl: crawl its site first (`python pipeline.py crawl URL`), "
                     "or pass --site NAME to recheck it against that site's latest crawl")


def with_stored_analysis_options(options: Options, stored: dict | None) -> Options:
    """The analysis settings the stored crawl was made with (they decided its findings), so the
    comparison is like with like; crawl settings (timeout, user agent) stay the command line's."""
    if not isinstance(stored, dict):
        return options
    changes = {}
    for name, cls in (("links", LinksOptions), ("readability", ReadabilityOptions),
                      ("topics", TopicsOptions), ("onpage", OnpageOptions)):
        data = stored.get(name)
        if isinstance(data, dict):
            known = {f.name for f in fields(cls)}
            changes[name] = cls(**{k: v for k, v in data.items() if k in known})
    if isinstance(stored.get("severity"), dict):
        changes["severity"] = {**stored["severity"], **options.severity}
    return replace(options, **changes)


def recheck(con, url: str, options: Options) -> int:
    """Fetch the page again, print its findings now beside the last crawl's; exit code 0, or 1
    when --fail-on is given and findings of that severity (or worse) remain."""
    try:
        url = normalize(url)
    except ValueError as exc:
        raise AuditError(f"{url!r} is not a page URL ({exc}): give a full http(s) URL") from None
    crawl_id = stored_crawl_for(con, url, options.site)
    info = store.crawl_info(con, crawl_id)
    hosts = list(info["hosts"] or [])
    if host_key(url) not in hosts:
        raise AuditError(f"{url} is not on the hosts of site {info['site']} ({', '.join(hosts)}): "
                         "recheck a page of that site, or pass --site for another one")
    options = with_stored_analysis_options(options, info.get("options"))
    stored = info.get("options")
    skip_external = not options.no_external and isinstance(stored, dict) and stored.get("no_external") is True
    if skip_external:   # like with like: its external links were not checked, so not now either
        options = replace(options, no_external=True)
    old = [dict(zip(("kind", "severity", "target", "detail"), r)) for r in con.execute(
        "SELECT kind, severity, target, detail FROM flags WHERE crawl_id = ? AND page_url = ?",
        [crawl_id, url]).fetchall()]
    with tempfile.TemporaryDirectory(prefix="content-audit-recheck-") as tmp:
        fresh = _fetch_and_check(con, crawl_id, url, hosts, info["site"], Path(tmp), options)
    if skip_external:
        fresh.notes.append("links to other sites not checked: the last crawl did not check them "
                           "(--no-external)")
    verdicts = compare(old, fresh.findings, fresh.rechecked)
    from reports.recheck import print_recheck

    print_recheck(url, info, fresh, verdicts)
    if options.fail_on:
        # Findings not rechecked (site-level) still count: nothing showed they are gone.
        remaining = [v for v in verdicts if v.verdict != "fixed" and v.severity in at_or_above(options.fail_on)]
        if remaining:
            print(f"--fail-on {options.fail_on}: {len(remaining)} findings of that severity or worse remain")
            return 1
    return 0


@dataclass
class Fresh:
    status: int | None
    outcome: str
    findings: list[dict]
    rechecked: set[str]
    grade: float | None = None
    previous_grade: float | None = None
    topic: dict | None = None
    notes: list[str] | None = None


def _fetch_and_check(con, crawl_id: int, url: str, hosts: list[str], site: str, tmp: Path,
                     options: Options) -> Fresh:
    """A crawl of the page alone (and the pages it links to, to check them) in a temporary
    database, the page-level analyses on it, and the page's topic against the stored model."""
    from crawler.run import run_crawl  # starts Scrapy: imported only when a recheck runs

    links = con.execute("SELECT count(DISTINCT url) FROM links WHERE crawl_id = ? AND source_url = ? "
                        "AND target_type = 'internal'", [crawl_id, url]).fetchone()[0]
    db = tmp / "recheck.duckdb"
    tcon = store.open_store(db)
    try:
        opts = replace(options, urls=[url], site=site, max_depth=1, resume=False, db=str(db),
                       max_pages=1 + links + EXTRA_PAGES, quiet=True)
        result = run_crawl(tcon, str(db), opts, site_hosts=hosts, sitemaps=False)
        tid = result.crawl_id
        row = tcon.execute("SELECT status, outcome, error FROM responses WHERE crawl_id = ? AND url = ? "
                           "AND purpose = 'crawl'", [tid, url]).fetchone()
        parsed = tcon.execute("SELECT count(*) FROM pages WHERE crawl_id = ? AND url = ?", [tid, url]).fetchone()[0]
        if row is None or not parsed:
            why = (f"it answered {row[0]}" if row and row[0] else
                   f"{row[2] or row[1]}" if row else "the crawl did not reach it")
            raise AuditError(f"{url} could not be rechecked: {why}. Is the site up, and is the page "
                             "still published?")
        kinds: set[str] = set()
        for name in PAGE_ANALYSES:
            module = importlib.import_module(f"analysis.{name}")
            module.analyse(tcon, tid, opts, page=url)   # the page's own checks, on it alone
            kinds |= set(module.KINDS)
        kinds -= set(SITE_LEVEL)
        findings = [dict(zip(("kind", "severity", "target", "detail"), r)) for r in tcon.execute(
            "SELECT kind, severity, target, detail FROM flags WHERE crawl_id = ? AND page_url = ? "
            "ORDER BY kind, target", [tid, url]).fetchall()]
        findings = [f for f in findings if f["kind"] in kinds]
        grade = tcon.execute("SELECT reading_grade FROM readability WHERE crawl_id = ? AND url = ?",
                             [tid, url]).fetchone()
        previous = con.execute("SELECT reading_grade FROM readability WHERE crawl_id = ? AND url = ?",
                               [crawl_id, url]).fetchone()
        fresh = Fresh(row[0], row[1], findings, kinds, grade[0] if grade else None,
                      previous[0] if previous else None, notes=[])
        if (result.stats or {}).get("max_pages_reached"):
            fresh.notes.append("some pages this page links to were not fetched (page limit)")
        _topic_checks(con, crawl_id, tcon, tid, url, opts, fresh)
        return fresh
    finally:
        tcon.close()


def _topic_checks(con, crawl_id: int, tcon, tid: int, url: str, options: Options, fresh: Fresh) -> None:
    """off_topic_page from the page's text scored against the stored crawl's site model, and
    off_topic_block from the teasers and sidebars that link to a page the stored crawl found off topic."""
    from analysis import topics

    text, lang = tcon.execute(f"SELECT text, lang FROM ({relations.main_text_sql(tid)}) WHERE url = ?",
                              [url]).fetchone() or ("", None)
    score = topics.score_text(con, crawl_id, text, options, lang=lang)
    fresh.topic = score
    sev_page = severity_for(options.severity, "off_topic_page")
    if score.get("off_topic") is not None:
        fresh.rechecked.add("off_topic_page")
        if score["off_topic"]:
            # CONTRACT: off_topic_page has an empty target; the label goes in detail
            words = ", ".join(score.get("distinctive_words") or []) or "none"
            fresh.findings.append({"kind": "off_topic_page", "severity": sev_page, "target": "",
                                   "detail": f"words that set it apart: {words}; topic: "
                                             f"{score.get('topic_label') or 'none'}; similarity "
                                             f"{score['similarity']:.2f} (off topic below {score['cutoff']:.2f})"})
    off_pages = {u for (u,) in con.execute(
        "SELECT url FROM topics WHERE crawl_id = ? AND off_topic", [crawl_id]).fetchall()}
    if not off_pages and not con.execute("SELECT count(*) FROM topics WHERE crawl_id = ?",
                                         [crawl_id]).fetchone()[0]:
        return  # the stored crawl has no topic model: blocks cannot be judged
    fresh.rechecked.add("off_topic_block")
    sev_block = severity_for(options.severity, "off_topic_block")
    seen = set()
    for text, link in tcon.execute(
            "SELECT text, link_url FROM blocks WHERE crawl_id = ? AND page_url = ? AND link_url IS NOT NULL "
            "AND role IN ('teaser', 'aside', 'other', 'main') ORDER BY block_index", [tid, url]).fetchall():
        if link in off_pages and link not in seen and link != url:
            seen.add(link)
            fresh.findings.append({"kind": "off_topic_block", "severity": sev_block, "target": link,
                                   "detail": f"“{text[:120]}” links to an off-topic page"})
