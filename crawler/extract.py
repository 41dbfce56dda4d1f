"""Structural extraction of one HTML page: head facts (title, meta, canonical, lang), headings,
anchors, every link with the block that holds it, and the visible text split into role-labelled
blocks. It orchestrates: markup.py parses, teasers.py finds teasers, blocks.py cuts the text,
maincontent.py decides what is the page's own text; text.py holds the text rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.blocks import split
from crawler.maincontent import HINT_TAGS, ROLES, label, landmarks
from crawler.markup import HEADINGS, inner_text, parse
from crawler.teasers import find_teasers
from crawler.text import collapse, count_words, text_hash
from crawler.urls import Resolved, resolve

__all__ = ["ROLES", "Extracted", "extract", "count_words", "text_hash"]

LINK_TAGS = ("a", "area", "link", "img", "iframe", "frame")
LINK_RELS = frozenset({"canonical", "alternate", "prev", "next", "amphtml"})
NOFOLLOW_RELS = frozenset({"nofollow", "ugc", "sponsored"})

RESOLVE_CACHE_SIZE = 50_000
_resolved: dict = {}
_ABSOLUTE = re.compile(r"\s*https?://", re.IGNORECASE)


@dataclass
class Extracted:
    title: str | None             # first <title> outside <svg>, collapsed; None if none, '' if empty
    title_count: int
    meta_description: str | None  # None if absent or without content, '' if empty
    meta_robots: str | None       # robots and googlebot contents, lower-cased, joined with ', '
    canonical: str | None         # first <link rel=canonical>, resolved; None if absent or not fetchable
    lang: str | None              # <html lang>, lower-cased
    h1: list[str]
    headings: list[str]           # "h2 Some heading" in page order; "h2" alone when empty
    anchors: list[str]            # ids and <a name>s, first occurrence order
    word_count: int               # words of all blocks
    main_words: int               # words of the blocks with role 'main'
    blocks: list[dict]            # rows of the blocks table without crawl_id and page_url
    links: list[dict]             # rows of the links table without crawl_id and source_url


def extract(html: str, url: str, site_hosts: frozenset[str]) -> Extracted:
    """Everything the audit reads from one page; never raises on bad HTML."""
    root = parse(html)
    if root is None:
        return Extracted(None, 0, None, None, None, None, [], [], [], 0, 0, [], [])
    site_hosts = frozenset(site_hosts)  # a set would do for urls.resolve but not as a cache key
    page_url = _resolve(url, url, site_hosts).url   # cached: a page's canonical is often its own URL

    titles = [t for t in root.iter("title") if next(t.iterancestors("svg"), None) is None]
    title = inner_text(titles[0]) if titles else None
    description, robots = None, []
    for meta in root.iter("meta"):
        content = meta.get("content")
        if content is None:
            continue
        name = (meta.get("name") or "").strip().lower()
        if name == "description" and description is None:
            description = collapse(content)
        elif name in ("robots", "googlebot"):
            robots.append(collapse(content).lower())
    robots = ", ".join(r for r in robots if r) if robots else None
    lang = root.get("lang")
    lang = lang.strip().lower() if lang is not None else None

    base = page_url or url
    for element in root.iter("base"):
        href = element.get("href")
        if href is not None:
            base = _resolve_safely(href, url, site_hosts).url or base
            break
    robot_tokens = set(re.split(r"[\s,]+", robots)) if robots else set()
    page_nofollow = bool(robot_tokens & {"nofollow", "none"})

    inert = set()  # <template> content is not part of the page
    for template in root.iter("template"):
        inert.update(template.iter())
    links, link_of, a_text = _links(root, base, site_hosts, page_nofollow, inert)
    canonical = next((row["url"] for row in links if row["element"] == "link"
                      and "canonical" in row["rel"].lower().split()), None)

    h1, headings = [], []
    for heading in root.iter(*HEADINGS):
        if heading in inert:
            continue
        text = inner_text(heading)
        headings.append(f"{heading.tag} {text}".rstrip())
        if heading.tag == "h1":
            h1.append(text)
    anchors, roles, classed = _scan(root)
    marks = landmarks(root, roles, classed)
    teasers = find_teasers(root, links, link_of, a_text, page_url, marks)
    raw, link_block = split(root, marks, teasers, link_of)
    blocks, link_block = label(raw, marks, link_block)
    for index, block in link_block.items():
        links[index]["block_index"] = block
        links[index]["block_role"] = blocks[block]["role"]
    return Extracted(
        title=title, title_count=len(titles), meta_description=description, meta_robots=robots,
        canonical=canonical, lang=lang, h1=h1, headings=headings, anchors=anchors,
        word_count=sum(b["word_count"] for b in blocks),
        main_words=sum(b["word_count"] for b in blocks if b["role"] == "main"),
        blocks=blocks, links=links)


def _scan(root):
    """One pass over every element's attributes: the anchors (ids and <a name>) in page order,
    the elements with a role, and the layout containers with a class or id. (Faster than three
    XPath queries, which libxml2 evaluates slowly on big pages.)"""
    anchors, roles, classed = [], [], []
    for el in root.iter():
        tag = el.tag
        ident = el.get("id")
        if ident and not ident.isspace():
            anchors.append(ident)
        if tag == "a":
            name = el.get("name")
            if name and not name.isspace():
                anchors.append(name)
        if el.get("role"):
            roles.append(el)
        if tag in HINT_TAGS and (ident or el.get("class")):
            classed.append(el)
    return list(dict.fromkeys(anchors)), roles, classed


def _links(root, base, site_hosts, page_nofollow, inert):
    """Link rows in page order, the row index of each link element, and each <a>'s own text."""
    rows, link_of, a_text = [], {}, {}
    for el in root.iter(*LINK_TAGS):
        if inert and el in inert:
            continue
        tag, alt, anchor, rel = el.tag, None, None, el.get("rel")
        if tag == "a" or tag == "area":
            href = el.get("href")
            if href is None:
                continue
            if tag == "a":
                anchor = a_text[el] = inner_text(el)
                anchor = anchor or _fallback_text(el)
            else:
                anchor = collapse(el.get("alt") or "") or collapse(el.get("title") or "")
        elif tag == "link":
            tokens = set(rel.lower().split()) if rel else set()
            href = el.get("href")
            if href is None or not tokens & LINK_RELS or "stylesheet" in tokens:
                continue
        elif tag == "img":
            href = el.get("src")
            if href is None or (not href.strip() and el.get("srcset")):
                candidates = (el.get("srcset") or "").strip().lstrip(",").split()
                href = candidates[0].rstrip(",") if candidates else None
            if href is None:
                continue
            alt = el.get("alt")
            anchor = collapse(alt) if alt is not None else None
        else:
            href = el.get("src")
            if href is None:
                continue
            anchor = collapse(el.get("title") or "") or None
        if tag in ("img", "iframe", "frame") and not href.strip():
            # Browsers fetch nothing for an empty src; resolving it would name the page itself.
            target = Resolved(None, None, "invalid", "empty src")
        else:
            target = _resolve(href, base, site_hosts)
        nofollow = page_nofollow or (rel is not None and not NOFOLLOW_RELS.isdisjoint(rel.lower().split()))
        link_of[el] = len(rows)
        rows.append({"position": len(rows), "element": tag, "rel": rel, "href": href,
                     "url": target.url, "fragment": target.fragment,
                     "target_type": target.target_type, "invalid_reason": target.invalid_reason,
                     "nofollow": nofollow, "anchor_text": anchor, "alt": alt,
                     "block_index": None, "block_role": None})
    return rows, link_of, a_text


