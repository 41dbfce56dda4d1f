"""Structural extraction of one HTML page with lxml: head facts (title, meta, canonical, lang),
headings, anchors, every link, and the visible text split into role-labelled blocks."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from crawler.urls import Resolved, resolve

ROLES = ("main", "nav", "header", "footer", "aside", "teaser", "other")  # of a block

# Never rendered as text, or only as a fallback nobody sees; links inside still count.
SKIP_TEXT = frozenset({"head", "title", "script", "style", "noscript", "template", "svg", "iframe",
                       "frame", "object", "embed", "canvas", "video", "audio", "select", "datalist"})
# Elements that render inline: no space is inserted around their text ("<b>Ke</b>tamine").
INLINE = frozenset({"a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "del",
                    "dfn", "em", "font", "i", "ins", "kbd", "label", "mark", "nobr", "q", "rp", "rt",
                    "ruby", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time",
                    "tt", "u", "var", "wbr"})
NO_SPACE = INLINE | SKIP_TEXT
# Paragraph-level elements and containers: text on either side of one is a different block.
BLOCK = frozenset({"address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
                   "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
                   "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr",
                   "html", "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section",
                   "summary", "table", "tbody", "tfoot", "thead", "tr", "ul"})
CELLS = frozenset({"td", "th"})
LAYOUT_CHILD = BLOCK | {"br", "table"}
LIST_TAGS = frozenset({"li", "ul", "ol", "dl", "dt", "dd", "menu"})
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
SUBHEADINGS = HEADINGS[1:]

TAG_ROLE = {"nav": "nav", "aside": "aside", "header": "header", "footer": "footer",
            "main": "main", "article": "article"}
ARIA_ROLE = {"navigation": "nav", "banner": "header", "contentinfo": "footer",
             "complementary": "aside", "main": "main"}
# Class/id hints are read on layout containers only: on <li class="menu-item"> or
# <body class="single-post"> they describe something else.
HINT_TAGS = frozenset({"div", "section", "ul", "ol", "dl", "table", "td", "center"})
# Whole tokens of class/id words (split on -, _, digits and camelCase), so "navy" is not nav
# and "headerless" is not header. The first role in this order wins: "main-nav" is nav,
# "footer-widgets" is footer, "related-posts" is aside.
HINT_TOKENS = (
    ("nav", {"nav", "navbar", "navigation", "navi", "menu", "menubar", "mainmenu", "mainnav",
             "topnav", "subnav", "sitenav", "breadcrumb", "breadcrumbs", "pagination"}),
    ("footer", {"footer", "colophon", "sitefooter", "copyright"}),
    ("header", {"header", "masthead", "banner", "topbar", "siteheader"}),
    ("aside", {"sidebar", "widget", "widgets", "aside", "related", "secondary"}),
    ("mainhint", {"content", "main", "article", "post", "entry", "maincontent", "primary", "story"}),
)
REGION_TOKENS = frozenset({"content", "main", "maincontent", "primary"})
# A main hint next to one of these names a detail of a post ("post-meta", "entry-title"), not
# the region that holds it.
NOT_MAIN_TOKENS = frozenset({"meta", "date", "author", "byline", "tag", "tags", "category",
                             "categories", "thumbnail", "thumb", "image", "img", "title", "share",
                             "sharing", "social", "comment", "comments", "count", "link", "links"})
_CAMEL = re.compile(r"([a-z])([A-Z])")
_TOKEN = re.compile(r"[a-z]+")

LINK_TAGS = ("a", "area", "link", "img", "iframe", "frame")
LINK_RELS = frozenset({"canonical", "alternate", "prev", "next", "amphtml"})
NOFOLLOW_RELS = frozenset({"nofollow", "ugc", "sponsored"})

_WORD = re.compile(r"\w[\w'’-]*")
_READ_MORE_PHRASES = (
    r"read\s+more|continue\s+reading|keep\s+reading|learn\s+more|read\s+(?:the\s+)?full\s+"
    r"(?:story|article|post)|view\s+(?:the\s+)?post|weiterlesen|mehr\s+lesen|lire\s+la\s+suite|"
    r"en\s+savoir\s+plus|leer\s+m[aá]s|seguir\s+leyendo|leggi\s+(?:tutto|di\s+pi[uù])|"
    r"continua\s+a\s+leggere|lees\s+meer|czytaj\s+dalej|(?:leia|ler|saiba)\s+mais|läs\s+mer"
)
# "Read more", "Continue reading <post title>", "[more]", "»", "Read More…": a phrase may be
# followed by the post's name, a bare "more" may not ("More than 50 clinics").
_READ_MORE = re.compile(
    rf"[\W_]*(?:(?:{_READ_MORE_PHRASES})(?:\s.{{0,80}})?|more)[\W_]*|[\W_]*[»→›➔➜⟶][\W_]*",
    re.IGNORECASE | re.DOTALL)
TEASER_MAX_WORDS = 80       # a teaser is an excerpt, not an article
TEASER_MIN_EXCERPT = 4      # words besides link text; "<li><a>Post</a> <a>More</a></li>" is a menu
TEASER_MAX_NODES = 400      # bounds the cost of measuring a candidate container
TEASER_MAX_CLIMB = 8
LINK_DENSE_SHARE = 0.6
# An <article> or a class-hinted region must hold this share of the text outside any landmark
# to count as the page's main region: a lone card or a "content" div of five words does not.
WEAK_MAIN_MIN_SHARE = 0.25
REGION_RANK = {None: 0, "mainhint": 1, "article": 2, "main": 3}

RESOLVE_CACHE_SIZE = 50_000
_resolved: dict = {}
_ABSOLUTE = re.compile(r"\s*https?://", re.IGNORECASE)
_END_TAGS = re.compile(r"</(?:html|body)\s*>", re.IGNORECASE)
_local = threading.local()


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
    root = _parse(html)
    if root is None:
        return Extracted(None, 0, None, None, None, None, [], [], [], 0, 0, [], [])
    site_hosts = frozenset(site_hosts)  # a set would do for urls.resolve but not as a cache key
    page_url = _resolve_safely(url, url, site_hosts).url

    titles = [t for t in root.iter("title") if next(t.iterancestors("svg"), None) is None]
    title = _inner_text(titles[0]) if titles else None
    description, robots = None, []
    for meta in root.iter("meta"):
        content = meta.get("content")
        if content is None:
            continue
        name = (meta.get("name") or "").strip().lower()
        if name == "description" and description is None:
            description = _collapse(content)
        elif name in ("robots", "googlebot"):
            robots.append(_collapse(content).lower())
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
        text = _inner_text(heading)
        headings.append(f"{heading.tag} {text}".rstrip())
        if heading.tag == "h1":
            h1.append(text)
    anchors, roles, classed = _scan(root)
    marks = _landmarks(root, roles, classed)
    teasers = _teasers(root, links, link_of, a_text, page_url, marks)
    raw, link_block = _split(root, marks, teasers, link_of)
    blocks = _label(raw)
    for index, block in link_block.items():
        links[index]["block_index"] = block
        links[index]["block_role"] = blocks[block]["role"]
    return Extracted(
        title=title, title_count=len(titles), meta_description=description, meta_robots=robots,
        canonical=canonical, lang=lang, h1=h1, headings=headings, anchors=anchors,
        word_count=sum(b["word_count"] for b in blocks),
        main_words=sum(b["word_count"] for b in blocks if b["role"] == "main"),
        blocks=blocks, links=links)


def text_hash(text: str) -> int:
    """63-bit hash of lower-cased, whitespace-collapsed text, the same in every process."""
    return _hash(_collapse(text))


def _hash(collapsed: str) -> int:
    digest = hashlib.blake2b(collapsed.lower().encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def count_words(text: str) -> int:
    """Word tokens (\\w based, so any script counts; a CJK run is one word)."""
    return len(_WORD.findall(text))


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _inner_text(el) -> str:
    """Visible text of an element, collapsed; block-level children are set apart by a space."""
    if not len(el):
        return _collapse(el.text or "")
    parts = []
    walker = etree.iterwalk(el, events=("start", "end"))
    for event, node in walker:
        tag = node.tag
        if tag.__class__ is not str:
            if event == "end" and node.tail:
                parts.append(node.tail)
            continue
        if event == "start":
            if tag in SKIP_TEXT and node is not el:
                walker.skip_subtree()
                continue
            if tag not in INLINE:
                parts.append(" ")
            if node.text:
                parts.append(node.text)
        else:
            if tag not in NO_SPACE:
                parts.append(" ")
            if node is not el and node.tail:
                parts.append(node.tail)
    return _collapse("".join(parts))


def _parse(html: str):
    # Bytes with an explicit encoding: lxml refuses str input that carries an XML encoding
    # declaration, and libxml2 turns NUL and control characters into U+FFFD instead of failing.
    if not html or html.isspace():
        return None
    # libxml2 drops everything after </html>, where browsers still show it (and where injected
    # links sometimes sit); without the end tags it all stays in <body>.
    data = _END_TAGS.sub("", html).encode("utf-8", "replace")
    try:
        return etree.fromstring(data, _parser())
    except (etree.LxmlError, ValueError):
        return None


def _parser():
    # An lxml parser must not be shared between threads.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.HTMLParser(encoding="utf-8", remove_comments=True,
                                                  remove_pis=True, no_network=True, huge_tree=True)
    return parser


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
                anchor = a_text[el] = _inner_text(el)
                anchor = anchor or _fallback_text(el)
            else:
                anchor = _collapse(el.get("alt") or "") or _collapse(el.get("title") or "")
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
            anchor = _collapse(alt) if alt is not None else None
        else:
            href = el.get("src")
            if href is None:
                continue
            anchor = _collapse(el.get("title") or "") or None
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
        alt = _collapse(img.get("alt") or "")
        if alt:
            return alt
    return _collapse(a.get("aria-label") or "") or _collapse(a.get("title") or "")


@lru_cache(maxsize=4096)
def _hint(words: str) -> tuple[str | None, bool]:
    """The role a class/id string suggests, and whether it names the page's content region
    ("content", "main") rather than an item that may also sit in a widget ("post", "entry")."""
    tokens = set(_TOKEN.findall(_CAMEL.sub(r"\1 \2", words).lower()))
    for role, names in HINT_TOKENS:
        if tokens & names and (role != "mainhint" or not tokens & NOT_MAIN_TOKENS):
            return role, bool(tokens & REGION_TOKENS)
    return None, False


def _landmarks(root, roles, classed) -> dict:
    """element -> (role, demotable): the elements that open a region. Roles: nav, header, footer,
    aside, main, mainhint (a class-hinted main). Demotable header/footer are part of main inside
    article/main."""
    marks = {el: (TAG_ROLE[el.tag], el.tag in ("header", "footer"))
             for el in root.iter(*TAG_ROLE)}
    for el in roles:
        tokens = el.get("role").lower().split()
        role = next((ARIA_ROLE[t] for t in tokens if t in ARIA_ROLE), None)
        if role:
            marks[el] = (role, False)
    hinted, seeds = {}, []
    for el in classed:
        if el not in marks:
            role, region = _hint(f"{el.get('class') or ''} {el.get('id') or ''}")
            if role:
                hinted[el] = role
            if role == "mainhint" and region:
                seeds.append(el)
    # A hinted landmark must not swallow the page's content: "content-sidebar-wrap" or a
    # "page-header" that holds the h1 are wrappers, not sidebars or banners.
    core = set()
    seeds += [el for el, (role, _) in marks.items() if role in ("main", "article")]
    seeds += list(root.iter("h1"))
    for seed in seeds:
        for ancestor in seed.iterancestors():
            if ancestor in core:
                break
            core.add(ancestor)
    for el, role in hinted.items():
        if role == "mainhint":
            marks[el] = (role, False)
        elif el not in core:
            marks[el] = (role, role in ("header", "footer"))
    return marks


def _teasers(root, links, link_of, a_text, page_url, marks) -> dict:
    """container element -> URL it advertises, for every teaser on the page.

    A teaser is the largest short container (<= 80 words, one heading at most, no other
    read-more link) around a read-more link or an excerpt ending in an ellipsis, or, on a
    listing page (two cards or more), around a heading that links to another page."""
    triggers = {}
    for el, index in link_of.items():
        url = links[index]["url"]
        if el.tag != "a" or url is None or url == page_url:
            continue
        text = a_text[el]
        if ((len(text) <= 120 and _READ_MORE.fullmatch(text)) or _ends_with_ellipsis(_text_before(el))) \
                and _ends_its_paragraph(el):
            triggers[el] = url
    if not triggers and not any(True for _ in root.iter(*SUBHEADINGS)):
        return {}
    words = {}

    def link_words(a):
        if a not in words:
            words[a] = count_words(a_text.get(a, ""))
        return words[a]

    def is_stop(el):
        # Teasers never swallow a landmark or the page's main region; an <article> card may be one.
        if el.tag in ("html", "body"):
            return True
        mark = marks.get(el)
        if mark is None or mark[0] in ("article", "mainhint"):
            return False
        if mark[1]:
            return not any(marks.get(a, ("",))[0] in ("main", "article") for a in el.iterancestors())
        return True

    def measure(el, own):
        """Words of the container outside links, or None when it is no single short excerpt."""
        total = linked = headings = nodes = 0
        for node in el.iter():
            nodes += 1
            if nodes > TEASER_MAX_NODES:
                return None
            tag = node.tag
            if tag.__class__ is str:
                if tag == "h1":
                    return None
                if tag in SUBHEADINGS:
                    headings += 1
                    if headings > 1:
                        return None
                elif tag == "a":
                    if node is not own and node in triggers:
                        return None
                    linked += link_words(node)
                if node.text and tag not in SKIP_TEXT:
                    total += count_words(node.text)
            if node is not el and node.tail:
                total += count_words(node.tail)
            if total > TEASER_MAX_WORDS:
                return None
        return total - linked

    def climb(start, own, tags=None):
        el, best = start.getparent(), None
        while el is not None and el.tag in INLINE:
            el = el.getparent()
        for _ in range(TEASER_MAX_CLIMB):
            if el is None or is_stop(el):
                break
            excerpt = measure(el, own)
            if excerpt is None:
                break
            if excerpt >= TEASER_MIN_EXCERPT and (tags is None or el.tag in tags):
                best = el
            el = el.getparent()
        return best

    containers = {}
    for a, url in triggers.items():
        container = climb(a, a)
        if container is not None:
            containers.setdefault(container, url)
    cards = {}
    for heading in root.iter(*SUBHEADINGS):
        if any(ancestor in containers for ancestor in heading.iterancestors()):
            continue
        a = next((a for a in heading.iter("a") if a in link_of), None)
        url = links[link_of[a]]["url"] if a is not None else None
        if url is None or url == page_url:
            continue
        card = climb(heading, a, ("article", "div", "li", "section"))
        if card is not None:
            cards.setdefault(card, url)
    if len(cards) >= 2:
        for card, url in cards.items():
            containers.setdefault(card, url)
    return containers


def _ends_its_paragraph(a) -> bool:
    """No word follows the link in its paragraph. A teaser ends with its link; "resources that
    help them <a>learn more about X</a> can offer clarity" is prose."""
    node = a
    while node is not None:
        if node.tail and _WORD.search(node.tail):
            return False
        for seen, sib in enumerate(node.itersiblings()):
            if seen == 20:
                return True  # twenty wordless inline siblings: nothing more is coming
            tag = sib.tag
            if tag.__class__ is str:
                if tag in BLOCK:
                    return True
                if tag not in SKIP_TEXT and any(_WORD.search(t) for t in sib.itertext()):
                    return False
            if sib.tail and _WORD.search(sib.tail):
                return False
        node = node.getparent()
        if node is None or node.tag not in INLINE:
            return True
    return True


