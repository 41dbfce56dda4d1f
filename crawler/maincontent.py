"""Which blocks are the page's own text: landmarks (tags, ARIA roles, class/id words), the content
root (the element that holds most of the page's prose), and the role of every block."""

from __future__ import annotations

import re
from functools import lru_cache

from crawler.blocks import RawBlock, path
from crawler.markup import HEADINGS, LIST_TAGS
from crawler.text import count_words, hash_collapsed, is_dateline

ROLES = ("main", "nav", "header", "footer", "aside", "teaser", "comment", "other")  # of a block

TAG_ROLE = {"nav": "nav", "aside": "aside", "header": "header", "footer": "footer",
            "main": "main", "article": "article"}
ARIA_ROLE = {"navigation": "nav", "banner": "header", "contentinfo": "footer",
             "complementary": "aside", "main": "main", "dialog": "other", "alertdialog": "other"}
# Class/id hints are read on layout containers only: on <li class="menu-item"> or
# <body class="single-post"> they describe something else. Comments are also read on the
# <li> and <article> of each comment (WordPress' comment list).
HINT_TAGS = frozenset({"div", "section", "ul", "ol", "dl", "table", "td", "center", "article", "li",
                       "form", "p", "figure", "header", "footer", "aside", "nav"})
CONTAINER_HINT_TAGS = frozenset({"div", "section", "ul", "ol", "dl", "table", "td", "center"})
# Whole tokens of class/id words (split on -, _, digits and camelCase), so "navy" is not nav
# and "headerless" is not header. The first role in this order wins: "main-nav" is nav,
# "footer-widgets" is footer, "related-posts" is aside, "comment-meta" is comment.
COMMENT_TOKENS = {"comment", "comments", "commentlist", "respond", "disqus", "replies"}
HINT_TOKENS = (
    ("comment", COMMENT_TOKENS),
    ("nav", {"nav", "navbar", "navigation", "navi", "menu", "menubar", "mainmenu", "mainnav",
             "topnav", "subnav", "sitenav", "breadcrumb", "breadcrumbs", "pagination"}),
    ("footer", {"footer", "colophon", "sitefooter", "copyright"}),
    ("header", {"header", "masthead", "banner", "topbar", "siteheader"}),
    ("aside", {"sidebar", "widget", "widgets", "aside", "related", "secondary", "recommended",
               "newsletter", "promo", "advert", "advertisement", "sponsored", "outbrain", "taboola",
               "cookie", "cookies", "consent", "gdpr", "popup", "modal"}),
    # Post furniture around the prose: bylines, dates, tags, share bars, captions and credits.
    ("other", {"meta", "byline", "author", "dateline", "timestamp", "date", "posted", "postmeta",
               "tags", "tagged", "categories", "share", "sharing", "social", "sharedaddy", "caption",
               "credit", "credits", "subscribe", "signup"}),
    ("mainhint", {"content", "main", "article", "post", "entry", "maincontent", "primary", "story",
                  "body", "text"}),
)
REGION_TOKENS = frozenset({"content", "main", "maincontent", "primary"})
# A main hint next to one of these names a detail of a post ("post-meta", "entry-title"), not
# the region that holds it.
NOT_MAIN_TOKENS = frozenset({"meta", "date", "author", "byline", "tag", "tags", "category",
                             "categories", "thumbnail", "thumb", "image", "img", "title", "share",
                             "sharing", "social", "comment", "comments", "count", "link", "links",
                             "excerpt", "summary", "teaser", "card", "item", "list"})
_CAMEL = re.compile(r"([a-z])([A-Z])")
_TOKEN = re.compile(r"[a-z]+")
LANDMARK_ROLES = frozenset({"nav", "header", "footer", "aside", "comment", "other"})
MAIN_ROLES = frozenset({"main", "article", "mainhint"})
REGION_RANK = {None: 0, "mainhint": 1, "article": 2, "main": 3}

# An <article> or a class-hinted region must hold this share of the text outside any landmark
# to count as the page's main region: a lone card or a "content" div of five words does not.
WEAK_MAIN_MIN_SHARE = 0.25
PROSE_MIN_WORDS = 10        # a block of prose: ten words or more...
PROSE_MAX_LINK_SHARE = 0.3  # ...mostly outside links
ROOT_MIN_PROSE = 60         # less prose than this on a page: no content root, landmarks decide
ROOT_SHARE = 0.8            # the content root is the deepest element holding this share of prose
VOID_SHARE = 0.5            # a header, menu or widget holding this share of the prose...
RUN_SHARE = 0.5             # ...as paragraphs of one parent holding half of it is a misread wrapper
CAPTIONS = frozenset({"figcaption", "caption"})


