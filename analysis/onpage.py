"""On-page SEO checks over a stored crawl: titles, descriptions, headings, thin and near-duplicate
content, canonicals, noindex, image alt text, session-id duplicate URLs, crawler traps, large pages."""

from __future__ import annotations

import functools
import re
from typing import Iterable, Iterator

from crawler import relations, store
from analysis import crawl_checks, near_duplicates, pagetypes
from analysis.pagetypes import says_noindex
from analysis.findings import kinds_of, quote, severity_for
from crawler.config import Options, OnpageOptions
from crawler.urls import normalize

KINDS = kinds_of("onpage")   # kind -> default severity (analysis/findings.py)

SUGGESTIONS = {
    "missing_title": "Add a <title> in the page's <head> that names what the page offers, "
                     "most important words first.",
    "multiple_titles": "Keep one <title> element: remove the extra ones (often added by a plugin "
                       "or a template) so search engines show the one you wrote.",
    "duplicate_title": "Give each page its own title that says how it differs from the others "
                       "sharing this one (service, place, audience), or merge the pages.",
    "title_length": "Rewrite the title to fit the range: name the topic first and drop filler "
                    "such as repeated brand names.",
    "missing_meta_description": "Write a meta description: one or two sentences that tell a "
                                "searcher what they will find and why to click.",
    "meta_description_length": "Rewrite the meta description to fit the range so search results "
                               "show it whole.",
    "missing_h1": "Add one visible <h1> heading that says what the page is about.",
    "multiple_h1": "Keep one <h1> for the page's main heading and turn the others into <h2>.",
    "thin_content": "Expand the page with the answers its readers need, merge it into a fuller "
                    "page, or mark it noindex if it is not meant for search.",
    "near_duplicate": "Make each page distinct, merge the two, or point the weaker one's "
                      "canonical link at the stronger.",
    "canonicalized": "Check that the canonical URL is the version you want in search results; "
                     "link to that URL directly.",
    "noindex": "Make sure this page is meant to stay out of search results; remove the "
               "noindex if it is not.",
    "missing_alt": 'Add an alt attribute describing the image, or alt="" if it is decorative.',
    "duplicate_url": "Link to the URL without session or tracking parameters (and set a "
                     "canonical link on the page).",
    "crawler_trap": "Stop the endless URLs: add rel=\"nofollow\" to the links, block the pattern "
                    "in robots.txt, or stop generating links past the real content.",
    "large_page": "Slim the HTML: move inline images, scripts and styles to files, paginate "
                  "long lists.",
}

# Every character Python's str.isspace() accepts; a test checks the list is complete.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"   # zero-width and soft-hyphen marks
_WS_RUN = re.compile(f"[{re.escape(WHITESPACE)}]+")
_BLANK = re.compile(f"[{re.escape(WHITESPACE + INVISIBLE)}]+")


def _re2_class(chars: str) -> str:
    return "[" + "".join(f"\\x{{{ord(c):04X}}}" for c in chars) + "]"


# The same rules in DuckDB's regular expressions, so SQL groups titles as Python reads them.
_SQL_WS_RUN = _re2_class(WHITESPACE) + "+"
_SQL_BLANK = _re2_class(WHITESPACE + INVISIBLE)

# Content types of machine endpoints, never pages or documents for people.


# --- plain functions: text ------------------------------------------------------------------

def collapse(text: str | None) -> str | None:
    """Whitespace runs (any Unicode space) become one space, ends trimmed; None stays None."""
    return None if text is None else _WS_RUN.sub(" ", text).strip(" ")


def is_blank(text: str | None) -> bool:
    """True when nothing visible is left: None, '', whitespace, zero-width characters only."""
    return text is None or not _BLANK.sub("", text)


def canonical_elsewhere(url: str, canonical: str | None) -> str | None:
    """The canonical URL when it names another page than url (a crawled, normalised URL); None
    when absent, self or unusable."""
    if canonical == url or is_blank(canonical):
        return None         # most pages name themselves, as stored: nothing to parse
    target = _normalized(canonical)
    return canonical if target is not None and target != url else None


@functools.lru_cache(maxsize=4096)   # each page's canonical is asked about three times in a row
def _normalized(url: str) -> str | None:
    try:
        return normalize(url)
    except ValueError:
        return None         # search engines ignore a canonical they cannot parse


def not_indexable_reason(page: dict) -> str | None:
    """Why a page would not be indexed (non-200, noindex, canonical elsewhere), or None."""
    status = page.get("status")
    if status is not None and status != 200:
        return f"status {status}"
    if says_noindex(page.get("meta_robots")):
        return "meta robots noindex"
    if says_noindex(page.get("x_robots_tag")):
        return "X-Robots-Tag noindex"
    other = canonical_elsewhere(page["url"], page.get("canonical"))
    if other:
        return f"canonical to {other}"
    return None


# --- plain functions: one page -----------------------------------------------------------

