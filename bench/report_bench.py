"""Benchmark: the weekly report of a 100,000-page site, written and opened in headless Chromium.

    python bench/report_bench.py [--pages 100000] [--links 20] [--db PATH] [--out DIR] [--no-browser]

Builds two weekly crawls of that many pages in DuckDB with SQL (pages, responses, links,
readability and topic rows, and about 1.4 findings per page, a tenth of them changed between
the weeks), then times `write_report` for the second week and the report's opening in
Chromium (load event and tables rendered). The goals: under a minute and under five seconds.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler import store  # noqa: E402
from crawler.config import Options  # noqa: E402
from reports import write_report  # noqa: E402

HOST = "https://clinic.test"
GOAL_WRITE, GOAL_OPEN = 60.0, 5.0


def build_week(con, pages: int, links: int, week: int) -> int:
    """One crawl of the synthetic site; week 2 differs from week 1 in a tenth of its findings."""
    cid = store.create_crawl(con, "clinic", [HOST + "/"], ["clinic.test:443"], {})
    p = {"cid": cid, "n": pages, "links": links, "w": week, "host": HOST}

    def sql(text: str) -> None:  # DuckDB refuses parameters a statement does not use
        con.execute(text, {k: v for k, v in p.items() if re.search(rf"\${k}\b", text)})

    sql("""
        INSERT INTO responses (crawl_id, url, host, is_internal, purpose, depth, found_by, outcome,
                               status, content_type, bytes, response_ms, attempts, fetched_at)
        SELECT $cid, $host || '/page/' || i, 'clinic.test:443', true, 'crawl', 1 + i % 6, 'link',
               'fetched', 200, 'text/html', 20000 + i % 5000, 40.0, 1, now()
        FROM range($n) t(i)
        UNION ALL
        SELECT $cid, $host || '/gone/' || i, 'clinic.test:443', true, 'crawl', 3, 'link', 'fetched',
               404, 'text/html', 900, 20.0, 1, now() FROM range($n // 50) t(i)
        UNION ALL
        SELECT $cid, 'https://partner' || (i % 40) || '.test/doc/' || i, 'partner' || (i % 40) || '.test:443',
               false, 'check', 2, 'link', 'fetched', CASE WHEN i % 5 = 0 THEN 404 ELSE 200 END, 'text/html',
               0, 90.0, 1, now() FROM range($n // 30) t(i)
    """)
    sql("""
        INSERT INTO pages (crawl_id, url, title, title_count, meta_description, lang, h1, word_count,
                           main_words, link_count, image_count)
        SELECT $cid, $host || '/page/' || i,
               CASE WHEN i % 997 = 0 THEN '<script>alert(' || i || ')</script>'
                    WHEN i % 991 = 0 THEN '=HYPERLINK("https://evil.test")'
                    ELSE 'Treatment guide ' || i || ': what to expect, costs and recovery | Clinic' END,
               1, 'About treatment ' || i, 'en', ['Treatment guide ' || i], 400 + i % 900, 300 + i % 800,
               $links, 2
        FROM range($n) t(i)
    """)
    sql("""
        INSERT INTO links (crawl_id, source_url, position, element, href, url, target_type, nofollow,
                           anchor_text, block_index, block_role)
        SELECT $cid, $host || '/page/' || i, j, 'a', '/page/' || ((i * 7 + j * 131) % $n),
               CASE WHEN j = 0 AND i % 20 = 0 THEN $host || '/gone/' || (i // 20 % ($n // 50))
                    WHEN j = 1 AND i % 30 = 0 THEN 'https://partner' || ((i // 30) % 40) || '.test/doc/' || (i // 30)
                    ELSE $host || '/page/' || ((i * 7 + j * 131) % $n) END,
               CASE WHEN j = 1 AND i % 30 = 0 THEN 'external' ELSE 'internal' END, false,
               CASE WHEN i % 499 = 0 THEN '@SUM(A1)' ELSE 'Read about treatment ' || j END, j, 'main'
        FROM range($n) t(i), range($links) u(j)
    """)
    sql("""
        INSERT INTO readability (crawl_id, url, words, sentences, avg_sentence_length,
                                 flesch_reading_ease, flesch_kincaid_grade, reading_grade,
                                 hardest_sentences, long_sentences, previous_grade, reused)
        SELECT $cid, $host || '/page/' || i, 300 + i % 800, 20 + i % 40, 15 + i % 12,
               80 - (i % 70), 4 + (i % 170) / 10, 4 + (i % 170) / 10,
               ['The comprehensive evaluation of treatment option ' || i || ' necessitates a careful consideration of '
                || 'the physiological, psychological and social circumstances of every individual patient.',
                'Sentence two of page ' || i || ' is long and winding and hard to follow for most readers.',
                'A third difficult sentence with considerable polysyllabic vocabulary on page ' || i || '.'],
               [{'sentence': 'A long sentence of page ' || i, 'words': 31}], CASE WHEN $w = 2 THEN 5 + (i % 150) / 10 END,
               false
        FROM range($n) t(i)
    """)
    sql("""
        INSERT INTO topics (crawl_id, url, topic, topic_label, similarity, off_topic, distinctive_words)
        SELECT $cid, $host || '/page/' || i, i % 8, 'therapy, ketamine, depression, care',
               CASE WHEN i % 50 = 0 THEN 0.02 + (i % 7) / 100 ELSE 0.15 + (i % 60) / 100 END,
               i % 50 = 0, 'word' || (i % 300) || ', other'
        FROM range($n) t(i)
    """)
    # Findings: a tenth differ between the weeks (week 1: i % 10 <> 3; week 2: i % 10 <> 7).
    sql("""
        INSERT INTO flags (crawl_id, site, page_url, kind, severity, target, detail, suggestion, analysis)
        WITH pagesx AS (SELECT i FROM range($n) t(i) WHERE i % 10 <> CASE WHEN $w = 1 THEN 3 ELSE 7 END)
        SELECT $cid, 'clinic', $host || '/page/' || i, 'broken_link', 'error',
               $host || '/gone/' || (i // 20 % ($n // 50)), '404 Not Found; link text "Read about treatment 0"',
               'Change the link to the page''s current address, or remove it.', 'links'
        FROM pagesx WHERE i % 20 = 0
        UNION ALL
        SELECT $cid, 'clinic', $host || '/page/' || i, 'hard_to_read', 'warning', '',
               'Grade ' || (4 + (i % 170) / 10) || ' against a target of 8',
               'Rewrite the hardest sentences first: the comprehensive evaluation of treatment option ' || i,
               'readability' FROM pagesx WHERE 4 + (i % 170) / 10 > 9
        UNION ALL
        SELECT $cid, 'clinic', $host || '/page/' || i, 'long_sentence', 'notice',
               'A long sentence of page ' || i || ' that goes on and on past twenty-five words', '31 words',
               'Split it.', 'readability' FROM pagesx WHERE i % 3 = 0
        UNION ALL
        SELECT $cid, 'clinic', $host || '/page/' || i, 'off_topic_page', 'warning',
               'therapy, ketamine, depression, care', 'similarity 0.03', 'Move or remove this page.', 'topics'
        FROM pagesx WHERE i % 50 = 0
        UNION ALL
        SELECT $cid, 'clinic', $host || '/page/' || i, 'off_topic_block', 'warning',
               $host || '/page/' || ((i // 100) * 50), '“A teaser on fragrance ' || (i // 100) || '...Read More”: links to an off-topic page',
               'Remove this block.', 'topics' FROM pagesx WHERE i % 33 = 0
        UNION ALL
        SELECT $cid, 'clinic', $host || '/page/' || i, 'title_length', 'notice',
               'Treatment guide ' || i || ': what to expect, costs and recovery | Clinic', '68 characters',
               'Shorten the title.', 'onpage' FROM pagesx WHERE i % 4 = 1
    """)
    store.finish_crawl(con, cid, "finished", {})
    store.finalize_flags(con, cid)
    con.execute("UPDATE crawls SET analysed_at = now() WHERE crawl_id = $cid", {"cid": cid})
    return cid


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--links", type=int, default=20, help="links per page")
    ap.add_argument("--db", help="DuckDB file (default: a temporary one); reused if it has the crawls")
    ap.add_argument("--out", help="report folder (default: a temporary one)")
    ap.add_argument("--no-browser", action="store_true", help="do not time the opening in Chromium")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="report-bench-"))
    db = Path(args.db) if args.db else tmp / "bench.duckdb"
    out = Path(args.out) if args.out else tmp / "report"
    con = store.open_store(db)
    try:
        if con.execute("SELECT count(*) FROM crawls").fetchone()[0] < 2:
            t = time.perf_counter()
            build_week(con, args.pages, args.links, 1)
            build_week(con, args.pages, args.links, 2)
            print(f"built 2 crawls of {args.pages:,} pages in {time.perf_counter() - t:.1f} s")
        cid = store.latest_crawl(con)
        flags = con.execute("SELECT count(*) FROM flags WHERE crawl_id = ?", [cid]).fetchone()[0]
        t = time.perf_counter()
        report = write_report(con, cid, out, Options())
        write_s = time.perf_counter() - t
    finally:
        con.close()
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(out.iterdir()))
    print(f"report of {args.pages:,} pages, {flags:,} findings written in {write_s:.1f} s "
          f"(goal {GOAL_WRITE:.0f} s): {sizes}")
    ok = write_s < GOAL_WRITE
    if not args.no_browser:
        from bench.browser import Chromium, find_chromium
        if find_chromium() is None:
            print("chromium not installed: opening not timed (apt-get install chromium)")
        else:
            with Chromium() as browser:
                visit = browser.visit(report)
            print(f"opened in Chromium: load event {visit.load_seconds:.2f} s, tables rendered "
                  f"{visit.ready_seconds:.2f} s (goal {GOAL_OPEN:.0f} s); console errors: {len(visit.errors)}, "
                  f"requests: {len(visit.requests)}")
            ok = ok and visit.ready_seconds < GOAL_OPEN and not visit.errors and len(visit.requests) == 1
    print("OK" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
