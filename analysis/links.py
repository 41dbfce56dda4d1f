"""Links analysis: broken links, redirects, robots-blocked links, missing #anchors and orphan pages.

Reads `links`, `responses`, `pages` and `sitemap_urls` of a crawl; rules and severities: docs/links.md.
"""

from __future__ import annotations

import difflib
from http import HTTPStatus
from urllib.parse import unquote

from crawler import store
from analysis.findings import Finding, kinds_of, rank
from crawler.config import Options
from crawler.urls import UNFETCHABLE_SCHEMES, host_key

KINDS = kinds_of("links")   # kind -> default severity (analysis/findings.py)

# rule -> (kind, default severity). Kind-level [severity] overrides apply to every rule of the
# kind; [links.severity] overrides one rule; external_auth follows links.external_auth_severity.
RULES = {
    "internal_4xx": ("broken_link", "error"),
    "internal_5xx": ("broken_link", "error"),
    "internal_unreachable": ("broken_link", "error"),
    "external_4xx": ("broken_link", "error"),
    "external_auth": ("broken_link", "warning"),
    "external_5xx": ("broken_link", "warning"),
    "external_unreachable": ("broken_link", "warning"),
    "external_dns": ("broken_link", "error"),
    "rate_limited": ("broken_link", "notice"),
    "invalid_url": ("broken_link", "error"),
    "file_url": ("broken_link", "error"),
    "space_in_href": ("broken_link", "warning"),
    "redirect_chain": ("redirect_chain", "warning"),
    "external_redirect_chain": ("redirect_chain", "notice"),
    "too_many_redirects": ("redirect_chain", "error"),
    "redirect_loop": ("redirect_loop", "error"),
    "redirected_link": ("redirected_link", "notice"),
    "blocked_by_robots": ("blocked_by_robots", "notice"),
    "missing_anchor": ("missing_anchor", "warning"),
    "orphan_page": ("orphan_page", "warning"),
}

MAX_HOPS = 20              # browsers give up after 20 redirects
MAX_TEXT = 100             # characters of anchor text quoted in detail
MAX_SUGGESTED = 500        # broken targets for which a similar page of the site is looked up
# Not a verdict on the link: a response came but was cut (large_page reports the size), or a
# downloader middleware declined the request.
NOT_BROKEN_ERRORS = ("too large", "not fetched")
AUTH_STATUSES = {401, 403, 407}
# Schemes that name a file on the author's own computer: broken for every visitor.
LOCAL_FILE_SCHEMES = {"file"}
# Rate limiting is the other server's choice, not a fault of the link: a warning at most.
MOST_SEVERE = {"rate_limited": "warning"}


def severity(rule: str, options: Options) -> str:
    kind, default = RULES[rule]
    if rule in options.links.severity:
        return options.links.severity[rule]
    if rule == "external_auth":
        return options.links.external_auth_severity
    chosen = options.severity.get(kind, default)   # a kind-level [severity] override wins over the rule's default
    cap = MOST_SEVERE.get(rule)
    return cap if cap and rank(chosen) < rank(cap) else chosen


# --- plain rules ------------------------------------------------------------------------------

def failure(outcome: str | None, status: int | None, error: str | None,
            redirect_to: str | None = None) -> str | None:
    """Why a fetched (or cached) URL counts as broken, e.g. '404 Not Found', or None if it is not."""
    if outcome not in ("fetched", "error", "cached"):
        return None
    if error and error.startswith(NOT_BROKEN_ERRORS):
        return None
    if status is not None and status >= 400:
        return status_text(status)
    if status is not None and 300 <= status < 400 and not redirect_to and status != 304:
        return f"{status_text(status)} without a valid Location"
    if status is None and error:
        return error
    return None


def status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def broken_rule(status: int | None, error: str | None, internal: bool) -> str:
    """The severity rule of a failure (see failure()) on a URL of the site's hosts or elsewhere."""
    side = "internal" if internal else "external"
    if status == 429:
        return "rate_limited"
    if status is not None and status in AUTH_STATUSES and not internal:
        return "external_auth"
    if status is not None and 400 <= status < 500:
        return f"{side}_4xx"
    if status is not None:
        return f"{side}_5xx"       # 5xx, and a 3xx without a Location (a server fault too)
    if not internal and "dns" in (error or "").lower():
        return "external_dns"
    return f"{side}_unreachable"


def scheme_typo(scheme: str | None) -> str | None:
    """'https' when an unknown scheme like 'htps' is a slip of http(s); None for real schemes."""
    if not scheme or scheme in UNFETCHABLE_SCHEMES or scheme in ("http", "https"):
        return None
    ratio, meant = max((difflib.SequenceMatcher(None, scheme, m).ratio(), m) for m in ("http", "https"))
    return meant if len(scheme) >= 3 and ratio >= 0.75 else None