def _text_findings(kind: str, label: str, text: str | None, low: int, high: int) -> list[tuple]:
    """missing_* or *_length for a title or meta description, as (kind, target, detail)."""
    if text is None:
        return [(f"missing_{kind}", "", f"the page has no {label}")]
    if is_blank(text):
        how = "empty" if not text else "only whitespace or invisible characters"
        return [(f"missing_{kind}", "", f"the {label} is {how}")]
    shown = collapse(text)
    n = len(shown)
    if n < low:
        return [(f"{kind}_length", quote(shown), f"{n} characters, shorter than {low}")]
    if n > high:
        return [(f"{kind}_length", quote(shown), f"{n} characters, longer than {high}")]
    return []


def _thin_detail(words: int, all_words: int, opts: OnpageOptions) -> str:
    detail = ("no main text found" if all_words == 0 else
              f"{words} words of main text, fewer than {opts.thin_words}")
    if all_words > words:
        detail += (f"; {all_words - words} more words in the main content repeat on 3 or more "
                   "pages and do not count")
    return detail


def page_findings(page: dict, opts: OnpageOptions) -> list[dict]:
    """The checks that need one page only, as rows of kind, page_url, target, detail.

    `page` has url and the pages/responses columns status, title, title_count, meta_description,
    meta_robots, x_robots_tag, canonical, canonical_status, h1, main_words (words of
    relations.main_text_sql), all_main_words (every main block, repeats included), and for
    is_listing teaser_targets, teaser_words, inline_teasers, paginated; trap_view (is_trap_view: no thin
    article); own_variant when the page is linked only
    from its canonical page and that page's other variants (a ?replytocom= or sort-order URL:
    the canonical link is doing its job).
    """
    url = page["url"]
    found: list[tuple] = []
    if says_noindex(page.get("meta_robots")):
        found.append(("noindex", "", f"meta robots: {quote(page['meta_robots'], 100)}"))
    if says_noindex(page.get("x_robots_tag")):
        found.append(("noindex", "", f"X-Robots-Tag: {quote(page['x_robots_tag'], 100)}"))
    other = canonical_elsewhere(url, page.get("canonical"))
    if other and not page.get("own_variant"):
        status = page.get("canonical_status")
        answer = "was not crawled" if status is None else f"answers {status}"
        found.append(("canonicalized", other, f"canonical link to another URL, which {answer}"))
    if not_indexable_reason(page) is None:
        found += _text_findings("title", "<title>", page.get("title"), opts.title_min, opts.title_max)
        count = page.get("title_count") or 0
        if count > 1:
            found.append(("multiple_titles", "", f"{count} <title> elements; the first counts"))
        found += _text_findings("meta_description", "meta description", page.get("meta_description"),
                                opts.meta_description_min, opts.meta_description_max)
        h1s = list(page.get("h1") or [])
        shown = [collapse(h) for h in h1s if not is_blank(h)]
        if not shown:
            found.append(("missing_h1", "", "the page has no <h1>" if not h1s
                          else f"{len(h1s)} <h1> element(s), all empty"))
        elif len(shown) > 1:
            found.append(("multiple_h1", "", f"{len(shown)} <h1> headings: "
                          + " | ".join(quote(h, 60) for h in shown[:5])))
        words = page.get("main_words") or 0
        if words < opts.thin_words and not pagetypes.is_listing(page) and not page.get("trap_view"):
            found.append(("thin_content", "", _thin_detail(words, page.get("all_main_words") or 0, opts)))
    return [{"kind": k, "page_url": url, "target": t, "detail": d} for k, t, d in found]


# --- reading the crawl ---------------------------------------------------------------------

def _page_facts_sql(crawl_id: int) -> str:
    cid = int(crawl_id)
    return f"""
        WITH {pagetypes.listing_ctes(cid)},
        inlinks AS (   -- for each canonicalized page: is every link to it from its own family?
            SELECT l.url, bool_and(l.source_url = p.canonical OR s.canonical = p.canonical) AS own
            FROM links l JOIN pages p ON p.crawl_id = {cid} AND p.url = l.url AND p.canonical <> p.url
            LEFT JOIN pages s ON s.crawl_id = {cid} AND s.url = l.source_url
            WHERE l.crawl_id = {cid} AND l.element IN ('a', 'area')
            GROUP BY l.url
        )
        SELECT p.url, r.status, p.title, p.title_count, p.meta_description, p.meta_robots,
               r.x_robots_tag, p.canonical, c.status AS canonical_status, p.h1,
               m.words AS main_words, CASE WHEN m.full_text IS NOT NULL THEN m.full_words END AS all_main_words,
               t.teaser_targets, t.teaser_words, t.inline_teasers, s.url IS NOT NULL AS paginated,
               coalesce(i.own, false) AND c.status BETWEEN 200 AND 299 AS own_variant
        FROM pages p
        LEFT JOIN responses r ON r.crawl_id = p.crawl_id AND r.url = p.url
        LEFT JOIN responses c ON c.crawl_id = p.crawl_id AND c.url = p.canonical
        LEFT JOIN main_texts m ON m.crawl_id = p.crawl_id AND m.url = p.url
        LEFT JOIN teasers t ON t.url = p.url
        LEFT JOIN series s ON s.url = p.url
        LEFT JOIN inlinks i ON i.url = p.url
        WHERE p.crawl_id = {cid}
        ORDER BY p.url
    """


