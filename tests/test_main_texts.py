"""Tests of crawler/relations.ensure_main_texts on a weekly crawl: rows copied from the previous
crawl for unchanged pages are exactly the rows a build from scratch gives, and a page whose
text, language or furniture changed is built again. Real DuckDB files."""

from __future__ import annotations

import pytest
from test_topics import CLINIC_URL, CRYPTO, INJECTED, full_site_extras, site_pages, site_teasers, store_crawl

from crawler import relations, store

ROWS = "SELECT * EXCLUDE (crawl_id) FROM main_texts WHERE crawl_id = ? ORDER BY url"


@pytest.fixture
def con(tmp_path):
    connection = store.open_store(tmp_path / "audit.duckdb")
    yield connection
    connection.close()


def test_a_weekly_crawls_main_texts_are_those_of_a_build_from_scratch(con):
    pages = site_pages()
    extras = full_site_extras()
    first = store_crawl(con, pages, site_teasers(), extras)
    later = dict(pages)
    later[CLINIC_URL + "/services/tms"] = CRYPTO                                  # new text
    # the injected paragraph reaches a fourth page: still furniture, the others unchanged
    later_extras = {**extras, CLINIC_URL + "/insurance": [INJECTED]}
    second = store_crawl(con, later, site_teasers(), later_extras,
                         langs={CLINIC_URL + "/about": "de"})                     # new lang
    relations.ensure_main_texts(con, first)
    relations.ensure_main_texts(con, second)
    copied = con.execute(ROWS, [second]).fetchall()
    same = con.execute("SELECT count(*) FROM main_texts a JOIN main_texts b USING (url, content_hash, lang) "
                       "WHERE a.crawl_id = ? AND b.crawl_id = ?", [first, second]).fetchone()[0]
    assert 0 < same < len(pages)        # some rows copied, some built

    con.execute("DELETE FROM main_texts")
    relations.ensure_main_texts(con, second)
    assert con.execute(ROWS, [second]).fetchall() == copied
    by_url = {row[0]: row for row in copied}
    assert " ".join(CRYPTO[0].split()[:5]) in by_url[CLINIC_URL + "/services/tms"][2]
    assert by_url[CLINIC_URL + "/about"][1] == "de"
    assert INJECTED not in by_url[CLINIC_URL + "/insurance"][2]


def test_a_block_that_becomes_furniture_changes_every_page_that_carries_it(con):
    pages = site_pages()
    shared = "Book a free consultation with our care team today to talk about your treatment options."
    extras = {CLINIC_URL + "/": [shared], CLINIC_URL + "/about": [shared]}
    first = store_crawl(con, pages, extra_main=extras)
    second = store_crawl(con, pages, extra_main={**extras, CLINIC_URL + "/insurance": [shared]})
    relations.ensure_main_texts(con, first)
    relations.ensure_main_texts(con, second)
    texts = dict(con.execute("SELECT url, text FROM main_texts WHERE crawl_id = ?", [second]).fetchall())
    before = dict(con.execute("SELECT url, text FROM main_texts WHERE crawl_id = ?", [first]).fetchall())
    assert shared in before[CLINIC_URL + "/about"]          # on two pages: the page's own text
    assert shared not in texts[CLINIC_URL + "/about"]       # on three: furniture, on every page
    assert shared not in texts[CLINIC_URL + "/"]
