"""Links analysis: broken links, redirects, robots-blocked links, missing #anchors and orphan pages.

Reads `links`, `responses`, `pages` and `sitemap_urls` of a crawl; rules and severities: docs/links.md.
"""

from __future__ import annotations

from analysis.findings import Finding, kinds_of
from analysis.link_rules import (LOCAL_FILE_SCHEMES, classify_anchor, rule_finding,
                                 classify_invalid, classify_link, classify_space, severity)
from crawler import relations, store
from crawler.config import Options
from crawler.urls import UNFETCHABLE_SCHEMES

KINDS = kinds_of("links")   # kind -> default severity (analysis/findings.py)
MAX_SUGGESTED = 500         # broken targets for which a similar page of the site is looked up


def _first_text() -> str:
    return ("arg_min(anchor_text, position) FILTER (WHERE trim(coalesce(anchor_text, '')) <> '') AS text, "
            "count(*) AS n, arg_min(element, position) AS element, arg_min(rel, position) AS rel")


def link_findings_sql(crawl_id: int) -> str:
    cid = int(crawl_id)
    return relations.link_targets_sql(cid) + f"""
    , problem AS (
        SELECT * FROM target WHERE NOT answered AND outcome <> 'trap'
    ),
    lk AS (
        SELECT source_url, url, target_type, {_first_text()}
        FROM links
        WHERE crawl_id = {cid} AND target_type IN ('internal', 'external')
          AND url IN (SELECT url FROM problem)
        GROUP BY source_url, url, target_type
    )
    SELECT lk.*, p.* EXCLUDE (url) FROM lk JOIN problem p ON p.url = lk.url
    ORDER BY lk.source_url, lk.url
    """


def invalid_findings_sql(crawl_id: int) -> str:
    cid = int(crawl_id)
    known = ", ".join(f"'{s}'" for s in sorted(UNFETCHABLE_SCHEMES))
    local = ", ".join(f"'{s}'" for s in sorted(LOCAL_FILE_SCHEMES))
    return f"""
    SELECT source_url, href, target_type, invalid_reason, {_first_text()}
    FROM links
    WHERE crawl_id = {cid} AND (target_type = 'invalid'
          OR (target_type = 'unfetchable' AND (invalid_reason NOT IN ({known})
                                               OR invalid_reason IN ({local}))))
    GROUP BY source_url, href, target_type, invalid_reason
    ORDER BY source_url, href
    """


def space_findings_sql(crawl_id: int) -> str:
    """Links whose href has whitespace inside and whose target is otherwise fine (a broken
    target is reported as broken already)."""
    cid = int(crawl_id)
    return relations.link_targets_sql(cid) + f"""
    SELECT l.source_url, l.url, arg_min(l.href, l.position) AS href, {_first_text()}
    FROM links l LEFT JOIN target t ON t.url = l.url
    WHERE l.crawl_id = {cid} AND l.target_type IN ('internal', 'external')
      AND regexp_matches(trim(l.href), '\\s')
      AND (t.url IS NULL OR t.answered)
    GROUP BY l.source_url, l.url
    ORDER BY l.source_url, l.url
    """


def anchor_findings_sql(crawl_id: int) -> str:
    cid = int(crawl_id)
    return relations.link_targets_sql(cid) + f"""
    , la AS (
        SELECT source_url, url, fragment, {_first_text()}
        FROM links
        WHERE crawl_id = {cid} AND element IN ('a', 'area') AND target_type IN ('internal', 'external')
          AND coalesce(fragment, '') <> '' AND lower(fragment) <> 'top'
        GROUP BY source_url, url, fragment
    )
    SELECT la.*, t.final_url AS checked_url, p.anchors
    FROM la JOIN target t ON t.url = la.url
    JOIN pages p ON p.crawl_id = {cid} AND p.url = t.final_url
    WHERE NOT t.looped AND p.anchors IS NOT NULL
      AND NOT list_contains(p.anchors, la.fragment)
    ORDER BY la.source_url, la.url, la.fragment
    """


def orphan_findings_sql(crawl_id: int) -> str:
    """Sitemap URLs that answered 2xx and that no a/area link of another crawled page reaches
    (directly, through redirects or as the canonical of the linked URL); start URLs are never
    orphans. A page's links to itself (skip links, #top, a comment-reply URL whose canonical is
    the page) are no inlinks."""
    cid = int(crawl_id)
    return relations.link_targets_sql(cid) + f"""
    , reached AS (   -- every page a link lands on: its URL, the end of its redirects, their canonical
        SELECT l.source_url, coalesce(sp.canonical, l.source_url) AS source_canonical,
               unnest([l.url, t.final_url, tp.canonical]) AS url
        FROM links l
        LEFT JOIN target t ON t.url = l.url
        LEFT JOIN pages tp ON tp.crawl_id = {cid} AND tp.url = coalesce(t.final_url, l.url)
        LEFT JOIN pages sp ON sp.crawl_id = {cid} AND sp.url = l.source_url
        WHERE l.crawl_id = {cid} AND l.element IN ('a', 'area') AND l.url IS NOT NULL
    ),
    linked AS (
        SELECT DISTINCT url FROM reached
        WHERE url IS NOT NULL AND url <> source_url AND url <> source_canonical
    )
    SELECT s.url, min(s.sitemap) AS sitemap, count(DISTINCT s.sitemap) AS sitemaps
    FROM sitemap_urls s JOIN resp r ON r.url = s.url
    WHERE s.crawl_id = {cid} AND {relations.answered_sql("r")}
      AND s.url NOT IN (SELECT url FROM linked)
      AND NOT list_contains((SELECT start_urls FROM crawls WHERE crawl_id = {cid}), s.url)
    GROUP BY s.url ORDER BY s.url
    """


