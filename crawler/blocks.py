"""The page's text cut into blocks: one walk of the tree that yields each paragraph-level run of
text with the element that holds it, the landmarks around it, its link share, and its links."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from crawler.markup import BLOCK, CELLS, INLINE, LAYOUT_CHILD, NO_SPACE, SKIP_TEXT, is_hidden
from crawler.text import clean

LINK_DENSE_SHARE = 0.6


@dataclass(slots=True)
class RawBlock:
    owner: object          # the element whose text it is (a <p>, <li>, <div>, a teaser card)
    regions: tuple         # the landmark elements around it, outermost first
    teaser_url: str | None  # set when the block is a teaser card
    text: str
    link_share: float      # share of its characters inside links
    dense: bool            # mostly link text: two links or more over 60% of it, or one link and <= 3 other characters


def split(root, marks: dict, teasers: dict, link_of: dict) -> tuple[list[RawBlock], dict]:
    """Walk the tree once: the raw blocks in page order, and link row index -> block index.

    A teaser card is one block; elsewhere every paragraph-level element (and a table cell of a
    layout row) opens a block of its own. Hidden elements and never-rendered ones (scripts,
    <template>) give no text; the links inside them are kept, without a block."""
    blocks, link_block = [], {}
    pieces, link_pieces, buf_links, pending = [], [], [], []
    frames = []
    nlinks = link_depth = 0
    regions, teaser_url = (), None
    owner, layout_row = root, False

    def flush():
        nonlocal nlinks
        if pieces:
            text = clean("".join(pieces))
            if text:
                share, dense = 0.0, False
                if nlinks:
                    chars = len(text) - text.count(" ")
                    linked = len("".join("".join(link_pieces).split()))
                    share = min(1.0, linked / chars) if chars else 1.0
                    dense = ((nlinks >= 2 and linked > LINK_DENSE_SHARE * chars)
                             or (nlinks == 1 and chars - linked <= 3))
                for index in buf_links:
                    link_block[index] = len(blocks)
                blocks.append(RawBlock(owner, regions, teaser_url, text, share, dense))
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
            if tag in SKIP_TEXT or is_hidden(el):
                walker.skip_subtree()    # its end event still comes
                frames.append(False)
                continue
            frame = None
            url = teasers.get(el) if teasers else None
            if url is not None and teaser_url is None and not any(marks[r][0] == "nav" for r in regions):
                # A teaser inside a nav stays nav: a "More" link in a menu is navigation.
                if pieces or link_pieces or buf_links or nlinks:
                    flush()
                frame = (True, (regions, owner, teaser_url, layout_row))
                owner, teaser_url = el, url
            elif teaser_url is None:
                if el in marks:
                    if pieces or link_pieces or buf_links or nlinks:
                        flush()
                    frame = (True, (regions, owner, teaser_url, layout_row))
                    owner, regions = el, regions + (el,)
                elif tag in BLOCK or (layout_row and tag in CELLS):
                    if pieces or link_pieces or buf_links or nlinks:
                        flush()
                    frame = (True, (regions, owner, teaser_url, layout_row))
                    owner = el
                elif pieces and tag not in INLINE:
                    pieces.append(" ")
            elif pieces and tag not in INLINE:
                pieces.append(" ")
            if tag == "tr":
                frame = frame or (False, (regions, owner, teaser_url, layout_row))
                layout_row = _is_layout_row(el)
            text = el.text
            if text:
                if pending or link_depth:
                    add(text)
                else:
                    pieces.append(text)
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
            if frame:
                if frame[0] and (pieces or link_pieces or buf_links or nlinks):
                    flush()
                regions, owner, teaser_url, layout_row = frame[1]
            if pieces and tag not in NO_SPACE and tag.__class__ is str:
                pieces.append(" ")
            text = el.tail
            if text:
                if pending or link_depth:
                    add(text)
                else:
                    pieces.append(text)
    flush()
    return blocks, link_block


def _is_layout_row(tr) -> bool:
    # A data row reads as one line ("Dose 0.5 mg/kg"); a row whose cells hold paragraphs or
    # line breaks is page layout, and each cell is a block of its own.
    return any(child.tag in LAYOUT_CHILD for cell in tr for child in cell)


def path(el, cache: dict) -> str:
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
    return ">".join(parts or ("html",))
