"""Benchmark: the on-page analysis (near-duplicates: MinHash + LSH) on a large crawl, full and weekly.

    python bench/near_duplicates_bench.py [--sizes 10000 100000] [--words 500] [--changed 0.05]

For each size, builds a DuckDB crawl of that many pages (main text from a Zipf-distributed
vocabulary plus shared stock sentences, as real sites have), with planted near-copies, exact
copies and a family of templated pages, and the weekly recrawl of it with a share of the pages
rewritten; then times on-page analyse() of the first crawl (full: every text signed) and of
the recrawl (weekly: unchanged texts' signatures copied from page_signatures), each in its own
process, and prints wall, CPU, peak memory, the planted pairs found, and the ratio between
the sizes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
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


def build(con, pages: int, words: int, changed: float = 0.0) -> tuple[int, set[tuple[str, str]]]:
    """A crawl of `pages` pages, a share `changed` of them (spread evenly) rewritten; returns
    its id and the planted near-duplicate pairs."""
    rng = np.random.default_rng(42)
    rewrite = np.random.default_rng(7)
    every = int(round(1 / changed)) if changed else 0
    crawl_id = store.create_crawl(con, "clinic.test", [HOST + "/"], ["clinic.test:80"], {})
    planted: set[tuple[str, str]] = set()
    template = make_text(rng, words)
    previous = older = ""               # set at page 0, read from page 1 on
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
        if every and i % every == every // 2 and i >= 40:     # this week's rewrite (a copy stays a copy)
            text = make_text(rewrite, len(text.split()))
            other = None
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


def _usage() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024


def analyse_one(db: str, crawl_id: int) -> dict:
    """On-page analyse() of one crawl of the database, in this process: wall, CPU, peak."""
    from crawler import relations
    con = store.open_store(db)
    relations.ensure_main_texts(con, crawl_id)
    cpu0, _ = _usage()
    t0 = time.perf_counter()
    counts = onpage.analyse(con, crawl_id, Options())
    wall = time.perf_counter() - t0
    cpu, peak = _usage()
    pairs = {tuple(sorted(p)) for p in con.execute(
        "SELECT page_url, target FROM flags WHERE crawl_id = ? AND kind = 'near_duplicate'", [crawl_id]).fetchall()}
    con.close()
    return {"wall": wall, "cpu": cpu - cpu0, "peak": peak, "near_duplicate": counts["near_duplicate"],
            "pairs": sorted(pairs)}


def build_two(db: str, pages: int, words: int, changed: float) -> dict:
    con = store.open_store(db)
    first, planted = build(con, pages, words)
    store.finish_crawl(con, first, "finished", {})
    second, planted_week = build(con, pages, words, changed)
    store.finish_crawl(con, second, "finished", {})
    con.close()
    return {"first": first, "second": second, "planted": sorted(planted), "planted_week": sorted(planted_week)}


def _child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, *map(str, args)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_size(tmp: Path, pages: int, words: int, changed: float) -> dict:
    db = tmp / f"bench{pages}.duckdb"
    t0 = time.perf_counter()
    built = _child("--build", db, pages, words, changed)
    print(f"{pages:,} pages: built two crawls in {time.perf_counter() - t0:.0f} s", flush=True)
    out = {}
    for phase, crawl_id, planted in (("full", built["first"], built["planted"]),
                                     ("weekly", built["second"], built["planted_week"])):
        r = _child("--analyse", db, crawl_id)
        found = {tuple(p) for p in r["pairs"]}
        hit = len({tuple(p) for p in planted} & found)
        print(f"  {phase:6s} onpage: wall {r['wall']:6.1f} s  CPU {r['cpu']:6.1f} s  peak {r['peak']:6.0f} MB"
              f"  ({r['near_duplicate']:,} near_duplicate findings, {hit}/{len(planted)} planted pairs)", flush=True)
        out[phase] = r
    db.unlink()
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--build":
        db, pages, words, changed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        print(json.dumps(build_two(db, pages, words, changed)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--analyse":
        print(json.dumps(analyse_one(sys.argv[2], int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 100_000], metavar="PAGES")
    parser.add_argument("--words", type=int, default=500, help="average main-text words per page")
    parser.add_argument("--changed", type=float, default=0.05, help="share of pages rewritten for the weekly run")
    parser.add_argument("--tmp", help="folder for the bench databases (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        small, large = (run_size(Path(tmp), n, args.words, args.changed) for n in args.sizes)
    ratio = args.sizes[1] / args.sizes[0]
    for phase in ("full", "weekly"):
        s, lg = small[phase], large[phase]
        print(f"{phase:6s} {args.sizes[1]:,}/{args.sizes[0]:,} ({ratio:.0f}x pages): wall {lg['wall'] / s['wall']:.2f}x"
              f"  CPU {lg['cpu'] / s['cpu']:.2f}x  peak {lg['peak'] / s['peak']:.2f}x")
    print(f"weekly / full at {args.sizes[1]:,}: wall {large['weekly']['wall'] / large['full']['wall']:.2f}"
          f"  CPU {large['weekly']['cpu'] / large['full']['cpu']:.2f}")


if __name__ == "__main__":
    main()
