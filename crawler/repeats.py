"""Whether a page repeats the one that linked to it (same links elsewhere, same words): how an
endless pattern with no new content (an empty calendar) is told from pagination and real pages."""

from __future__ import annotations

import hashlib
import re
import zlib

from crawler.urls import url_shape

SKETCH_WORDS = 64          # words kept to compare a page's text with the one before it
SAME_TEXT = 0.8           # estimated Jaccard of the word sets above which two texts are the same


def text_sketch(texts: list[str]) -> list[int]:
    """Bottom-k sketch of the page's distinct words, numbers left out (a month's number changes,
    an empty calendar's text does not)."""
    words = {w for t in texts for w in re.findall(r"[^\W\d_]+", t.lower())}
    return sorted(zlib.crc32(w.encode()) for w in words)[:SKETCH_WORDS]   # crc32: stable across workers


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
    shapes = [(l["url"], url_shape(l["url"])) for l in links if l.get("url")]
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