def _resolve(href: str, base: str, site_hosts: frozenset[str]) -> Resolved:
    """urls.resolve, remembered across pages: resolving is most of the cost of a page, and
    menus and footers repeat the same hrefs on every page. An absolute href does not depend on
    the base, a root-relative one only on the base's origin, so they share entries."""
    if _ABSOLUTE.match(href):
        context = ""
    elif href[:1] == "/" and href[:2] != "//" and "://" in base:
        scheme, rest = base.split("://", 1)
        context = f"{scheme}://{rest.split('/', 1)[0]}"
    else:
        context = base
    key = (href, context, site_hosts)
    target = _resolved.get(key)
    if target is None:
        if len(_resolved) >= RESOLVE_CACHE_SIZE:
            _resolved.clear()
        target = _resolved[key] = _resolve_safely(href, base, site_hosts)
    return target


def _resolve_safely(href: str, base: str, site_hosts: frozenset[str]) -> Resolved:
    # urls.resolve raises ValueError on some bracketed hosts ("http://[::1", "https://[a]"):
    # one bad href must not cost the page.
    try:
        return resolve(href, base, site_hosts)
    except ValueError as exc:
        return Resolved(None, None, "invalid", f"invalid URL: {exc}")


def _fallback_text(a) -> str:
    for img in a.iter("img"):
        alt = collapse(img.get("alt") or "")
        if alt:
            return alt
    return collapse(a.get("aria-label") or "") or collapse(a.get("title") or "")