def _text_before(a) -> str | None:
    """The text right before a link, within its parent (a few siblings back at most: this runs
    for every link, and a row of image links has no text to find)."""
    prev = a.getprevious()
    for _ in range(3):
        if prev is None:
            break
        if prev.tail and not prev.tail.isspace():
            return prev.tail
        text = _last_text(prev, [50])
        if text:
            return text
        prev = prev.getprevious()
    else:
        return None
    parent = a.getparent()
    return parent.text if parent is not None else None


def _last_text(el, budget: list) -> str | None:
    """The last visible text inside el, visiting at most budget[0] elements."""
    budget[0] -= 1
    if budget[0] < 0 or el.tag.__class__ is not str or el.tag in SKIP_TEXT:
        return None
    for child in reversed(el):
        if child.tail and not child.tail.isspace():
            return child.tail
        text = _last_text(child, budget)
        if text:
            return text
        if budget[0] < 0:
            return None
    return el.text if el.text and not el.text.isspace() else None


def _ends_with_ellipsis(text: str | None) -> bool:
    if not text:
        return False
    text = text.rstrip(" \t\r\n\xa0])")
    return text.endswith("...") or text.endswith("…")


def _is_layout_row(tr) -> bool:
    # A data row reads as one line ("Dose 0.5 mg/kg"); a row whose cells hold paragraphs or
    # line breaks is page layout, and each cell is a block of its own.
    return any(child.tag in LAYOUT_CHILD for cell in tr for child in cell)