def anchor_defined(fragment: str, anchors: list[str]) -> bool:
    """Whether a #fragment scrolls somewhere: an id or a[name] (as written or percent-decoded),
    '#' and '#top', text fragments (#:~:text=) and app routes (#/path, #!/path)."""
    if fragment == "" or fragment.lower() == "top" or fragment.startswith((":~:", "/", "!")):
        return True
    decoded = unquote(fragment)
    names = set(anchors)
    return fragment in names or decoded in names or decoded.split(":~:", 1)[0] in names


def link_role(element: str | None, rel: str | None) -> str:
    """How detail names a link: 'link', 'image', 'canonical link', ..."""
    rels = (rel or "").lower().split()
    if element == "img":
        return "image"
    if element == "link":
        if "canonical" in rels:
            return "canonical link"
        if "stylesheet" in rels:
            return "stylesheet"
        return f"<link rel={' '.join(rels) or '?'}>"
    names = {"a": "link", "area": "image-map link", "iframe": "embedded frame", "frame": "frame"}
    return names.get(element or "", f"<{element}>")


def describe(row: dict) -> str:
    """'link text "Book now"', 'image, alt text "Our team"', '3 links on this page', ..."""
    role = link_role(row.get("element"), row.get("rel"))
    text = " ".join((row.get("text") or "").split())
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    word = "alt text" if role == "image" else "link text"
    if role in ("link", "image-map link", "image"):
        out = f'{word} "{text}"' if text else f"no {word}"
        out = out if role == "link" else f"{role}, {out}"
    else:
        out = role
    if (row.get("n") or 1) > 1:
        out += f" ({row['n']} links on this page)"
    return out


def hops_text(path: list[str], codes: list[int | None], final: str, end: str) -> str:
    steps = [f"{u} ({c if c is not None else '?'})" for u, c in zip(path, codes)]
    return " → ".join(steps + [f"{final}{end}"])


def classify_link(row: dict, hosts: set[str], similar: dict[str, str] | None = None) -> dict | None:
    """The finding for a page's link(s) to one URL, given what the crawl recorded for it."""
    url, internal = row["url"], row["target_type"] == "internal"
    about = describe(row)
    if row["outcome"] == "blocked_by_robots":
        return _finding("blocked_by_robots", url, f"robots.txt forbids crawling it; {about}",
                        "Nothing is broken: the link was not checked because robots.txt disallows it. "
                        "Check it in a browser if it matters.")
    hops = row.get("hops") or 0
    if hops == 0:
        why = failure(row["outcome"], row["status"], row["error"], row.get("redirect_to"))
        if why is None:
            return None
        if (row.get("attempts") or 1) > 1:
            why += f" after {row['attempts']} attempts"
        rule = broken_rule(row["status"], row["error"], internal)
        return _finding(rule, url, f"{why}; {about}", broken_advice(rule, row, similar or {}))
    final = row["final_url"]
    path, codes = list(row["path"]), list(row["codes"])
    if row["looped"]:
        return _finding("redirect_loop", url, f"redirects in a loop: {hops_text(path, codes, final, ' …')}; {about}",
                        "Browsers show an error for this link. Fix the redirects on the server "
                        "(ask your developer) or link to the page's real address.")
    if hops > MAX_HOPS:
        return _finding("too_many_redirects", url,
                        f"more than {MAX_HOPS} redirects (browsers give up): "
                        f"{hops_text(path[:5], codes[:5], path[5], ' …')}; {about}",
                        "Link to the page's real address and ask your developer to shorten the redirects.")
    final_internal = host_key(final) in hosts
    why = failure(row["final_outcome"], row["final_status"], row["final_error"], row.get("final_redirect_to"))
    if why is not None:
        rule = broken_rule(row["final_status"], row["final_error"], final_internal)
        via = hops_text(path, codes, final, f" ({why})")
        return _finding(rule, url, f"{why} after {hops} redirect{'s' * (hops > 1)}: {via}; {about}",
                        broken_advice(rule, {**row, "url": final}, similar or {}))
    end = {"blocked_by_robots": " (blocked by robots.txt, not checked)", None: " (not checked)"}.get(
        row["final_outcome"], f" ({row['final_status']})" if row["final_status"] else "")
    via = hops_text(path, codes, final, end)
    advice = f"Link to {final} directly."
    if hops >= 2:
        rule = "redirect_chain" if internal or final_internal else "external_redirect_chain"
        return _finding(rule, url, f"{hops} redirects: {via}; {about}", advice)
    if internal or final_internal:
        return _finding("redirected_link", url, f"redirects once: {via}; {about}", advice)
    return None