@lru_cache(maxsize=4096)
def hint(words: str) -> tuple[str | None, bool]:
    """The role a class/id string suggests, and whether it names the page's content region
    ("content", "main") rather than an item that may also sit in a widget ("post", "entry")."""
    tokens = set(_TOKEN.findall(_CAMEL.sub(r"\1 \2", words).lower()))
    for role, names in HINT_TOKENS:
        if tokens & names and (role != "mainhint" or not tokens & NOT_MAIN_TOKENS):
            return role, bool(tokens & REGION_TOKENS)
    return None, False


def landmarks(root, roles, classed) -> dict:
    """element -> (role, demotable): the elements that open a region. Roles: nav, header, footer,
    aside, comment, other (post furniture), main, article, mainhint (a class-hinted main).
    Demotable header/footer are part of the content inside article/main."""
    marks = {el: (TAG_ROLE[el.tag], el.tag in ("header", "footer"))
             for el in root.iter(*TAG_ROLE)}
    for el in root.iter("dialog"):
        marks[el] = ("other", False)
    # An <article> inside another is, by the HTML standard, related content: a comment, a
    # related post's card. (One that holds most of the prose is made void again in label().)
    for el, (role, _) in list(marks.items()):
        if role == "article" and any(a.tag == "article" for a in el.iterancestors()):
            marks[el] = ("aside", False)
    for el in roles:
        tokens = el.get("role").lower().split()
        role = next((ARIA_ROLE[t] for t in tokens if t in ARIA_ROLE), None)
        if role:
            marks[el] = (role, False)
    hinted, seeds = {}, []
    for el in classed:
        role, region = hint(f"{el.get('class') or ''} {el.get('id') or ''}")
        # On any element, comment and furniture hints say what it is ("<li class=comment>",
        # "<p class=byline>"); the others only on layout containers.
        if role is None or (role not in ("comment", "other") and el.tag not in CONTAINER_HINT_TAGS):
            continue
        if el in marks and role not in ("comment", "other"):
            continue
        hinted[el] = role
        if role == "mainhint" and region:
            seeds.append(el)
    # A hinted landmark must not swallow the page's content: "content-sidebar-wrap" or a
    # "page-header" that holds the h1 are wrappers, not sidebars or banners.
    # A comment thread is only kept from holding the h1 or <main>: the <article> and "content"
    # of each comment are its own.
    # (An <article> is no seed: a rail of related posts is made of them.)
    top = _ancestors([el for el, (role, _) in marks.items() if role == "main"] + list(root.iter("h1")))
    core = _ancestors(seeds) | top
    for el, role in hinted.items():
        if role == "mainhint":
            marks[el] = (role, False)
        elif el not in top and (role == "comment" or el not in core):
            marks[el] = (role, role in ("header", "footer"))
    return marks


def _ancestors(elements) -> set:
    out = set()
    for seed in elements:
        for ancestor in seed.iterancestors():
            if ancestor in out:
                break
            out.add(ancestor)
    return out


def label(raw: list[RawBlock], marks: dict, link_block: dict) -> tuple[list[dict], dict]:
    """Block rows with their final roles, adjacent pieces of one landmark merged into one block,
    and link row index -> final block index."""
    words = [count_words(b.text) for b in raw]
    prose = [n if n >= PROSE_MIN_WORDS and b.link_share <= PROSE_MAX_LINK_SHARE and b.teaser_url is None
             else 0 for b, n in zip(raw, words)]
    void = _void_landmarks(raw, marks, prose)
    regions = [_region(b.regions, marks, void) for b in raw]
    eligible = [b.teaser_url is None and landmark is None for b, (landmark, _) in zip(raw, regions)]
    total = sum(p for p, ok in zip(prose, eligible) if ok)
    root = _content_root(raw, prose, eligible) if total >= ROOT_MIN_PROSE else None
    if root is None:
        main_roles = _landmark_labels(raw, words, regions)
    else:
        main_roles = []
        for b, ok in zip(raw, eligible):
            if not ok:
                main_roles.append(None)
            elif not _within(b.owner, root) or b.dense or b.owner.tag in CAPTIONS or is_dateline(b.text):
                main_roles.append("other")
            else:
                main_roles.append("main")
        _orphan_headings(raw, main_roles)
    rows, parts, paths, final, last = [], [], {}, {}, None
    for i, (b, (landmark, _), n) in enumerate(zip(raw, regions, words)):
        if b.teaser_url is not None:
            role = "teaser"
        elif landmark is not None:
            role = marks[landmark][0]
        else:
            role = main_roles[i]
        if b.teaser_url is None and landmark is not None and last is landmark:
            parts[-1].append(b.text)   # more text of the same landmark: one block, as before
            rows[-1]["word_count"] += n
        else:
            parts.append([b.text])
            rows.append({"block_index": len(rows), "role": role,
                         "path": path(landmark if landmark is not None else b.owner, paths),
                         "text": None, "word_count": n, "link_url": b.teaser_url, "text_hash": None})
        final[i] = len(rows) - 1
        last = landmark if b.teaser_url is None else None
    for row, texts in zip(rows, parts):   # joined and hashed once, however many pieces
        row["text"] = text = texts[0] if len(texts) == 1 else " ".join(texts)
        row["text_hash"] = hash_collapsed(text)
    return rows, {link: final[block] for link, block in link_block.items()}