def _split(root, marks, teasers, link_of):
    """Walk the tree once: raw blocks (owner, ctx, group, text, link_url, is_list, dense) and
    link row index -> block index.

    ctx is the region (nav, header, footer, aside, main, article, mainhint or None); group is
    'landmark' or 'teaser' when the whole subtree is one block. Teasers are carved out of main, unlabelled
    areas and also out of aside/header/footer, since link networks plant them in sidebars and
    footers; a teaser inside a nav stays nav, as a "More" link in a menu is navigation. A nav
    inside a header or footer is a block of its own: its links are navigation."""
    blocks, link_block = [], {}
    pieces, link_pieces, buf_links, pending = [], [], [], []
    frames = []
    nlinks = link_depth = 0
    ctx = group = teaser_url = None
    owner, sem_main, layout_row = root, False, False

    def flush():
        nonlocal nlinks
        if pieces:
            text = " ".join("".join(pieces).split())
            if text:
                dense = False
                if nlinks:
                    chars = len(text) - text.count(" ")
                    linked = len("".join("".join(link_pieces).split()))
                    dense = ((nlinks >= 2 and linked > LINK_DENSE_SHARE * chars)
                             or (nlinks == 1 and chars - linked <= 3))
                for index in buf_links:
                    link_block[index] = len(blocks)
                blocks.append((owner, ctx, group, text, teaser_url, owner.tag in LIST_TAGS, dense))
            pieces.clear()
        if link_pieces:
            link_pieces.clear()
        if buf_links:
            buf_links.clear()
        nlinks = 0

    def add(text):
        nonlocal nlinks
        pieces.append(text)
        if link_depth:
            link_pieces.append(text)
        if pending and not text.isspace():
            # A link belongs to the block that receives its first visible text.
            buf_links.extend(pending)
            nlinks += len(pending)
            pending.clear()
        elif link_depth and not nlinks and not text.isspace():
            nlinks = 1  # more text of a link that spans blocks ("<a><div>..</div><p>..</p></a>")

    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag
        if event == "start":
            if tag.__class__ is not str:
                frames.append(None)
                continue
            index = link_of.get(el)
            if index is not None:
                if tag == "a":
                    pending.append(index)
                    link_depth += 1
                else:
                    buf_links.append(index)  # kept only if the block gets text
            if tag in SKIP_TEXT:
                walker.skip_subtree()
                frames.append(None)
                continue
            frame = None
            url = teasers.get(el) if teasers else None
            if url is not None and group != "teaser" and ctx != "nav":
                flush()
                frame = (True, (ctx, group, owner, sem_main, teaser_url, layout_row))
                group, owner, teaser_url = "teaser", el, url
            else:
                mark = marks.get(el) if group is None else None
                if group == "landmark" and ctx in ("header", "footer") and tag == "nav":
                    # A menu inside the page header or footer is still navigation: its own block.
                    mark = marks.get(el)
                if mark is not None and not (mark[1] and sem_main):
                    flush()
                    frame = (True, (ctx, group, owner, sem_main, teaser_url, layout_row))
                    owner, role = el, mark[0]
                    if role in ("main", "article", "mainhint"):
                        # The strongest evidence of main content seen so far holds.
                        if REGION_RANK[role] > REGION_RANK[ctx]:
                            ctx = role
                        sem_main = sem_main or role != "mainhint"
                    else:
                        ctx, group = role, "landmark"
                elif group is None and (tag in BLOCK or (layout_row and tag in CELLS)):
                    flush()
                    frame = (True, (ctx, group, owner, sem_main, teaser_url, layout_row))
                    owner = el
                elif pieces and tag not in INLINE:
                    pieces.append(" ")
            if tag == "tr":
                frame = frame or (False, (ctx, group, owner, sem_main, teaser_url, layout_row))
                layout_row = _is_layout_row(el)
            if el.text:
                add(el.text)
            frames.append(frame)
        else:
            frame = frames.pop()
            if tag == "a" and el in link_of:
                link_depth -= 1
                link_pieces.append(" ")
                index = link_of[el]
                if index in pending:  # no text: held by whatever block it sits in
                    pending.remove(index)
                    buf_links.append(index)
            if frame is not None:
                if frame[0]:
                    flush()
                ctx, group, owner, sem_main, teaser_url, layout_row = frame[1]
            if pieces and tag not in NO_SPACE and tag.__class__ is str:
                pieces.append(" ")
            if el.tail:
                add(el.tail)
    flush()
    return blocks, link_block


