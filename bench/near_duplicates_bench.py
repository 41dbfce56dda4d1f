"""Benchmark: near-duplicate detection (MinHash + LSH) of the on-page analysis on a large crawl.

    python bench/near_duplicates_bench.py [--pages 100000] [--words 500] [--db PATH]

Builds a DuckDB crawl of that many pages (main text from a Zipf-distributed vocabulary plus
shared stock sentences, as real sites have), with planted near-copies, exact copies and a
family of templated pages; then times the near-duplicate step alone and the whole on-page
analyse(), and prints how many planted pairs were found. The goal is minutes, not hours.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import onpage  # noqa: E402
from crawler import store  # noqa: E402
from crawler.config import Options  # noqa: E402

HOST = "http://clinic.test"
VOCAB = np.array([f"w{i}" for i in range(30_000)], dtype=object)
STOCK = [f"Call our clinic team today to book a first visit number {i} with a caring specialist"
         for i in range(300)]


def make_text(rng: np.random.Generator, words: int) -> str:
    ids = np.minimum(rng.zipf(1.2, words), len(VOCAB)) - 1
    parts = list(VOCAB[ids])
    for _ in range(words // 100):       # a few stock sentences: shared phrases across pages
        parts.insert(int(rng.integers(0, len(parts))), STOCK[int(rng.integers(0, len(STOCK)))])
    return " ".join(parts)


def edit(text: str, rng: np.random.Generator, share: float) -> str:
    words = text.split()
    for i in rng.choice(len(words), max(1, int(len(words) * share)), replace=False):
        words[i] = "edited"
    return " ".join(words)


def build(con, pages: int, words: int) -> tuple[int, set[tuple[str, str]]]:
    """A crawl of `pages` pages; returns its id and the planted near-duplicate pairs."""
    rng = np.random.default_rng(42)
    crawl_id = store.create_crawl(con, "clinic.test", [HOST + "/"], ["clinic.test:80"], {})
    planted: set[tuple[str, str]] = set()
    template = make_text(rng, words)
    writer = store.BatchWriter(con, batch_rows=20_000)
    for i in range(pages):
        url = f"{HOST}/page/{i:06d}"
        if i % 100 == 1:                 # a near-copy of the page before (0.5% of words edited)
            text, other = edit(previous, rng, 0.005), f"{HOST}/page/{i - 1:06d}"
        elif i % 500 == 7:               # an exact copy of the page two before
            text, other = older, f"{HOST}/page/{i - 2:06d}"
        elif i < 40:                     # a family of templated pages: one word in 100 differs (similarity ~0.94)
            text, other = edit(template, rng, 0.01), None
        else:
            text, other = make_text(rng, int(rng.integers(words // 2, words * 3 // 2))), None
        if other:
            planted.add(tuple(sorted((url, other))))
        older, previous = (previous if i else text), text
        writer.add("responses", {"crawl_id": crawl_id, "url": url, "host": "clinic.test:80",
                                 "is_internal": True, "purpose": "crawl", "outcome": "fetched",
                                 "status": 200, "content_type": "text/html", "bytes": 30_000})
        writer.add("pages", {"crawl_id": crawl_id, "url": url, "title": f"Page {i} of the clinic site here",
                             "title_count": 1, "meta_description": "d" * 100, "h1": [f"Page {i}"],
                             "main_words": len(text.split()), "word_count": len(text.split())})
        writer.add("blocks", {"crawl_id": crawl_id, "page_url": url, "block_index": 0, "role": "nav",
                              "text": "Home About Blog Contact", "word_count": 4, "text_hash": 1})
        writer.add("blocks", {"crawl_id": crawl_id, "page_url": url, "block_index": 1, "role": "main",
                              "text": text, "word_count": len(text.split()),
                              "text_hash": hash(text) & (2**62 - 1)})
    writer.flush()
    return crawl_id, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=500, help="average main-text words per page")
    parser.add_argument("--db", help="DuckDB file to build (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        con = store.open_store(args.db or Path(tmp) / "bench.duckdb")
        t0 = time.perf_counter()
        crawl_id, planted = build(con, args.pages, args.words)
        t1 = time.perf_counter()
        print(f"built {args.pages:,} pages in {t1 - t0:.1f} s ({len(planted)} planted pairs)")
        options = Options()
        found = list(onpage._near_duplicates(con, crawl_id, options.onpage, []))
        t2 = time.perf_counter()
        pairs = {tuple(sorted((f["page_url"], f["target"]))) for f in found}
        templated = {p for p in pairs if all(int(u[-6:]) < 40 for u in p)}
        hit = len(planted & pairs)
        print(f"near-duplicate step: {t2 - t1:.1f} s, {len(found):,} findings, "
              f"{hit}/{len(planted)} planted pairs found, {len(templated)} templated pairs, "
              f"{len(pairs - planted - templated)} other pairs")
        counts = onpage.analyse(con, crawl_id, options)
        t3 = time.perf_counter()
        print(f"whole on-page analyse(): {t3 - t2:.1f} s; near_duplicate={counts['near_duplicate']:,}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory: {peak:,.0f} MB")
        con.close()


if __name__ == "__main__":
    main()