def broken_advice(rule: str, row: dict, similar: dict[str, str]) -> str:
    url, status = row["url"], row.get("final_status") or row.get("status")
    guess = similar.get(url)
    hint = f"Did you mean {guess}? " if guess else ""
    if rule == "internal_4xx":
        if status == 410:
            return f"{hint}The page was removed on purpose (410 Gone): remove the link or point it to a replacement."
        if status in AUTH_STATUSES:
            return f"The page refuses visitors ({status}): make it public or remove the link."
        if row.get("element") == "img":
            return "Upload the image again or change its src to the image's current address."
        return f"{hint}Change the link to the page's current address, or remove it." if hint else \
            "Change the link to the page's current address (search the site for it), or remove it."
    if rule == "internal_5xx":
        return f"Your server fails on {url}: ask your developer to fix that page, then recheck this one."
    if rule == "internal_unreachable":
        return f"{hint}Your server did not answer for {url}: check that the host is up and the address is right."
    if rule == "external_4xx":
        return (f"{hint}The page is gone: find its new address on the other site (or an archived copy) "
                "or remove the link.")
    if rule == "external_auth":
        return ("The other site refused our checker, probably a login or bot wall. Open the link in a browser: "
                "if it works there is nothing to fix (set links.external_auth_severity to quiet these).")
    if rule == "external_dns":
        return f"{hint}The host name does not exist: check the domain's spelling, or remove the link."
    if rule == "rate_limited":
        return "The server asked us to slow down (429), so the link could not be checked: open it in a browser."
    return (f"{hint}The other site did not answer properly; it may be temporary. Open the link in a browser: "
            "if it still fails next week, replace or remove the link.")


def classify_invalid(row: dict) -> dict | None:
    """An href that is no URL at all, or an http(s) scheme misspelt ('htps://')."""
    href = (row.get("href") or "").strip()
    reason = row.get("invalid_reason") or "invalid URL"
    if row["target_type"] == "unfetchable" and reason in LOCAL_FILE_SCHEMES:
        shown = href if len(href) <= 300 else href[:299] + "…"
        return _finding("file_url", shown, f'a file on the author\'s computer, not on the web; href "{shown}"; '
                        f"{describe(row)}",
                        "Upload the file to the site and link to its web address (https://…), or remove the link.")
    if row["target_type"] == "unfetchable":
        meant = scheme_typo(reason)
        if meant is None:
            return None
        reason = f"invalid URL: unknown scheme '{reason}:' (did you mean {meant}:?)"
    elif reason == "no href" or row.get("href") is None:
        return None
    if not reason.startswith("invalid URL"):
        reason = f"invalid URL: {reason}"
    shown = href if len(href) <= 300 else href[:299] + "…"
    return _finding("invalid_url", shown, f'{reason}; href "{shown}"; {describe(row)}',
                    "Correct the href: write a full address like https://example.org/page, "
                    "or a path on this site like /page.")


def href_has_space(href: str | None) -> bool:
    """Whether an href holds whitespace inside it (the ends are trimmed by browsers)."""
    return bool(href) and any(c.isspace() for c in href.strip())


def classify_space(row: dict) -> dict | None:
    """An href with a space in it: browsers encode it, other tools (mail, apps) cut the link there."""
    if not href_has_space(row.get("href")):
        return None
    href = " ".join(row["href"].split())
    shown = href if len(href) <= 200 else href[:199] + "…"
    return _finding("space_in_href", row["url"], f'the href "{shown}" contains a space; {describe(row)}',
                    f"Write the address without spaces (%20 where the name has one): {row['url']}")


def classify_anchor(row: dict) -> dict | None:
    anchors = list(row["anchors"] or [])
    fragment = row["fragment"]
    if anchor_defined(fragment, anchors):
        return None
    page = row["checked_url"]
    close = difflib.get_close_matches(unquote(fragment), anchors, n=1, cutoff=0.6)
    hint = f'Did you mean #{close[0]}? ' if close else ""
    return _finding("missing_anchor", f"{row['url']}#{fragment}",
                    f"#{fragment} is not an id or <a name> on {page}; {describe(row)}",
                    f'{hint}Point the link to an anchor the page defines, or add id="{unquote(fragment)}" '
                    "to the section it means.")


def _finding(rule: str, target: str, detail: str, suggestion: str) -> dict:
    return {"rule": rule, "kind": RULES[rule][0], "target": target, "detail": detail,
            "suggestion": suggestion}


# --- SQL --------------------------------------------------------------------------------------