def _label(raw) -> list[dict]:
    """Final roles and block rows. Text outside landmarks is main unless the page marks its main
    region: <main> or role=main always does, an <article> or a class hint only when it holds a
    real share of that text."""
    words = [count_words(b[3]) for b in raw]
    by_ctx = dict.fromkeys(REGION_RANK, 0)
    for (_, ctx, group, *_), n in zip(raw, words):
        if group is None:
            by_ctx[ctx] += n
    weak = by_ctx["article"] + by_ctx["mainhint"]
    has_main = by_ctx["main"] > 0 or (weak > 0 and weak >= WEAK_MAIN_MIN_SHARE * (weak + by_ctx[None]))
    paths, rows = {}, []
    for (owner, ctx, group, text, link_url, is_list, dense), n in zip(raw, words):
        if group == "teaser":
            role = "teaser"
        elif group == "landmark":
            role = ctx
        elif ctx is not None and has_main:
            role = "other" if is_list and dense else "main"
        else:
            role = "other" if has_main or dense else "main"
        rows.append({"block_index": len(rows), "role": role, "path": ">".join(_path(owner, paths)),
                     "text": text, "word_count": n, "link_url": link_url if group == "teaser" else None,
                     "text_hash": _hash(text)})
    return rows


def _path(el, cache: dict) -> tuple[str, ...]:
    """Up to five levels of tag plus first class (or #id), e.g. body>div.sidebar>ul; each
    element's levels are cached so sibling blocks cost one lookup."""
    chain = []
    while el is not None and el not in cache:
        chain.append(el)
        el = el.getparent()
    parts = cache.get(el, ()) if el is not None else ()
    for el in reversed(chain):
        tag = el.tag
        if tag == "html":
            parts = ()
            cache[el] = parts
            continue
        classes = (el.get("class") or "").split()
        ident = (el.get("id") or "").split()
        own = f"{tag}.{classes[0]}" if classes else f"{tag}#{ident[0]}" if ident else tag
        parts = (own,) if tag == "body" else parts[-4:] + (own,)
        cache[el] = parts
    return parts or ("html",)
