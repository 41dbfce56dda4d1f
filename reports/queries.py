"""The report's named queries, one per section: each is SQL over the stored crawl, and the
HTML, CSV, XLSX and JSON files are all rendered from the rows of the same query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from analysis.findings import kinds_of, rank_sql

# Kinds shown in "Broken cross-links": every link problem of a page (orphans have no link).
LINK_KINDS = tuple(k for k in kinds_of("links") if k != "orphan_page")
# A finding of the previous crawl counts as fixed only if its page was fetched this time.
FETCHED_THIS_CRAWL = "SELECT url FROM responses WHERE crawl_id = $cid AND purpose = 'crawl' AND outcome = 'fetched'"


@dataclass(frozen=True)
class Query:
    """A named query: SQL with named parameters ($cid, $prev, ...) and their values."""
    name: str
    sql: str
    params: dict

    def run(self, con) -> list[dict]:
        """All rows as dicts (for small results: charts, counts, capped sections)."""
        return [row for batch in self.stream(con) for row in batch]

    def stream(self, con, size: int = 5000) -> Iterator[list[dict]]:
        """Rows as lists of dicts, size at a time, on a cursor of its own."""
        cur = con.cursor()
        try:
            cur.execute(self.sql, self.params)
            cols = [d[0] for d in cur.description]
            while rows := cur.fetchmany(size):
                yield [dict(zip(cols, r)) for r in rows]
        finally:
            cur.close()

    def columns(self, con) -> list[str]:
        cur = con.cursor()
        try:
            cur.execute(f"SELECT * FROM ({self.sql}) LIMIT 0", self.params)
            return [d[0] for d in cur.description]
        finally:
            cur.close()


FINDING_COLUMNS = """
    f.site, f.crawl_id, f.page_url, f.kind, f.severity, f.target, f.detail, f.suggestion,
    {status} AS status, f.first_seen, p.title AS page_title, f.anchor_text, f.analysis"""


def findings(cid: int) -> Query:
    """Every current finding (flags.csv, flags.xlsx, the report's worklist), worst first."""
    return Query("findings", f"""
        WITH cur AS (SELECT * FROM flags WHERE crawl_id = $cid)
        SELECT {FINDING_COLUMNS.format(status="coalesce(f.status, 'new')")}
        FROM cur f
        LEFT JOIN pages p ON p.crawl_id = $cid AND p.url = f.page_url
        ORDER BY {rank_sql('f.severity')}, f.kind, f.page_url, f.target
    """, {"cid": cid})


def _fixed_cte() -> str:
    return f"""
        fixed AS (
            SELECT p.* FROM flags p
            WHERE p.crawl_id = $prev
              AND p.page_url IN ({FETCHED_THIS_CRAWL})
              AND NOT EXISTS (SELECT 1 FROM flags c WHERE c.crawl_id = $cid AND c.kind = p.kind
                              AND c.page_url = p.page_url AND c.target = p.target)
        )"""


def fixed(cid: int, prev: int | None) -> Query:
    """Findings of the previous crawl that are gone, on pages fetched again (fixed.csv)."""
    return Query("fixed", f"""
        WITH {_fixed_cte()}
        SELECT {FINDING_COLUMNS.format(status="'fixed'").replace('f.crawl_id', '$cid::INTEGER AS crawl_id')},
               $prev::INTEGER AS last_seen_crawl_id
        FROM fixed f
        LEFT JOIN pages p ON p.crawl_id = $prev AND p.url = f.page_url
        ORDER BY {rank_sql('f.severity')}, f.kind, f.page_url, f.target
    """, {"cid": cid, "prev": prev})


def health(cid: int, prev: int | None) -> Query:
    """Findings per kind and severity now, new this crawl, fixed since the previous one, and
    the previous crawl's count (the report's first table and summary.json)."""
    return Query("health", f"""
        WITH {_fixed_cte()},
        now AS (SELECT kind, severity, count(*) AS n,
                       count(*) FILTER (WHERE coalesce(status, 'new') = 'new') AS new
                FROM flags WHERE crawl_id = $cid GROUP BY kind, severity),
        gone AS (SELECT kind, severity, count(*) AS fixed FROM fixed GROUP BY kind, severity),
        before AS (SELECT kind, severity, count(*) AS previous FROM flags WHERE crawl_id = $prev
                   GROUP BY kind, severity)
        SELECT kind, severity, coalesce(n, 0) AS n, coalesce(new, 0) AS new,
               coalesce(fixed, 0) AS fixed,
               CASE WHEN $prev IS NULL THEN NULL ELSE coalesce(previous, 0) END AS previous
        FROM now FULL JOIN gone USING (kind, severity) FULL JOIN before USING (kind, severity)
        ORDER BY {rank_sql()}, kind
    """, {"cid": cid, "prev": prev})


def trend(cid: int) -> Query:
    """Findings per kind in every analysed crawl of the site up to this one (trend chart)."""
    return Query("trend", """
        SELECT c.crawl_id, c.started_at, c.status, f.kind, count(f.kind) AS n
        FROM crawls c
        LEFT JOIN flags f ON f.crawl_id = c.crawl_id
        WHERE c.site = (SELECT site FROM crawls WHERE crawl_id = $cid)
          AND c.crawl_id <= $cid AND (c.analysed_at IS NOT NULL OR c.crawl_id = $cid)
        GROUP BY c.crawl_id, c.started_at, c.status, f.kind
        ORDER BY c.crawl_id, f.kind
    """, {"cid": cid})


def pages(cid: int) -> Query:
    """One row per URL of the site the crawl requested (pages.csv, the report's page table)."""
    return Query("pages", """
        WITH inl AS (
            SELECT url, count(DISTINCT source_url) AS inlinks FROM links
            WHERE crawl_id = $cid AND element IN ('a', 'area') AND url IS NOT NULL AND url <> source_url
            GROUP BY url),
        outl AS (
            SELECT source_url AS url, count(DISTINCT url) AS outlinks FROM links
            WHERE crawl_id = $cid AND element IN ('a', 'area') AND url IS NOT NULL AND url <> source_url
            GROUP BY source_url),
        nflags AS (SELECT page_url AS url, count(*) AS findings FROM flags WHERE crawl_id = $cid
                   GROUP BY page_url)
        SELECT r.url, r.status, r.depth, p.title, p.word_count,
               round(rd.reading_grade, 1) AS reading_grade,
               round(rd.flesch_kincaid_grade, 1) AS flesch_kincaid_grade,
               round(rd.flesch_reading_ease, 1) AS flesch_reading_ease,
               t.topic_label AS topic, round(t.similarity, 3) AS topic_similarity,
               coalesce(i.inlinks, 0) AS inlinks,
               CASE WHEN p.url IS NULL THEN NULL ELSE coalesce(o.outlinks, 0) END AS outlinks,
               t.off_topic, coalesce(n.findings, 0) AS findings, r.outcome, r.error,
               r.redirect_to, r.found_by, p.main_words,
               coalesce(rd.skipped_reason, t.skipped_reason) AS not_scored_reason
        FROM responses r
        LEFT JOIN pages p ON p.crawl_id = $cid AND p.url = r.url
        LEFT JOIN readability rd ON rd.crawl_id = $cid AND rd.url = r.url
        LEFT JOIN topics t ON t.crawl_id = $cid AND t.url = r.url
        LEFT JOIN inl i ON i.url = r.url
        LEFT JOIN outl o ON o.url = r.url
        LEFT JOIN nflags n ON n.url = r.url
        WHERE r.crawl_id = $cid AND r.is_internal AND r.purpose = 'crawl'
        ORDER BY r.url
    """, {"cid": cid})


def link_problems(cid: int, limit: int) -> Query:
    """Broken cross-links and other link problems, grouped by the page that holds them."""
    kinds = ", ".join(f"'{k}'" for k in LINK_KINDS)
    return Query("link_problems", f"""
        WITH cur AS (SELECT * FROM flags WHERE crawl_id = $cid AND kind IN ({kinds}))
        SELECT f.page_url, p.title AS page_title, f.kind, f.severity, f.target, f.anchor_text,
               f.detail, f.suggestion, coalesce(f.status, 'new') AS status, f.first_seen
        FROM cur f
        LEFT JOIN pages p ON p.crawl_id = $cid AND p.url = f.page_url
        ORDER BY f.page_url, {rank_sql('f.severity')}, f.kind, f.target
        LIMIT $limit
    """, {"cid": cid, "limit": limit})


def broken_by_host(cid: int) -> Query:
    """Broken links per host of their target, the site's own hosts first (bar chart)."""
    return Query("broken_by_host", """
        SELECT regexp_extract(f.target, '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]+)', 1) AS target_host,
               count(*) AS n, count(DISTINCT f.target) AS targets,
               bool_or(r.is_internal) AS internal
        FROM flags f
        LEFT JOIN responses r ON r.crawl_id = f.crawl_id AND r.url = f.target
        WHERE f.crawl_id = $cid AND f.kind = 'broken_link'
        GROUP BY target_host
        ORDER BY internal DESC NULLS LAST, n DESC, target_host
    """, {"cid": cid})


def grade_distribution(cid: int) -> Query:
    """Pages per whole reading grade (grades above 20 counted at 20), for the histogram."""
    return Query("grade_distribution", """
        SELECT least(greatest(floor(reading_grade), 0), 20)::INTEGER AS grade, count(*) AS pages
        FROM readability WHERE crawl_id = $cid AND reading_grade IS NOT NULL
        GROUP BY grade ORDER BY grade
    """, {"cid": cid})


def topic_similarity(cid: int, limit: int) -> Query:
    """Each judged page's similarity to the site's core, off-topic ones marked; the chart
    draws one dot per page up to `limit` pages and a histogram beyond."""
    return Query("topic_similarity", """
        SELECT url, similarity, coalesce(off_topic, false) AS off_topic, topic_label,
               count(*) OVER () AS total
        FROM topics WHERE crawl_id = $cid AND similarity IS NOT NULL
        ORDER BY similarity, url
        LIMIT $limit
    """, {"cid": cid, "limit": limit})


def similarity_histogram(cid: int) -> Query:
    """Pages per similarity band of 0.02, split by verdict (for sites too big for dots)."""
    return Query("similarity_histogram", """
        SELECT least(floor(similarity * 50), 49)::INTEGER AS band,
               count(*) FILTER (WHERE NOT coalesce(off_topic, false)) AS on_topic,
               count(*) FILTER (WHERE off_topic) AS off_topic
        FROM topics WHERE crawl_id = $cid AND similarity IS NOT NULL
        GROUP BY band ORDER BY band
    """, {"cid": cid})


def off_topic_pages(cid: int, limit: int) -> Query:
    """Off-topic pages, least similar first, with their own topic and distinctive words."""
    return Query("off_topic_pages", """
        SELECT f.page_url, p.title AS page_title, round(t.similarity, 3) AS similarity,
               coalesce(t.topic_label, f.target) AS topic, t.distinctive_words, f.severity,
               coalesce(f.status, 'new') AS status, f.first_seen, f.suggestion
        FROM flags f
        LEFT JOIN topics t ON t.crawl_id = $cid AND t.url = f.page_url
        LEFT JOIN pages p ON p.crawl_id = $cid AND p.url = f.page_url
        WHERE f.crawl_id = $cid AND f.kind = 'off_topic_page'
        ORDER BY t.similarity NULLS LAST, f.page_url
        LIMIT $limit
    """, {"cid": cid, "limit": limit})


def off_topic_blocks(cid: int, limit: int) -> Query:
    """Off-topic blocks grouped by block (the same teaser on many pages is one row)."""
    return Query("off_topic_blocks", """
        WITH b AS (
            SELECT *, coalesce(block_text, detail) AS block   -- detail: rows of a schema-1 database
            FROM flags WHERE crawl_id = $cid AND kind = 'off_topic_block')
        SELECT block, target, count(*) AS pages,
               CASE WHEN count(*) > 50
                    THEN list_append(list(page_url ORDER BY page_url)[1:50], '… and ' || (count(*) - 50) || ' more')
                    ELSE list(page_url ORDER BY page_url) END AS page_urls,
               min(detail) AS detail, min(suggestion) AS suggestion,
               CASE WHEN bool_and(coalesce(status, 'new') = 'new') THEN 'new'
                    WHEN bool_or(coalesce(status, 'new') = 'new') THEN 'new on some pages'
                    ELSE 'recurring' END AS status,
               min(first_seen) AS first_seen
        FROM b GROUP BY block, target
        ORDER BY pages DESC, block, target
        LIMIT $limit
    """, {"cid": cid, "limit": limit})


def topic_changes(cid: int, limit: int) -> Query:
    """Pages whose text changed topic since the previous crawl."""
    return Query("topic_changes", """
        SELECT f.page_url, p.title AS page_title, t.topic_label AS topic, f.detail,
               coalesce(f.status, 'new') AS status, f.first_seen
        FROM flags f
        LEFT JOIN topics t ON t.crawl_id = $cid AND t.url = f.page_url
        LEFT JOIN pages p ON p.crawl_id = $cid AND p.url = f.page_url
        WHERE f.crawl_id = $cid AND f.kind = 'topic_changed'
        ORDER BY f.page_url
        LIMIT $limit
    """, {"cid": cid, "limit": limit})


def hardest_pages(cid: int, limit: int) -> Query:
    """Pages above the target grade, hardest first, with the sentences to rewrite first."""
    return Query("hardest_pages", """
        SELECT r.url AS page_url, p.title AS page_title, round(r.reading_grade, 1) AS grade,
               round(r.previous_grade, 1) AS previous_grade, r.words,
               round(r.avg_sentence_length, 1) AS words_per_sentence,
               round(r.flesch_reading_ease, 1) AS reading_ease,
               len(coalesce(r.long_sentences, [])) AS long_sentences,
               r.hardest_sentences, coalesce(f.status, 'new') AS status, f.first_seen
        FROM flags f
        JOIN readability r ON r.crawl_id = $cid AND r.url = f.page_url
        LEFT JOIN pages p ON p.crawl_id = $cid AND p.url = f.page_url
        WHERE f.crawl_id = $cid AND f.kind = 'hard_to_read'
        ORDER BY r.reading_grade DESC, f.page_url
        LIMIT $limit
    """, {"cid": cid, "limit": limit})


def count_of(con, sql: str, params: dict) -> int:
    return int(con.execute(sql, params).fetchone()[0])
