"""The weekly rerun of near-duplicates reuses the stored MinHash signatures of unchanged texts
(page_signatures): same findings as a from-scratch analysis, only changed texts hashed again."""

from __future__ import annotations

import random

import numpy as np
import pytest

from analysis import near_duplicates, onpage
from crawler import store
from crawler.config import Options
from test_onpage import Crawl, H, edit, long_text


@pytest.fixture
def con(tmp_path):
    c = store.open_store(tmp_path / "audit.duckdb")
    yield c
    c.close()


def site(changed: dict[str, str] | None = None) -> dict[str, str]:
    pages = {f"{H}/article{i}": long_text(100 + i) for i in range(8)}
    pages[f"{H}/copy"] = edit(long_text(100), random.Random(3), 2)      # near-duplicate of article0
    pages[f"{H}/mirror"] = long_text(101)                               # identical to article1
    pages.update(changed or {})
    return pages


def crawl(con, pages: dict[str, str]) -> int:
    c = Crawl(con)
    for url, text in pages.items():
        c.page(url, main=text, title=f"Title of {url} here")
    return c.finish()


def near_flags(con, crawl_id):
    return sorted(con.execute("SELECT page_url, target, detail FROM flags WHERE crawl_id = ? "
                              "AND kind = 'near_duplicate'", [crawl_id]).fetchall())


@pytest.fixture
def signed(monkeypatch):
    """How many texts minhash() signs (the real function, counted)."""
    counted = []
    real = near_duplicates.minhash

    def counting(values, counts):
        out = real(values, counts)
        counted.append(len(out))
        return out
    monkeypatch.setattr(near_duplicates, "minhash", counting)
    return counted


def signatures(con, crawl_id):
    return {h: list(s) for h, s in con.execute(
        "SELECT content_hash, signature FROM page_signatures WHERE crawl_id = ?", [crawl_id]).fetchall()}


def test_weekly_rerun_signs_only_changed_texts_and_finds_the_same(con, tmp_path, signed):
    first = crawl(con, site())
    onpage.analyse(con, first, Options())
    assert sum(signed) == 9                       # 10 pages, 9 distinct texts
    # this week: /copy rewritten (no longer a near-duplicate), article5 becomes a copy of article4
    week = site({f"{H}/copy": long_text(900), f"{H}/article5": edit(long_text(104), random.Random(4), 2)})
    signed.clear()
    second = crawl(con, week)
    onpage.analyse(con, second, Options())
    assert sum(signed) == 2                       # the two changed texts only
    reused = {h for h in signatures(con, second)} & {h for h in signatures(con, first)}
    assert len(reused) == 7 and len(signatures(con, second)) == 9

    scratch_con = store.open_store(tmp_path / "scratch.duckdb")
    try:
        scratch = crawl(scratch_con, week)
        onpage.analyse(scratch_con, scratch, Options())
        assert near_flags(con, second) == near_flags(scratch_con, scratch)
        assert signatures(con, second) == signatures(scratch_con, scratch)
    finally:
        scratch_con.close()
    pairs = {(p, t) for p, t, _ in near_flags(con, second)}
    assert (f"{H}/article5", f"{H}/article4") in pairs and (f"{H}/mirror", f"{H}/article1") in pairs
    assert not any(f"{H}/copy" in pair for pair in pairs)


def test_changed_page_is_signed_again_from_its_new_text(con):
    first = crawl(con, site())
    onpage.analyse(con, first, Options())
    new_text = long_text(901)
    second = crawl(con, site({f"{H}/article3": new_text}))
    onpage.analyse(con, second, Options())
    full_hash = con.execute("SELECT full_hash FROM main_texts WHERE crawl_id = ? AND url = ?",
                            [second, f"{H}/article3"]).fetchone()[0]
    stored = signatures(con, second)[full_hash]
    values, counts = near_duplicates.shingles([con.execute(
        "SELECT full_text FROM main_texts WHERE crawl_id = ? AND url = ?", [second, f"{H}/article3"]).fetchone()[0]])
    assert stored == list(near_duplicates.minhash(values, counts)[0])
    assert full_hash not in signatures(con, first)


def test_signatures_made_otherwise_are_not_reused(con, monkeypatch, signed):
    first = crawl(con, site())
    onpage.analyse(con, first, Options())
    monkeypatch.setattr(near_duplicates, "MADE_WITH", near_duplicates.MADE_WITH + " v2")
    signed.clear()
    second = crawl(con, site())
    onpage.analyse(con, second, Options())
    assert sum(signed) == 9                       # nothing copied: every text hashed again
    made = con.execute("SELECT DISTINCT made_with FROM page_signatures WHERE crawl_id = ?", [second]).fetchall()
    assert made == [(near_duplicates.MADE_WITH,)]


def test_reanalysing_a_crawl_keeps_its_signatures_and_findings(con, signed):
    crawl_id = crawl(con, site())
    onpage.analyse(con, crawl_id, Options())
    before = near_flags(con, crawl_id)
    signed.clear()
    onpage.analyse(con, crawl_id, Options())
    assert sum(signed) == 0 and near_flags(con, crawl_id) == before
    assert con.execute("SELECT count(*) FROM page_signatures WHERE crawl_id = ?", [crawl_id]).fetchone()[0] == 9
    assert np.array(list(signatures(con, crawl_id).values())).shape == (9, near_duplicates.NUM_PERM)
