"""Whether a page repeats the one that linked to it (same links elsewhere, same words): how an
endless pattern with no new content (an empty calendar) is told from pagination and real pages."""

from __future__ import annotations

import hashlib
import re
import zlib
from functools import lru_cache

from crawler.urls import url_shape

SKETCH_WORDS = 64          # words kept to compare a page's text with the one before it
SAME_TEXT = 0.8           # estimated Jaccard of the word sets above which two texts are the same
_LETTERS = re.compile(r"[^\W\d_]+")
# ASCII bytes -> lower-case letters, everything else a space: the same words as _LETTERS finds.
_ASCII_LETTERS = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 else 32 for c in range(256))
# Menus and footers link the same URLs from every page: their shapes are worked out once.
_shape = lru_cache(maxsize=50_000)(url_shape)


def text_sketch(texts: list[str]) -> list[int]:
    """Bottom-k sketch of the page's distinct words, numbers left out (a month's number changes,
    an empty calendar's text does not)."""
    # No word spans two blocks, and whitespace is never part of a word: the ASCII blocks' words
    # come all at once through a bytes table; the other blocks' tokens are split, and the
    # non-ASCII ones read one by one.
    words = set(" ".join(t for t in texts if t.isascii()).encode().translate(_ASCII_LETTERS).split())
    tokens = set(" ".join(t for t in texts if not t.isascii()).split())
    odd = [t for t in tokens if not t.isascii()]
    if odd:
        tokens.difference_update(odd)
    words.update(" ".join(tokens).encode().translate(_ASCII_LETTERS).split())
    for token in odd:
        token = token.lower()
        if token.isalpha():
            words.add(token.encode())
        else:
            words.update(w.encode() for w in _LETTERS.findall(token))
    return sorted(map(zlib.crc32, words))[:SKETCH_WORDS]   # crc32: stable across workers


def sketch_similarity(a: list[int], b: list[int]) -> float:
    """Jaccard estimate of two bottom-k sketches (1.0 for two empty texts)."""
    if not a and not b:
        return 1.0
    union = sorted(set(a) | set(b))[:SKETCH_WORDS]
    both = set(a) & set(b)
    return sum(h in both for h in union) / len(union)


def repeat_state(links: list[dict], texts: list[str], meta: dict) -> dict:
    """How many pages of one URL pattern in a row, this one included, have the same links to
    other patterns and the same words as the one before: an endless calendar's empty months
    do; pagination, a multi-page article and real content do not.
    Returns {"links_key", "sketch", "repeats"} for the page's meta."""
    shape = meta.get("shape")
    shapes = [(l["url"], _shape(l["url"])) for l in links if l.get("url")]
    if meta.get("parent_links") is None and all(s != shape for _, s in shapes):
        # no parent of this pattern to compare with, no child of it to compare with this page
        return {"links_key": None, "sketch": None, "repeats": 1}
    others = sorted({u for u, s in shapes if s != shape})
    key = hashlib.blake2b("\n".join(others).encode(), digest_size=8).hexdigest()
    sketch = text_sketch(texts)
    same = (meta.get("parent_links") == key
            and sketch_similarity(sketch, meta.get("parent_sketch") or []) >= SAME_TEXT)
    repeats = meta.get("parent_repeats", 0) + 1 if same else 1
    return {"links_key": key, "sketch": sketch, "repeats": repeats}
