"""On-page checks over the crawl's URLs rather than one page's content: session-id duplicate
URLs, crawler traps, large pages and documents kept out of search (analysis/onpage.py runs
them after its page pass; kinds and rules: docs/onpage.md)."""

from __future__ import annotations

import re
from typing import Iterator

from analysis.findings import quote
from analysis.pagetypes import says_noindex
from crawler import store
from crawler.config import Options, OnpageOptions
from crawler.urls import normalize, strip_tracking, trap_reason, url_shape

MACHINE_TYPES = ("json", "xml", "javascript", "text/css", "rss", "atom")


def duplicate_urls(con, crawl_id: int) -> Iterator[dict]:
    sql = """
        SELECT url, count(DISTINCT source) AS n, min(source) AS example FROM (
            SELECT url, source_url AS source FROM links
            WHERE crawl_id = ? AND target_type = 'internal' AND url IS NOT NULL
            UNION ALL
            SELECT url, 'sitemap ' || sitemap FROM sitemap_urls WHERE crawl_id = ?
        ) WHERE url LIKE '%?%' OR url LIKE '%;%'
        GROUP BY url ORDER BY url
    """
    found: list[tuple[str, str, str]] = []
    for batch in store.iter_batches(con, sql, [crawl_id, crawl_id]):
        for row in batch:
            bare = strip_tracking(row["url"])
            if bare != row["url"]:
                source = row["example"]
                where = (f"listed in the {source}" if source.startswith("sitemap ") else f"linked from {source}")
                where += f" and {row['n'] - 1} more" if row["n"] > 1 else ""
                found.append((row["url"], bare, where))
    if not found:
        return
    fetched = {u for (u,) in con.execute(
        "SELECT url FROM responses WHERE crawl_id = ? AND outcome = 'fetched' "
        "AND url IN (SELECT unnest(?::VARCHAR[]))",
        [crawl_id, sorted({b for _, b, _ in found} | {_normalized(b) for _, b, _ in found})],
    ).fetchall()}
    for url, bare, where in found:
        target = bare if bare in fetched else _normalized(bare)
        if target in fetched:
            yield {"kind": "duplicate_url", "page_url": url, "target": target,
                   "detail": f"the same page as {target} with session or tracking parameters; {where}"}


def _normalized(url: str) -> str:
    try:
        return normalize(url)
    except ValueError:
        return url


def trap_reason_of(first_url: str, depth: int | None, pattern_pages: int, crawl_options: dict) -> str:
    """Why the crawl stopped following a pattern, from the options it ran with (the crawl
    records the first URL not followed; the rule that stopped it follows from the URL)."""
    d = Options()
    mql = crawl_options.get("max_query_length", d.max_query_length)
    mps = crawl_options.get("max_path_segments", d.max_path_segments)
    max_depth = crawl_options.get("max_depth", d.max_depth)
    chain = crawl_options.get("trap_chain", d.trap_chain)
    reason = trap_reason(first_url, mql, mps)
    if reason:
        return reason
    if depth is not None and depth > max_depth:
        return f"deeper than max_depth ({max_depth}): the crawl stopped here"
    if pattern_pages >= chain:
        return f"more than {chain} URLs of one pattern, each linked from the last"
    return (f"after {pattern_pages} page{'s' * (pattern_pages != 1)} of this pattern the URLs went on "
            "without new content (the same links page after page)")


def trap_entry(con, crawl_id: int, pattern: str, first_url: str) -> str:
    """The page through which the crawl entered a trap: the shallowest page of another pattern
    that links to a URL of the pattern (stable from week to week, unlike the URL that was cut,
    which moves with the date); else the page that linked to the first URL not followed."""
    prefix = re.split(r"\{n\}|\?", pattern, maxsplit=1)[0]
    rows = con.execute(
        "SELECT l.source_url, l.url, coalesce(r.depth, 2147483647) AS depth FROM links l "
        "LEFT JOIN responses r ON r.crawl_id = l.crawl_id AND r.url = l.source_url "
        "WHERE l.crawl_id = ? AND starts_with(l.url, ?) ORDER BY depth, l.source_url",
        [crawl_id, prefix]).fetchall()
    for source, url, _ in rows:
        if url_shape(url) == pattern and url_shape(source) != pattern:
            return source
    linked = [source for source, url, _ in rows if url == first_url]
    return linked[0] if linked else first_url


