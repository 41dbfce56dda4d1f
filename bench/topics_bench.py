"""Benchmark: time and peak memory of the topic analysis on synthetic sites of 10,000 and
100,000 pages.

    python bench/topics_bench.py [--pages 10000 100000] [--words 300]

Each site is a clinic-like site: pages on eight related subtopics that share a core vocabulary,
3% of pages drifted to three unrelated topics, teasers for those on other pages, and the
usual navigation, footer and sidebar. The analysis of each site runs in its own process, so
"peak memory" is that process's own high-water mark (RSS, DuckDB included) minus what it
held before analyse() started. Memory must grow about linearly with the pages, never with
their square: the last line prints the ratio against the page ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # noqa: E402

from crawler import relations, store  # noqa: E402
from crawler.extract import text_hash  # noqa: E402

SYLLABLES = ("ka ri to me na su lo vi de pa xe mo ru ti fa ne zo li be go ha ju ke ma "
             "no pe qui ra se tu va we ya zi").split()
STOP = sorted(ENGLISH_STOP_WORDS)
SUBTOPICS = 8
DRIFT_TOPICS = 3
DRIFT_SHARE = 0.03


def vocabulary(rng: random.Random, n: int, length: int = 3) -> list[str]:
    """n distinct pseudo-words of letters only (the analysis ignores numbers)."""
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, length))))
    return sorted(words)


class Site:
    def __init__(self, seed: int = 7):
        rng = random.Random(seed)
        pool = vocabulary(rng, 4000)
        rng.shuffle(pool)
        self.generic, pool = pool[:600], pool[600:]
        self.core, pool = pool[:300], pool[300:]
        self.sub = [pool[i * 200:(i + 1) * 200] for i in range(SUBTOPICS)]
        pool = pool[SUBTOPICS * 200:]
        self.drift = [pool[i * 200:(i + 1) * 200] for i in range(DRIFT_TOPICS)]
        self.nav = " ".join(rng.sample(self.generic, 8))
        self.footer = " ".join(rng.sample(self.generic, 12))
        self.sidebar = " ".join(rng.sample(self.core, 6) + rng.sample(STOP, 6))

    def paragraph(self, rng: random.Random, words: int, topic: list[str] | None, drift: list[str] | None) -> str:
        out = []
        for _ in range(words):
            r = rng.random()
            if r < 0.45:
                out.append(rng.choice(STOP))
            elif r < 0.65:
                out.append(rng.choice(self.generic))
            elif drift is not None:
                out.append(rng.choice(drift))
            elif r < 0.85:
                out.append(rng.choice(self.core))
            else:
                out.append(rng.choice(topic))
        return " ".join(out) + "."


def build_site(path: str, pages: int, words: int) -> tuple[int, int]:
    """A finished crawl of a synthetic site in a new DuckDB file; returns its crawl id and
    how many of its pages drifted."""
    con = store.open_store(path)
    cid = store.create_crawl(con, "bench", ["http://bench.test/"], ["bench.test:80"], {})
    site = Site()
    rng = random.Random(11)
    drifted = [n for n in range(pages) if random.Random(n).random() < DRIFT_SHARE]
    teasers = [(f"{site.paragraph(random.Random(n), 20, None, site.drift[n % DRIFT_TOPICS])}",
                f"http://bench.test/page/{n:06d}") for n in drifted[:20]]
    drifted = set(drifted)
    writer = store.BatchWriter(con, batch_rows=50_000)
    for n in range(pages):
        url = f"http://bench.test/page/{n:06d}"
        drift = site.drift[n % DRIFT_TOPICS] if n in drifted else None
        topic = site.sub[n % SUBTOPICS]
        blocks = [("nav", site.nav, None), ("footer", site.footer, None), ("aside", site.sidebar, None)]
        per = 60
        blocks += [("main", site.paragraph(rng, per, topic, drift), None) for _ in range(max(1, words // per))]
        if teasers and n % 10 == 0:
            text, link = teasers[n % len(teasers)]
            blocks.append(("teaser", text, link))
        writer.add("pages", {"crawl_id": cid, "url": url, "lang": "en", "title": f"Page {n}"})
        for i, (role, text, link) in enumerate(blocks):
            writer.add("blocks", {"crawl_id": cid, "page_url": url, "block_index": i, "role": role,
                                  "text": text, "word_count": len(text.split()), "link_url": link,
                                  "text_hash": text_hash(text)})
    writer.flush()
    store.finish_crawl(con, cid, "finished", {})
    con.close()
    return cid, len(drifted)


def run_child(db: str, crawl_id: int, what: str) -> dict:
    child = subprocess.run([sys.executable, __file__, "--child", db, str(crawl_id), what],
                           capture_output=True, text=True, check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def analyse_only(db: str, crawl_id: int, what: str) -> None:
    """Child process: run the analysis (or only read the main text, as every text analysis
    does) once and print a JSON line of what it cost."""
    from analysis import topics
    from crawler.config import Options

    con = store.open_store(db)
    before = rss_kb("VmRSS")
    start = time.perf_counter()
    if what == "analyse":
        counts = topics.analyse(con, crawl_id, Options())
    else:
        relations.ensure_main_texts(con, crawl_id)
        counts = {"pages": sum(len(b) for b in store.iter_batches(con, relations.main_text_sql(crawl_id)))}
    wall = time.perf_counter() - start
    peak = rss_kb("VmHWM")
    con.close()
    print(json.dumps({"seconds": wall, "peak_mb": max(peak - before, 0) / 1024, "counts": counts}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--words", type=int, default=300, help="words of main text per page")
    parser.add_argument("--child", nargs=3, metavar=("DB", "CRAWL", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        analyse_only(args.child[0], int(args.child[1]), args.child[2])
        return 0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for pages in args.pages:
            db = os.path.join(tmp, f"bench_{pages}.duckdb")
            start = time.perf_counter()
            cid, drifted = build_site(db, pages, args.words)
            built = time.perf_counter() - start
            result, reading = (run_child(db, cid, what) for what in ("analyse", "read"))
            results.append((pages, result))
            print(f"{pages:>7} pages (~{args.words} words each, {drifted} drifted; built in {built:.0f} s)\n"
                  f"        topics analysis: {result['seconds']:6.1f} s, peak memory {result['peak_mb']:7.1f} MB; "
                  f"findings {result['counts']}\n"
                  f"        for scale, reading the main text alone: {reading['seconds']:6.1f} s, "
                  f"peak memory {reading['peak_mb']:7.1f} MB", flush=True)
    if len(results) >= 2:
        (p0, r0), (p1, r1) = results[0], results[-1]
        growth = r1["peak_mb"] / max(r0["peak_mb"], 1e-9)
        print(f"memory grew {growth:.1f}x for {p1 / p0:.0f}x the pages "
              f"(linear: {p1 / p0:.0f}x, quadratic: {(p1 / p0) ** 2:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
