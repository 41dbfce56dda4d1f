"""Teasers: short excerpts that advertise another page ("…Read more" cards, listing cards with a
linked heading). Each is one block of role teaser whose link_url names the page it sells."""

from __future__ import annotations

from crawler.markup import BLOCK, INLINE, SKIP_TEXT, SUBHEADINGS
from crawler.text import WORD, count_words, is_read_more

TEASER_MAX_WORDS = 80       # a teaser is an excerpt, not an article
TEASER_MIN_EXCERPT = 4      # words besides link text; "<li><a>Post</a> <a>More</a></li>" is a menu
TEASER_MAX_NODES = 400      # bounds the cost of measuring a candidate container
TEASER_MAX_CLIMB = 8


def find_teasers(root, links, link_of, a_text, page_url, marks) -> dict:
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
        if (is_read_more(text) or _ends_with_ellipsis(_text_before(el))) \
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

    def measure(el, own, inner=None, counts=(0, 0, 0, 0)):
        """(words of the container outside links, its counts), or None when it is no single
        short excerpt. `inner`: the child measured one level down, with its counts (total,
        linked, headings, nodes): only the rest of el is read again."""
        total, linked, headings, nodes = counts
        if inner is not None and inner.tail:
            total += count_words(inner.tail)   # no longer the container's own tail
        for node in (el.iter() if inner is None else _others(el, inner)):
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
        return total - linked, (total, linked, headings, nodes)

    def climb(start, own, tags=None):
        el, best = start.getparent(), None
        while el is not None and el.tag in INLINE:
            el = el.getparent()
        inner, counts = None, (0, 0, 0, 0)
        for _ in range(TEASER_MAX_CLIMB):
            if el is None or is_stop(el):
                break
            measured = measure(el, own, inner, counts)
            if measured is None:
                break
            excerpt, counts = measured
            if excerpt >= TEASER_MIN_EXCERPT and (tags is None or el.tag in tags):
                best = el
            inner, el = el, el.getparent()
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
        start = heading
        if a is None:
            # A card whose link wraps the heading and the excerpt ("<a><h4>..</h4><p>..</p></a>"):
            # its title words are the heading's, the rest is the excerpt.
            a = _wrapping_link(heading, link_of)
            if a is not None:
                words[a] = count_words("".join(heading.itertext()))
                start = a
        url = links[link_of[a]]["url"] if a is not None else None
        if url is None or url == page_url:
            continue
        card = climb(start, a, ("article", "div", "li", "section"))
        if card is not None:
            cards.setdefault(card, url)
    if len(cards) >= 2:
        for card, url in cards.items():
            containers.setdefault(card, url)
    return containers


def _others(el, inner):
    """el, then every node under it but those of its child inner (already measured)."""
    yield el
    for child in el:
        if child is not inner:
            yield from child.iter()


def _wrapping_link(heading, link_of):
    """The <a> around a heading, two levels up at most."""
    el = heading.getparent()
    for _ in range(2):
        if el is None:
            return None
        if el.tag == "a":
            return el if el in link_of else None
        el = el.getparent()
    return None


def _ends_its_paragraph(a) -> bool:
    """No word follows the link in its paragraph. A teaser ends with its link; "resources that
    help them <a>learn more about X</a> can offer clarity" is prose."""
    node = a
    while node is not None:
        if node.tail and WORD.search(node.tail):
            return False
        for seen, sib in enumerate(node.itersiblings()):
            if seen == 20:
                return True  # twenty wordless inline siblings: nothing more is coming
            tag = sib.tag
            if tag.__class__ is str:
                if tag in BLOCK:
                    return True
                if tag not in SKIP_TEXT and any(WORD.search(t) for t in sib.itertext()):
                    return False
            if sib.tail and WORD.search(sib.tail):
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