def _page_pass(con, crawl_id: int, opts: OnpageOptions) -> Iterator[dict]:
    """Each page's own checks; its indexability goes to page_facts for the checks after it."""
    patterns = pagetypes.trap_patterns(con, crawl_id)
    con.execute("DELETE FROM page_facts WHERE crawl_id = ?", [crawl_id])
    writer = store.BatchWriter(con)
    for batch in store.iter_batches(con, _page_facts_sql(crawl_id)):
        for page in batch:
            page["trap_view"] = pagetypes.is_trap_view(page["url"], patterns)
            reason = not_indexable_reason(page)
            writer.add("page_facts", {"crawl_id": crawl_id, "url": page["url"],
                                      "indexable": reason is None, "not_indexable": reason})
            yield from page_findings(page, opts)
    writer.flush()


def _duplicate_titles(con, crawl_id: int) -> Iterator[dict]:
    sql = f"""
        WITH t AS (
            SELECT p.url, trim(regexp_replace(p.title, '{_SQL_WS_RUN}', ' ', 'g')) AS title
            FROM pages p
            WHERE p.crawl_id = ? AND p.title IS NOT NULL
              AND regexp_replace(p.title, '{_SQL_BLANK}', '', 'g') <> ''
              AND {relations.indexable_sql(crawl_id, "p")}
        ),
        groups AS (
            SELECT title, count(*) AS n, list(url ORDER BY url)[1:4] AS sample
            FROM t GROUP BY title HAVING count(*) > 1
        )
        SELECT t.url, t.title, g.n, g.sample FROM t JOIN groups g USING (title)
        ORDER BY t.url
    """
    for batch in store.iter_batches(con, sql, [crawl_id]):
        for row in batch:
            others = [u for u in row["sample"] if u != row["url"]][:3]
            more = row["n"] - 1 - len(others)
            detail = f"{row['n']} pages share this title, also: " + ", ".join(others)
            yield {"kind": "duplicate_title", "page_url": row["url"], "target": quote(row["title"]),
                   "detail": detail + (f" and {more} more" if more > 0 else "")}


def _near_duplicates(con, crawl_id: int, opts: OnpageOptions) -> Iterator[dict]:
    return near_duplicates.findings(con, crawl_id, opts)


def _missing_alt(con, crawl_id: int) -> Iterator[dict]:
    # Every parsed page, indexable or not: alt text serves people using screen readers.
    sql = """
        SELECT l.source_url AS page_url, coalesce(l.url, left(l.href, 100), '') AS target, count(*) AS n
        FROM links l JOIN pages p ON p.crawl_id = l.crawl_id AND p.url = l.source_url
        WHERE l.crawl_id = ? AND l.element = 'img' AND l.alt IS NULL
        GROUP BY ALL ORDER BY page_url, target
    """
    for batch in store.iter_batches(con, sql, [crawl_id]):
        for row in batch:
            detail = "<img> without an alt attribute" + (f", {row['n']} times on the page" if row["n"] > 1 else "")
            yield {"kind": "missing_alt", "page_url": row["page_url"], "target": row["target"], "detail": detail}


# --- the analysis --------------------------------------------------------------------------

def suggestions_for(options: Options) -> dict[str, str]:
    """Suggestion per kind: the defaults with the config's [onpage.suggestions] applied
    (OnpageOptions checked the kinds when the config loaded)."""
    return {**SUGGESTIONS, **options.onpage.suggestions}


def findings(con, crawl_id: int, options: Options, site_checks: bool = True) -> Iterator[dict]:
    """Every on-page finding of the crawl (without severity and suggestion), streamed; without
    site_checks, only those judged from a page alone (a recheck's mini-crawl is not the site)."""
    opts = options.onpage
    yield from _page_pass(con, crawl_id, opts)       # writes page_facts, read by the checks after it
    if site_checks:
        yield from _duplicate_titles(con, crawl_id)
        yield from _near_duplicates(con, crawl_id, opts)
    yield from crawl_checks.noindex_files(con, crawl_id)
    yield from _missing_alt(con, crawl_id)
    if site_checks:
        yield from crawl_checks.duplicate_urls(con, crawl_id)
        yield from crawl_checks.crawler_traps(con, crawl_id)
    yield from crawl_checks.large_pages(con, crawl_id, opts)


def _with_advice(rows: Iterable[dict], options: Options) -> Iterator[dict]:
    suggestions = suggestions_for(options)
    severities = {k: severity_for(options.severity, k) for k in KINDS}
    for row in rows:
        yield {**row, "severity": severities[row["kind"]], "suggestion": suggestions[row["kind"]]}


def analyse(con, crawl_id: int, options: Options, page: str | None = None) -> dict[str, int]:
    """Write the crawl's on-page findings to flags; returns the count of each kind. With page
    (a recheck of that page), the checks that need the whole site are left out."""
    relations.ensure_main_texts(con, crawl_id)
    rows = findings(con, crawl_id, options, site_checks=page is None)
    return store.write_flags(con, crawl_id, "onpage", _with_advice(rows, options), KINDS)
