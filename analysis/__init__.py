"""The analyses, one module each; run_all runs every one on a stored crawl and marks findings new or recurring."""

from __future__ import annotations

import ctypes
import gc
import importlib
from typing import TYPE_CHECKING

from crawler import store

if TYPE_CHECKING:   # crawler.config imports analysis.options: no import cycle at run time
    from crawler.config import Options

# Order matters only for the printed summary.
ANALYSES = ["links", "readability", "topics", "onpage"]
# DuckDB's share while analysing: sorts and joins over the crawl's texts spill to disk past it,
# so the analyses' memory does not grow with the site (384 MB: topics at 100,000 pages peaked
# at 1,067 MB under 512 MB, 918 MB under this, in the same time).
ANALYSIS_MEMORY_LIMIT = "384MB"
# DuckDB checkpoints its write-ahead log into the database file each time the log passes 16 MB:
# the analyses write findings, vectors and texts all along, and the checkpoints cost a tenth of
# a weekly run (64.0 -> 56.4 s at 100,000 pages, close included, same peaks). Past this much log
# it still checkpoints; the rest is checkpointed when the connection closes. Every commit is in
# the log, so a killed run loses nothing committed.
ANALYSIS_CHECKPOINT_THRESHOLD = "2GB"


def _give_back_memory() -> None:
    """The heap an analysis freed, back to the system before the next one starts: glibc keeps
    it otherwise, and the next analysis' peak counts it again. On-page, last, peaks at 761 MB
    alone at 100,000 pages and at about 1,020 MB after the others (1,031 MB before this).
    Elsewhere than glibc there is no malloc_trim, and nothing to do."""
    gc.collect()
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return
    trim(0)


def run_all(con, crawl_id: int, options: Options) -> dict[str, int]:
    """Run every analysis on the crawl; returns {kind: number of findings}."""
    counts: dict[str, int] = {}
    con.execute(f"SET checkpoint_threshold = '{ANALYSIS_CHECKPOINT_THRESHOLD}'")
    try:
        for name in ANALYSES:
            module = importlib.import_module(f"analysis.{name}")
            # an analysis with worker processes of its own leaves DuckDB less (readability)
            con.execute(f"SET memory_limit = '{getattr(module, 'MEMORY_LIMIT', ANALYSIS_MEMORY_LIMIT)}'")
            counts.update(module.analyse(con, crawl_id, options))
            _give_back_memory()
        # capped too: marking half a million findings new or recurring rewrites their rows
        # (uncapped, 1.5 GB at 100,000 pages)
        con.execute(f"SET memory_limit = '{ANALYSIS_MEMORY_LIMIT}'")
        store.finalize_flags(con, crawl_id)
    finally:
        con.execute("RESET memory_limit")
        con.execute("RESET checkpoint_threshold")
    con.execute("UPDATE crawls SET analysed_at = ? WHERE crawl_id = ?", [store.utcnow(), crawl_id])
    return counts