def crawler_traps(con, crawl_id: int) -> Iterator[dict]:
    """One finding per URL pattern the crawl stopped following, keyed on its entry page."""
    cur = con.cursor()     # its own cursor: flags are being written on con meanwhile
    try:
        options = store.crawl_info(cur, crawl_id).get("options") or {}
    finally:
        cur.close()
    sql = """
        SELECT coalesce(r.error, r.url) AS pattern, count(*) AS n,
               arg_min(r.url, (coalesce(r.depth, 2147483647), r.url)) AS first_url,
               min(r.depth) AS depth
        FROM responses r WHERE r.crawl_id = ? AND r.outcome = 'trap'
        GROUP BY pattern ORDER BY pattern
    """
    for batch in store.iter_batches(con, sql, [crawl_id]):
        for row in batch:
            pattern, first = row["pattern"], row["first_url"]
            if not pattern.startswith(("http://", "https://")):
                pattern = url_shape(first)
            cur = con.cursor()
            try:
                crawled = sum(url_shape(u) == pattern for (u,) in cur.execute(
                    "SELECT url FROM pages WHERE crawl_id = ? AND starts_with(url, ?)",
                    [crawl_id, re.split(r"\{n\}|\?", pattern, maxsplit=1)[0]]).fetchall())
                entry = trap_entry(cur, crawl_id, pattern, first)
            finally:
                cur.close()
            reason = trap_reason_of(first, row["depth"], crawled, options if isinstance(options, dict) else {})
            yield {"kind": "crawler_trap", "page_url": entry,
                   "target": pattern,
                   "detail": f"first URL not followed: {first}; {reason}; {crawled} page"
                             f"{'s' * (crawled != 1)} of this pattern crawled"}


def large_pages(con, crawl_id: int, opts: OnpageOptions) -> Iterator[dict]:
    sql = """
        SELECT url, bytes, error FROM responses
        WHERE crawl_id = ? AND is_internal AND (
            (bytes > ? AND (lower(coalesce(content_type, '')) LIKE '%html%'
                            OR url IN (SELECT url FROM pages WHERE crawl_id = ?)))
            -- over max_bytes the download is cancelled before anything is recorded; the
            -- crawler stops non-HTML files at their headers, so a cancelled page is HTML
            OR (purpose = 'crawl' AND outcome = 'too_large'
                AND (content_type IS NULL OR lower(content_type) LIKE '%html%')))
        ORDER BY url
    """
    limit = f"{opts.large_page_bytes / 1e6:.1f} MB"
    for batch in store.iter_batches(con, sql, [crawl_id, opts.large_page_bytes, crawl_id]):
        for row in batch:
            if row["bytes"] is not None and row["bytes"] > opts.large_page_bytes:
                detail = f"{row['bytes'] / 1e6:.1f} MB of HTML, more than {limit}"
            else:
                detail = f"larger than the crawl's max_bytes: not downloaded ({row['error']}); more than {limit}"
            yield {"kind": "large_page", "page_url": row["url"], "target": "", "detail": detail}


def noindex_files(con, crawl_id: int) -> Iterator[dict]:
    # Documents of the site (PDFs, ...) that people open from a link, kept out of search by
    # X-Robots-Tag; pages are handled with their meta robots in page_findings. Machine
    # endpoints (WordPress REST and oEmbed JSON/XML named by <link> in <head>, feeds) are
    # not meant for search: on-page checks are for what visitors read.
    machine = " OR ".join(f"lower(coalesce(r.content_type, '')) LIKE '%{t}%'" for t in MACHINE_TYPES)
    sql = f"""
        SELECT r.url, r.x_robots_tag FROM responses r
        WHERE r.crawl_id = ? AND r.is_internal AND r.outcome = 'fetched' AND r.status BETWEEN 200 AND 299
          AND r.x_robots_tag IS NOT NULL AND NOT ({machine})
          AND r.url NOT IN (SELECT url FROM pages WHERE crawl_id = ?)
          AND (r.url IN (SELECT url FROM links WHERE crawl_id = ? AND element IN ('a', 'area', 'iframe'))
               OR r.url IN (SELECT url FROM sitemap_urls WHERE crawl_id = ?))
        ORDER BY r.url
    """
    for batch in store.iter_batches(con, sql, [crawl_id] * 4):
        for row in batch:
            if says_noindex(row["x_robots_tag"]):
                yield {"kind": "noindex", "page_url": row["url"], "target": "",
                       "detail": f"X-Robots-Tag: {quote(row['x_robots_tag'], 100)}"}