def _orphan_headings(raw, roles) -> None:
    """A heading of the main text is 'other' when what follows it is not (a heading above the
    related posts, the comments or a share bar), or nothing follows."""
    for i in range(len(raw) - 1, -1, -1):
        if roles[i] == "main" and raw[i].owner.tag in HEADINGS:
            after = roles[i + 1] if i + 1 < len(raw) else None
            if after != "main":
                roles[i] = "other"


def _region(chain: tuple, marks: dict, void: set) -> tuple:
    """(innermost landmark element or None, strongest main evidence) of a block's regions."""
    landmark, ctx, semantic = None, None, False
    for el in chain:
        if el in void:
            continue
        role, demotable = marks[el]
        if role in MAIN_ROLES:
            if REGION_RANK[role] > REGION_RANK[ctx]:
                ctx = role
            semantic = semantic or role != "mainhint"
        elif not (demotable and semantic):
            landmark = el
    return landmark, ctx


def _void_landmarks(raw, marks, prose) -> set:
    """Landmarks that hold most of the page's prose as one run of paragraphs: a header or menu a
    misnested page made swallow the article, a widget class on the post body. A rail of excerpts
    (one short paragraph per card) holds its prose under many parents, and stays; comment
    threads are never void."""
    total = sum(prose)
    if total < ROOT_MIN_PROSE:
        return set()
    held: dict = {}
    for b, p in zip(raw, prose):
        if p:
            for el in b.regions:
                held[el] = held.get(el, 0) + p
    void = set()
    for el, p in held.items():
        if p < VOID_SHARE * total or marks[el][0] not in LANDMARK_ROLES or marks[el][0] == "comment":
            continue
        by_parent: dict = {}
        for b, q in zip(raw, prose):
            if q and el in b.regions:
                parent = b.owner.getparent()
                by_parent[parent] = by_parent.get(parent, 0) + q
        if max(by_parent.values()) >= RUN_SHARE * p:
            void.add(el)
    return void


def _content_root(raw, prose, eligible):
    """The deepest element that holds ROOT_SHARE of the prose outside landmarks and teasers."""
    held: dict = {}
    total = 0
    for b, p, ok in zip(raw, prose, eligible):
        if p and ok:
            total += p
            el = b.owner
            while el is not None:
                held[el] = held.get(el, 0) + p
                el = el.getparent()
    if not held:
        return None
    node = next(el for el in held if el.getparent() is None)
    while True:
        best = max((c for c in node if c in held), key=held.__getitem__, default=None)
        if best is None or held[best] < ROOT_SHARE * total:
            return node
        node = best


def _within(el, root) -> bool:
    while el is not None:
        if el is root:
            return True
        el = el.getparent()
    return False


def _landmark_labels(raw, words, regions) -> list:
    """Roles of the blocks outside landmarks on a page with little prose: main unless the page
    marks its main region (<main> or role=main always does, an <article> or a class hint only
    when it holds a real share of that text) and the block is outside it."""
    by_ctx = dict.fromkeys(REGION_RANK, 0)
    for b, (landmark, ctx), n in zip(raw, regions, words):
        if landmark is None and b.teaser_url is None:
            by_ctx[ctx] += n
    weak = by_ctx["article"] + by_ctx["mainhint"]
    has_main = by_ctx["main"] > 0 or (weak > 0 and weak >= WEAK_MAIN_MIN_SHARE * (weak + by_ctx[None]))
    out = []
    for b, (landmark, ctx) in zip(raw, regions):
        if landmark is not None or b.teaser_url is not None:
            out.append(None)
        elif is_dateline(b.text):
            out.append("other")
        elif ctx is not None and has_main:
            out.append("other" if b.owner.tag in LIST_TAGS and b.dense else "main")
        else:
            out.append("other" if has_main or b.dense else "main")
    return out