def crawl_complete(con, crawl_id: int) -> bool:
    """Whether the crawl reached every page linked on the site: orphans mean nothing otherwise.
    The crawler's stats say whether max_pages or max_depth cut it short; without them, every
    internal link target must have a responses row."""
    info = store.crawl_info(con, crawl_id)
    stats = info.get("stats") or {}
    if info["status"] == "interrupted":
        return False
    if "max_pages_reached" in stats or "past_max_depth" in stats:
        return not stats.get("max_pages_reached") and not stats.get("past_max_depth")
    missing = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT url FROM links WHERE crawl_id = ? AND target_type = 'internal' "
        "AND element IN ('a', 'area')) l ANTI JOIN (SELECT url FROM responses WHERE crawl_id = ?) r USING (url)",
        [crawl_id, crawl_id]).fetchone()[0]
    return missing == 0


def similar_pages(con, crawl_id: int) -> dict[str, str]:
    """For broken link targets, the crawled page a link most likely meant: same last path segment
    (a relative-URL slip, a wrong folder or host), a near spelling in the same folder, or the same
    path on a host spelt nearly alike."""
    cid = int(crawl_id)
    split = """url, regexp_extract(url, '^[a-z]+://[^/]+', 0) AS origin,
               substr(url, length(regexp_extract(url, '^[a-z]+://[^/]+', 0)) + 1) AS pathq,
               regexp_extract(split_part(url, '?', 1), '^[a-z]+://[^/]+(.*/)[^/]*/?$', 1) AS parent,
               regexp_extract(split_part(url, '?', 1), '([^/]+)/?$', 1) AS seg"""
    rows = con.execute(relations.link_targets_sql(cid) + f"""
    , broken AS (
        SELECT t.url, any_value(t.is_internal) AS internal, count(*) AS n
        FROM target t JOIN links l ON l.crawl_id = {cid} AND l.url = t.url
        WHERE t.hops = 0 AND t.broken AND (t.status IN (400, 404, 410) OR t.status IS NULL)
        GROUP BY t.url ORDER BY n DESC, t.url LIMIT {MAX_SUGGESTED}
    ),
    b AS (SELECT internal, {split} FROM broken),
    p AS (SELECT {split} FROM pages WHERE crawl_id = {cid}),
    -- pages of the same folder and about the same length: MATERIALIZED, or DuckDB computes
    -- levenshtein on every pair of the folder (13 million, 13 s at 100,000 pages) before the
    -- length test
    near AS MATERIALIZED (
        SELECT b.url, b.seg, p.url AS match, p.seg AS match_seg
        FROM b JOIN p ON b.origin = p.origin AND b.parent = p.parent
        WHERE b.internal AND b.url <> p.url AND abs(length(b.seg) - length(p.seg)) <= 2
    ),
    cand AS (
        SELECT b.url, p.url AS match FROM b JOIN p ON b.seg = p.seg
        WHERE b.internal AND b.seg <> '' AND b.url <> p.url
        UNION
        SELECT url, match FROM near
        WHERE levenshtein(seg, match_seg) <= greatest(1, length(seg) // 5)
        UNION
        SELECT b.url, p.url FROM b JOIN p ON b.pathq = p.pathq
        WHERE b.origin <> p.origin AND levenshtein(b.origin, p.origin) <= 3
    )
    SELECT url, arg_min(match, levenshtein(url, match) * 100000 + length(match)) FROM cand
    GROUP BY url ORDER BY url
    """).fetchall()
    return dict(rows)


# --- the analysis -------------------------------------------------------------------------------

def analyse(con, crawl_id: int, options: Options, page: str | None = None) -> dict[str, int]:
    """Write this crawl's link findings into flags; returns {kind: count} for every kind. With
    page (a recheck of that page), only the findings on that page are written."""
    info = store.crawl_info(con, crawl_id)
    hosts = set(info["hosts"] or [])
    similar = similar_pages(con, crawl_id)
    orphans = crawl_complete(con, crawl_id)

    def rows():
        for batch in store.iter_batches(con, link_findings_sql(crawl_id)):
            for row in batch:
                yield row["source_url"], classify_link(row, hosts, similar), row["text"]
        for batch in store.iter_batches(con, invalid_findings_sql(crawl_id)):
            for row in batch:
                yield row["source_url"], classify_invalid(row), row["text"]
        for batch in store.iter_batches(con, space_findings_sql(crawl_id)):
            for row in batch:
                yield row["source_url"], classify_space(row), row["text"]
        for batch in store.iter_batches(con, anchor_findings_sql(crawl_id)):
            for row in batch:
                yield row["source_url"], classify_anchor(row), row["text"]
        if orphans:
            for batch in store.iter_batches(con, orphan_findings_sql(crawl_id)):
                for row in batch:
                    more = f" and {row['sitemaps'] - 1} more" if row["sitemaps"] > 1 else ""
                    yield row["url"], rule_finding(
                        "orphan_page", "", f"listed in the sitemap {row['sitemap']}{more}; "
                        "no crawled page links to it",
                        "Link to it from a related page, or take it out of the sitemap if it should "
                        "not be published."), None

    def flags():
        for page_url, found, anchor_text in rows():
            if found is not None and (page is None or page_url == page):
                yield Finding(found["kind"], page_url, severity(found["rule"], options), found["target"],
                              found["detail"], found["suggestion"], anchor_text=anchor_text)

    return store.write_flags(con, crawl_id, "links", flags(), KINDS)
