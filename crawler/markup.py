"""HTML as the extractor reads it: the tag vocabulary (what renders, what is inline, what opens a
block), the parse, an element's visible text, and whether an element is hidden from readers."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from lxml import etree
from selectolax.lexbor import LexborHTMLParser

from crawler.text import clean

# Never rendered as text, or only as a fallback nobody sees; links inside still count. MathML and
# ruby readings (<rt>, <rp>) are not words of the sentence they annotate.
SKIP_TEXT = frozenset({"head", "title", "script", "style", "noscript", "template", "svg", "iframe",
                       "frame", "object", "embed", "canvas", "video", "audio", "select", "datalist",
                       "math", "rt", "rp", "button", "textarea"})
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

# Classes that frameworks and CMS themes use to hide an element from sighted readers (Bootstrap,
# Tailwind, WordPress, Foundation, Drupal): whole class names, not words inside them.
HIDDEN_CLASSES = frozenset({"hidden", "hide", "d-none", "is-hidden", "visually-hidden", "sr-only",
                            "screen-reader-text", "screen-reader-only", "visuallyhidden",
                            "element-invisible", "show-for-sr", "u-hidden", "invisible"})
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)\s*(?:!important\s*)?(?:;|$)",
                           re.IGNORECASE)

# libxml2 drops everything after </html>, where browsers still show it (and where injected
# links sometimes sit); without the end tags it all stays in <body>.
_END_TAGS = re.compile(r"</(?:html|body)\s*>", re.IGNORECASE)
_local = threading.local()


def parse(html: str):
    """The page's element tree (lxml) as a browser builds it, or None when there is nothing to parse.

    Lexbor (selectolax), an HTML5-compliant parser, builds the tree and writes it back out
    well nested; lxml then reads that. libxml2's own HTML parser nests an unclosed <div> in a
    page-top <header>, or a <header> inside an open <p>, differently from a browser: the
    header would swallow the article."""
    if not html or html.isspace():
        return None
    try:
        html = LexborHTMLParser(html).html or ""
    except (ValueError, RuntimeError):   # selectolax refuses some input: libxml2 still tries
        html = _END_TAGS.sub("", html)
    # Bytes with an explicit encoding: lxml refuses str input that carries an XML encoding
    # declaration, and libxml2 turns NUL and control characters into U+FFFD instead of failing.
    try:
        return etree.fromstring(html.encode("utf-8", "replace"), _parser())
    except (etree.LxmlError, ValueError):
        return None


def _parser():
    # An lxml parser must not be shared between threads.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.HTMLParser(encoding="utf-8", remove_comments=True,
                                                  remove_pis=True, no_network=True, huge_tree=True)
    return parser


def is_hidden(el) -> bool:
    """Whether the element is hidden from readers by its own markup: the hidden attribute, an
    inline display:none or visibility:hidden, or a framework's hiding class."""
    if el.get("hidden") is not None:
        return True
    style = el.get("style")
    if style and _HIDDEN_STYLE.search(style):
        return True
    classes = el.get("class")
    return bool(classes) and _hidden_class(classes)


@lru_cache(maxsize=4096)
def _hidden_class(classes: str) -> bool:
    return not HIDDEN_CLASSES.isdisjoint(classes.lower().split())


def inner_text(el) -> str:
    """Visible text of an element, cleaned; block-level children are set apart by a space."""
    if not len(el):
        return clean(el.text or "")
    parts = []
    walker = etree.iterwalk(el, events=("start", "end"))
    for event, node in walker:
        tag = node.tag
        if tag.__class__ is not str:
            if event == "end" and node.tail:
                parts.append(node.tail)
            continue
        if event == "start":
            if node is not el and (tag in SKIP_TEXT or is_hidden(node)):
                walker.skip_subtree()   # its end event still comes, with the tail
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
    return clean("".join(parts))
