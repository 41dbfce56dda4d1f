"""The link rules as plain functions: which rule (and severity) a link problem falls under, and
the detail and suggestion an editor reads. analysis/links.py finds the problems in SQL and calls
these; docs/links.md has the table of rules and severities."""

from __future__ import annotations

import difflib
from http import HTTPStatus
from urllib.parse import unquote

from analysis.findings import rank
from crawler import relations
from crawler.config import Options
from crawler.urls import UNFETCHABLE_SCHEMES, host_key

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

MAX_HOPS = relations.MAX_HOPS
MAX_TEXT = 100             # characters of anchor text quoted in detail
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

def failure_text(status: int | None, error: str | None) -> str:
    """What an editor reads about a broken URL (relations.broken_sql), e.g. '404 Not Found'."""
    if status is not None and 300 <= status < 400:
        return f"{status_text(status)} without a valid Location"
    if status is not None:
        return status_text(status)
    return error or "no answer"


def status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def broken_rule(status: int | None, error: str | None, internal: bool) -> str:
    """The severity rule of a failure (relations.broken_sql) on a URL of the site's hosts or elsewhere."""
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
        return rule_finding("blocked_by_robots", url, f"robots.txt forbids crawling it; {about}",
                        "Nothing is broken: the link was not checked because robots.txt disallows it. "
                        "Check it in a browser if it matters.")
    hops = row.get("hops") or 0
    if hops == 0:
        if not row["broken"]:
            return None
        why = failure_text(row["status"], row["error"])
        if (row.get("attempts") or 1) > 1:
            why += f" after {row['attempts']} attempts"
        rule = broken_rule(row["status"], row["error"], internal)
        return rule_finding(rule, url, f"{why}; {about}", broken_advice(rule, row, similar or {}))
    final = row["final_url"]
    path, codes = list(row["path"]), list(row["codes"])
    if row["looped"]:
        return rule_finding("redirect_loop", url, f"redirects in a loop: {hops_text(path, codes, final, ' …')}; {about}",
                        "Browsers show an error for this link. Fix the redirects on the server "
                        "(ask your developer) or link to the page's real address.")
    if hops > MAX_HOPS:
        return rule_finding("too_many_redirects", url,
                        f"more than {MAX_HOPS} redirects (browsers give up): "
                        f"{hops_text(path[:5], codes[:5], path[5], ' …')}; {about}",
                        "Link to the page's real address and ask your developer to shorten the redirects.")
    final_internal = host_key(final) in hosts
    if row["final_broken"]:
        why = failure_text(row["final_status"], row["final_error"])
        rule = broken_rule(row["final_status"], row["final_error"], final_internal)
        via = hops_text(path, codes, final, f" ({why})")
        return rule_finding(rule, url, f"{why} after {hops} redirect{'s' * (hops > 1)}: {via}; {about}",
                        broken_advice(rule, {**row, "url": final}, similar or {}))
    end = {"blocked_by_robots": " (blocked by robots.txt, not checked)", None: " (not checked)"}.get(
        row["final_outcome"], f" ({row['final_status']})" if row["final_status"] else "")
    via = hops_text(path, codes, final, end)
    advice = f"Link to {final} directly."
    if hops >= 2:
        rule = "redirect_chain" if internal or final_internal else "external_redirect_chain"
        return rule_finding(rule, url, f"{hops} redirects: {via}; {about}", advice)
    if internal or final_internal:
        return rule_finding("redirected_link", url, f"redirects once: {via}; {about}", advice)
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
        return rule_finding("file_url", shown, f'a file on the author\'s computer, not on the web; href "{shown}"; '
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
    return rule_finding("invalid_url", shown, f'{reason}; href "{shown}"; {describe(row)}',
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
    return rule_finding("space_in_href", row["url"], f'the href "{shown}" contains a space; {describe(row)}',
                    f"Write the address without spaces (%20 where the name has one): {row['url']}")


def classify_anchor(row: dict) -> dict | None:
    anchors = list(row["anchors"] or [])
    fragment = row["fragment"]
    if anchor_defined(fragment, anchors):
        return None
    page = row["checked_url"]
    close = difflib.get_close_matches(unquote(fragment), anchors, n=1, cutoff=0.6)
    hint = f'Did you mean #{close[0]}? ' if close else ""
    return rule_finding("missing_anchor", f"{row['url']}#{fragment}",
                    f"#{fragment} is not an id or <a name> on {page}; {describe(row)}",
                    f'{hint}Point the link to an anchor the page defines, or add id="{unquote(fragment)}" '
                    "to the section it means.")


def rule_finding(rule: str, target: str, detail: str, suggestion: str) -> dict:
    return {"rule": rule, "kind": RULES[rule][0], "target": target, "detail": detail,
            "suggestion": suggestion}


# --- SQL --------------------------------------------------------------------------------------