def targets_sql(crawl_id: int) -> str:
    """CTEs `resp` (one row per URL) and `target`: each URL with its redirect path resolved.

    A hop already on the path is a loop; walks stop after MAX_HOPS + 1 hops.
    """
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
               f.status AS final_status, f.error AS final_error, f.redirect_to AS final_redirect_to
        FROM resp r LEFT JOIN chain c ON c.start = r.url
        LEFT JOIN resp f ON f.url = coalesce(c.final_url, r.url)
    )
    """


def _first_text() -> str:
    return ("arg_min(anchor_text, position) FILTER (WHERE trim(coalesce(anchor_text, '')) <> '') AS text, "
            "count(*) AS n, arg_min(element, position) AS element, arg_min(rel, position) AS rel")


def link_findings_sql(crawl_id: int) -> str:
    cid = int(crawl_id)
    return targets_sql(cid) + f"""
    , problem AS (
        SELECT * FROM target
        WHERE NOT (outcome IN ('fetched', 'cached') AND status BETWEEN 200 AND 299
                   AND redirect_to IS NULL AND error IS NULL)
          AND outcome <> 'trap'
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
    return targets_sql(cid) + f"""
    SELECT l.source_url, l.url, arg_min(l.href, l.position) AS href, {_first_text()}
    FROM links l LEFT JOIN target t ON t.url = l.url
    WHERE l.crawl_id = {cid} AND l.target_type IN ('internal', 'external')
      AND regexp_matches(trim(l.href), '\\s')
      AND (t.url IS NULL OR (t.outcome IN ('fetched', 'cached') AND t.status BETWEEN 200 AND 299
                             AND t.redirect_to IS NULL))
    GROUP BY l.source_url, l.url
    ORDER BY l.source_url, l.url
    """


def anchor_findings_sql(crawl_id: int) -> str:
    cid = int(crawl_id)
    return targets_sql(cid) + f"""
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
    return targets_sql(cid) + f"""
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
    WHERE s.crawl_id = {cid} AND r.outcome IN ('fetched', 'cached') AND r.status BETWEEN 200 AND 299
      AND r.redirect_to IS NULL
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
    rows = con.execute(targets_sql(cid) + f"""
    , broken AS (
        SELECT t.url, any_value(t.is_internal) AS internal, count(*) AS n
        FROM target t JOIN links l ON l.crawl_id = {cid} AND l.url = t.url
        WHERE t.hops = 0 AND (t.status IN (400, 404, 410) OR (t.outcome IN ('error', 'cached')
              AND t.status IS NULL AND t.error IS NOT NULL
              AND NOT starts_with(t.error, 'too large') AND NOT starts_with(t.error, 'not fetched')))
        GROUP BY t.url ORDER BY n DESC, t.url LIMIT {MAX_SUGGESTED}
    ),
    b AS (SELECT internal, {split} FROM broken),
    p AS (SELECT {split} FROM pages WHERE crawl_id = {cid}),
    cand AS (
        SELECT b.url, p.url AS match FROM b JOIN p ON b.seg = p.seg
        WHERE b.internal AND b.seg <> '' AND b.url <> p.url
        UNION
        SELECT b.url, p.url FROM b JOIN p ON b.origin = p.origin AND b.parent = p.parent
        WHERE b.internal AND b.url <> p.url AND abs(length(b.seg) - length(p.seg)) <= 2
          AND levenshtein(b.seg, p.seg) <= greatest(1, length(b.seg) // 5)
        UNION
        SELECT b.url, p.url FROM b JOIN p ON b.pathq = p.pathq
        WHERE b.origin <> p.origin AND levenshtein(b.origin, p.origin) <= 3
    )
    SELECT url, arg_min(match, levenshtein(url, match) * 100000 + length(match)) FROM cand
    GROUP BY url ORDER BY url
    """).fetchall()
    return dict(rows)


# --- the analysis -------------------------------------------------------------------------------

def analyse(con, crawl_id: int, options: Options) -> dict[str, int]:
    """Write this crawl's link findings into flags; returns {kind: count} for every kind."""
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
                    yield row["url"], _finding(
                        "orphan_page", "", f"listed in the sitemap {row['sitemap']}{more}; "
                        "no crawled page links to it",
                        "Link to it from a related page, or take it out of the sitemap if it should "
                        "not be published."), None

    def flags():
        for page_url, found, anchor_text in rows():
            if found is not None:
                yield Finding(found["kind"], page_url, severity(found["rule"], options), found["target"],
                              found["detail"], found["suggestion"], anchor_text=anchor_text)

    return store.write_flags(con, crawl_id, "links", flags(), KINDS)
