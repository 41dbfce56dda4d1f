"""The named relations every analysis reads, as SQL over one crawl's tables: the repeated
blocks (site furniture), each page's main text (stored in main_texts, built in slices), the
indexable pages, and the link targets (one row per URL, its redirects walked, whether it
answered and whether it is broken). One home for each, so a rule such as "what counts as
broken" is written once."""

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


# What readability grades: the prose of the main text, its paragraphs, list items and table
# cells. Not the headings (the h1 is the title), captions, legends or <summary> labels, which
# are read as labels; bylines, dates, share bars and comments are not main text at all
# (crawler/maincontent.py). A block's own element is the last step of its path
# ("...>div.entry-content>h2.wp-heading").
NOT_PROSE_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6", "hgroup", "figcaption", "caption", "legend",
                  "summary")
PROSE_BLOCKS = (r"regexp_extract(coalesce(path, ''), '(?:^|>)([a-z0-9]+)[^>]*$', 1) NOT IN ("
                + ", ".join(f"'{t}'" for t in NOT_PROSE_TAGS) + ")")
SLICE_PAGES = 2000          # pages whose main texts are built in one statement (bounds its memory)
_TEXTS = {   # main_text_sql's variants -> (text, words, content_hash) columns of main_texts
    "main": ("text", "words", "content_hash"),
    "prose": ("prose", "prose_words", "prose_hash"),
    "full": ("full_text", "full_words", "full_hash"),
}


def main_text_sql(crawl_id: int, variant: str = "main", ordered: bool = True) -> str:
    """SQL giving (url, text, words, content_hash, lang) for every parsed page of a crawl, from
    main_texts (ensure_main_texts builds it first).

    'main': the page's blocks of role 'main', in page order, without blocks whose text repeats
    on BOILERPLATE_MIN_PAGES pages or more (site furniture inside the content); a page with no
    main text gets text '' and words 0. 'prose': of those, the paragraphs and list items
    (PROSE_BLOCKS), what readability grades. 'full': every main block, repeats included, for
    the pages that have one (what a search engine compares for duplicates). ordered=False
    leaves out the ORDER BY url: a sort of every page's text ran out of memory under the
    analyses' cap at 100,000 pages, so a consumer that does not need the order says so."""
    text, words, content_hash = _TEXTS[variant]
    having = f" AND {text} IS NOT NULL" if variant == "full" else ""
    return f"""
        SELECT url, {text} AS text, {words} AS words, {content_hash} AS content_hash, lang
        FROM main_texts WHERE crawl_id = {int(crawl_id)}{having}""" + (
        "\n        ORDER BY url" if ordered else "")


def _blocks_hash_sql(cid: int) -> str:
    """Per URL, a hash of everything its main_texts row is built from: each main block's place,
    text, words, whether it repeats (the list parameter) and whether it is prose."""
    return f"""
        SELECT page_url AS url,
               hash(list((block_index, hash(text), word_count,
                          text_hash IN (SELECT unnest(?::BIGINT[])), {PROSE_BLOCKS})
                         ORDER BY block_index)) AS blocks_hash
        FROM blocks WHERE crawl_id = {cid} AND role = 'main' GROUP BY page_url"""


def ensure_main_texts(con, crawl_id: int) -> None:
    """Build the crawl's main_texts rows unless they are there, one per URL.

    Each page's main blocks hash to blocks_hash; a text another crawl (or another page) already
    has in main_text_bodies is not built or written again, so a weekly rerun writes only its
    changed pages' texts. The missing ones are built one INSERT per SLICE_PAGES pages, so no
    statement holds more than a slice's texts (string_agg over every page of a large crawl at
    once held gigabytes). The crawl's main_text_pages rows are written last, in one statement:
    a build killed half-way leaves none, and its bodies are reused by the next one."""
    cid = int(crawl_id)
    built, pages = con.execute(
        "SELECT (SELECT count(*) FROM main_text_pages WHERE crawl_id = $1), "
        "(SELECT count(DISTINCT url) FROM pages WHERE crawl_id = $1)", [cid]).fetchone()
    if built and built == pages:
        return
    if built:   # rows of an older build (a resumed crawl's pages changed since): built again
        con.execute("DELETE FROM main_text_pages WHERE crawl_id = ?", [cid])
    repeated = [h for (h,) in con.execute(repeated_blocks_sql(cid)).fetchall()]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _main_pages AS
        SELECT p.url, p.lang, coalesce(h.blocks_hash, 0) AS blocks_hash
        FROM (SELECT url, any_value(lang) AS lang FROM pages WHERE crawl_id = {cid} GROUP BY url) p
        LEFT JOIN ({_blocks_hash_sql(cid)}) h USING (url)""", [repeated])
    # one page per text not stored yet: its blocks are what the text is built from
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _main_todo AS
        SELECT min(url) AS url, blocks_hash FROM _main_pages
        WHERE blocks_hash NOT IN (SELECT blocks_hash FROM main_text_bodies)
        GROUP BY blocks_hash""")
    bounds = [u for (u,) in con.execute(
        "SELECT url FROM (SELECT url, row_number() OVER (ORDER BY url) AS n FROM _main_todo) "
        "WHERE n % ? = 1 ORDER BY url", [SLICE_PAGES]).fetchall()]
    for lo, hi in zip(bounds, bounds[1:] + [None]):
        params, last = ([lo], True) if hi is None else ([lo, hi], False)
        con.execute(f"""
            INSERT INTO main_text_bodies
            WITH t AS (SELECT * FROM _main_todo WHERE {_in_slice("url", last)}),
            b AS (
                SELECT page_url, block_index, text, word_count,
                       text_hash IN (SELECT unnest(?::BIGINT[])) AS repeated,
                       {PROSE_BLOCKS} AS prose
                FROM blocks
                WHERE crawl_id = {cid} AND role = 'main' AND {_in_slice("page_url", last)}
                  AND page_url IN (SELECT url FROM t)
            ),
            g AS (
                SELECT page_url,
                       string_agg(text, '\n' ORDER BY block_index) FILTER (WHERE NOT repeated) AS text,
                       sum(word_count) FILTER (WHERE NOT repeated) AS words,
                       string_agg(text, '\n' ORDER BY block_index) FILTER (WHERE NOT repeated AND prose) AS prose,
                       sum(word_count) FILTER (WHERE NOT repeated AND prose) AS prose_words,
                       string_agg(text, '\n' ORDER BY block_index) AS full_text,
                       sum(word_count) AS full_words
                FROM b GROUP BY page_url
            )
            SELECT t.blocks_hash,
                   coalesce(g.text, ''), coalesce(g.words, 0), md5(coalesce(g.text, '')),
                   coalesce(g.prose, ''), coalesce(g.prose_words, 0), md5(coalesce(g.prose, '')),
                   g.full_text, coalesce(g.full_words, 0), md5(g.full_text)
            FROM t LEFT JOIN g ON g.page_url = t.url
        """, params + [repeated] + params)
    con.execute(f"INSERT INTO main_text_pages SELECT {cid}, url, lang, blocks_hash FROM _main_pages")
    con.execute("DROP TABLE _main_pages")
    con.execute("DROP TABLE _main_todo")


def _in_slice(column: str, last: bool) -> str:
    """The condition of one slice of URLs, [lo, hi), or [lo, ...) for the last one."""
    return f"{column} >= ?" + ("" if last else f" AND {column} < ?")


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
