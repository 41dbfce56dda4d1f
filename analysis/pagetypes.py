"""What kind of page a page is, where an analysis must treat it differently: a listing (blog
home, category, tag, pagination), a view of an endless crawler-trap pattern (calendar months),
a utility page (privacy, contact, careers: the topics analysis tells them by their words and
stores UTILITY_REASON)."""

from __future__ import annotations

import re

from crawler.urls import url_shape

# The skipped_reason the topics analysis stores for a utility page (never drift).
UTILITY_REASON = "utility page (generic text such as privacy, contact, careers, login): not judged"

LISTING_MIN_ENTRIES = 2     # teasers to distinct pages that make a page a listing


_ROBOTS_VALUED = {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
_SEARCH_BOTS = {"googlebot", "bingbot"}   # user-agent-scoped directives that count


def says_noindex(value: str | None) -> bool:
    """Does a meta robots content or an X-Robots-Tag header value forbid indexing?

    'noindex' or 'none', for all robots or scoped to googlebot/bingbot ("googlebot: noindex").
    """
    if not value:
        return False
    applies = True
    for token in value.lower().split(","):
        name, sep, rest = token.partition(":")
        if sep and name.strip() not in _ROBOTS_VALUED:
            applies = name.strip() in _SEARCH_BOTS      # a user-agent prefix opens a new scope
            token = rest
        if applies and any(word in ("noindex", "none") for word in re.split(r"[\s;]+", token)):
            return True
    return False


def is_listing(page: dict) -> bool:
    """A blog home, category, tag, archive, results or hub page: it lists other pages (teasers
    to at least LISTING_MIN_ENTRIES of them carrying more words than its own text, or set
    between its own paragraphs as a services page's cards are: a related-posts rail comes
    after the text) or is one page of a series (rel=next/prev). Its text is the entries; it is
    not a thin article."""
    if page.get("paginated"):
        return True
    entries = page.get("teaser_targets") or 0
    if entries < LISTING_MIN_ENTRIES:
        return False
    return ((page.get("teaser_words") or 0) >= (page.get("main_words") or 0)
            or (page.get("inline_teasers") or 0) >= LISTING_MIN_ENTRIES)


def listing_ctes(cid: int) -> str:
    return f"""
        last_main AS (
            SELECT page_url, max(block_index) AS last FROM blocks
            WHERE crawl_id = {cid} AND role = 'main' GROUP BY page_url
        ),
        teasers AS (
            SELECT t.page_url AS url, count(DISTINCT t.link_url) AS teaser_targets,
                   sum(t.word_count) AS teaser_words,
                   count(DISTINCT t.link_url) FILTER (WHERE t.block_index < m.last) AS inline_teasers
            FROM blocks t LEFT JOIN last_main m USING (page_url)
            WHERE t.crawl_id = {cid} AND t.role = 'teaser' AND t.link_url IS NOT NULL
              AND t.link_url <> t.page_url
            GROUP BY t.page_url
        ),
        series AS (
            SELECT DISTINCT source_url AS url FROM links
            WHERE crawl_id = {cid} AND element IN ('link', 'a')
              AND list_has_any(string_split(lower(coalesce(rel, '')), ' '), ['next', 'prev'])
        )"""


def listing_facts_sql(crawl_id: int) -> str:
    """(url, main_words, teaser_targets, teaser_words, inline_teasers, paginated) of the pages that have teasers
    or a rel=next/prev link: what is_listing reads."""
    cid = int(crawl_id)
    return f"""
        WITH {listing_ctes(cid)}
        SELECT p.url, m.words AS main_words, t.teaser_targets, t.teaser_words, t.inline_teasers,
               s.url IS NOT NULL AS paginated
        FROM pages p
        LEFT JOIN main_texts m ON m.crawl_id = p.crawl_id AND m.url = p.url
        LEFT JOIN teasers t ON t.url = p.url
        LEFT JOIN series s ON s.url = p.url
        WHERE p.crawl_id = {cid} AND (t.url IS NOT NULL OR s.url IS NOT NULL)"""


def trap_patterns(con, crawl_id: int) -> set[str]:
    """The URL patterns (crawler.urls.url_shape) the crawl stopped following as traps."""
    return {p for (p,) in con.execute("SELECT DISTINCT error FROM responses WHERE crawl_id = ? "
                                      "AND outcome = 'trap' AND error IS NOT NULL", [crawl_id]).fetchall()}


def is_trap_view(url: str, patterns: set[str]) -> bool:
    """A page of an endless pattern (a calendar's months, an archive's dates), or the pattern's
    own start page (/events/ for /events/?month=*): a view generated from data, not an article."""
    if not patterns:
        return False
    return url_shape(url) in patterns or any(
        "?" in p and "{n}" not in p.split("?", 1)[0] and url == p.split("?", 1)[0] for p in patterns)
