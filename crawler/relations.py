"""The named relations every analysis reads, as SQL over one crawl's tables: the repeated
blocks (site furniture), each page's main text, the indexable pages, and the link targets (one row per URL, its
redirects walked, whether it answered and whether it is broken). One home for each, so a
rule such as "what counts as broken" is written once."""

from __future__ import annotations

BOILERPLATE_MIN_PAGES = 3   # a block whose text repeats on this many pages is site furniture
MAX_HOPS = 20               # browsers give up after 20 redirects


def answered_sql(alias: str) -> str:
    """The URL answered with a page: a 2xx that is not a redirect (fetched or from the cache)."""
    a = alias
    return (f"({a}.outcome IN ('fetched', 'cached') AND {a}.status BETWEEN 200 AND 299 "
            f"AND {a}.redirect_to IS NULL)")


def broken_sql(alias: str) -> str:
    """The URL is broken for a visitor: a 4xx/5xx, a 3xx without a usable Location (a 304 is
    not one), or no answer at all. A download cut at max_bytes (outcome too_large), one a
    middleware declined (not_fetched), robots.txt and traps are no verdict on the URL."""
    a = alias
    return (f"({a}.outcome IN ('fetched', 'error', 'cached') AND ({a}.status >= 400 "
            f"OR ({a}.status BETWEEN 300 AND 399 AND {a}.redirect_to IS NULL AND {a}.status <> 304) "
            f"OR ({a}.status IS NULL AND {a}.error IS NOT NULL)))")


def repeated_blocks_sql(crawl_id: int) -> str:
    """SQL giving the text_hash of every block that repeats on BOILERPLATE_MIN_PAGES pages or
    more. A page that names another crawled page as its canonical (a ?replytocom= or print
    variant) is that page, so it does not make the page's own text look like furniture."""
    cid = int(crawl_id)
    return f"""
            SELECT b.text_hash FROM blocks b
            LEFT JOIN pages p ON p.crawl_id = {cid} AND p.url = b.page_url
            LEFT JOIN pages c ON c.crawl_id = {cid} AND c.url = p.canonical
            WHERE b.crawl_id = {cid}
            GROUP BY b.text_hash
            HAVING count(DISTINCT CASE WHEN c.url IS NOT NULL THEN c.url ELSE b.page_url END)
                   >= {BOILERPLATE_MIN_PAGES}"""


def main_text_sql(crawl_id: int, blocks: str = "TRUE") -> str:
    """SQL giving (url, text, words, content_hash) for every parsed page of a crawl.

    The main text is the page's blocks of role 'main', in page order, without blocks whose
    text repeats on BOILERPLATE_MIN_PAGES pages or more (site furniture inside the content).
    Pages with no main text get text '' and words 0. `blocks`, an SQL condition on the
    blocks table, narrows the main blocks further (readability keeps its prose blocks).
    """
    cid = int(crawl_id)
    return f"""
        WITH repeated AS (
            {repeated_blocks_sql(cid)}
        ),
        main AS (
            SELECT page_url AS url,
                   string_agg(text, '\n' ORDER BY block_index) AS text,
                   sum(word_count) AS words
            FROM blocks
            WHERE crawl_id = {cid} AND role = 'main' AND ({blocks})
              AND text_hash NOT IN (SELECT text_hash FROM repeated)
            GROUP BY page_url
        )
        SELECT p.url, coalesce(m.text, '') AS text, coalesce(m.words, 0)::INTEGER AS words,
               md5(coalesce(m.text, '')) AS content_hash, p.lang
        FROM pages p LEFT JOIN main m ON m.url = p.url
        WHERE p.crawl_id = {cid}
        ORDER BY p.url
    """


def indexable_sql(crawl_id: int, alias: str) -> str:
    """The page `alias`.url is one a search engine would index (page_facts, written by the
    on-page analysis before the checks that read it)."""
    return (f"{alias}.url IN (SELECT url FROM page_facts WHERE crawl_id = {int(crawl_id)} "
            "AND indexable)")


def link_targets_sql(crawl_id: int) -> str:
    """CTEs `resp` (one row per URL: its latest answer, an alias answering as the URL it
    stands for) and `target`: each URL with its redirect path walked to the final URL, whether
    it `answered` (answered_sql) and whether it, or the end of its redirects, is `broken`
    (broken_sql, final_broken). A hop already on the path is a loop; walks stop after
    MAX_HOPS + 1 hops."""
    cid = int(crawl_id)
    return f"""
    WITH RECURSIVE
    fetched AS (
        SELECT url, outcome, status, error, nullif(split_part(redirect_to, '#', 1), '') AS redirect_to,
               attempts, is_internal
        FROM responses WHERE crawl_id = {cid} AND outcome <> 'alias'
        QUALIFY row_number() OVER (PARTITION BY url ORDER BY fetched_at DESC NULLS LAST,
                                   attempts DESC NULLS LAST, outcome) = 1
    ),
    resp AS (  -- a URL with session/tracking parameters answers as the URL requested instead
        SELECT * FROM fetched
        UNION ALL
        SELECT a.url, f.* EXCLUDE (url)
        FROM (SELECT DISTINCT url, redirect_to FROM responses
              WHERE crawl_id = {cid} AND outcome = 'alias') a
        JOIN fetched f ON f.url = a.redirect_to
        WHERE a.url NOT IN (SELECT url FROM fetched)
    ),
    walk(start, cur, path, codes, hops, looped) AS (
        SELECT url, redirect_to, [url], [status], 1, redirect_to = url
        FROM resp WHERE redirect_to IS NOT NULL
        UNION ALL
        SELECT w.start, r.redirect_to, list_append(w.path, r.url), list_append(w.codes, r.status),
               w.hops + 1, list_contains(w.path, r.redirect_to) OR r.redirect_to = r.url
        FROM walk w JOIN resp r ON r.url = w.cur
        WHERE NOT w.looped AND r.redirect_to IS NOT NULL AND w.hops <= {MAX_HOPS}
    ),
    chain AS (
        SELECT start, max(hops) AS hops, arg_max(cur, hops) AS final_url, arg_max(path, hops) AS path,
               arg_max(codes, hops) AS codes, bool_or(looped) AS looped
        FROM walk GROUP BY start
    ),
    target AS (
        SELECT r.url, r.is_internal, r.outcome, r.status, r.error, r.redirect_to, r.attempts,
               coalesce(c.hops, 0) AS hops, c.path, c.codes, coalesce(c.looped, false) AS looped,
               coalesce(c.final_url, r.url) AS final_url, f.outcome AS final_outcome,
               f.status AS final_status, f.error AS final_error, f.redirect_to AS final_redirect_to,
               {answered_sql("r")} AS answered, {broken_sql("r")} AS broken,
               coalesce({broken_sql("f")}, false) AS final_broken
        FROM resp r LEFT JOIN chain c ON c.start = r.url
        LEFT JOIN resp f ON f.url = coalesce(c.final_url, r.url)
    )
    """
