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

    con.execute("DELETE FROM main_text_pages")
    con.execute("DELETE FROM main_text_bodies")
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


def test_a_weekly_crawl_stores_only_its_changed_texts_and_each_text_once(con):
    pages = site_pages()
    first = store_crawl(con, pages)
    relations.ensure_main_texts(con, first)
    bodies = con.execute("SELECT count(*) FROM main_text_bodies").fetchone()[0]
    assert bodies == len(pages)             # every page of the site has its own text
    later = dict(pages)
    later[CLINIC_URL + "/services/tms"] = CRYPTO
    second = store_crawl(con, later)
    relations.ensure_main_texts(con, second)
    assert con.execute("SELECT count(*) FROM main_text_bodies").fetchone()[0] == bodies + 1
    assert con.execute("SELECT count(*) FROM main_texts WHERE crawl_id = ?", [second]).fetchone()[0] == len(pages)
    # the first crawl still reads its own text of the page that changed
    old = con.execute("SELECT text FROM main_texts WHERE crawl_id = ? AND url = ?",
                      [first, CLINIC_URL + "/services/tms"]).fetchone()[0]
    assert " ".join(CRYPTO[0].split()[:5]) not in old

    # a crawl finished again (resumed) forgets its texts; the ones only it had go with them
    store.drop_main_texts(con, second)
    assert con.execute("SELECT count(*) FROM main_texts WHERE crawl_id = ?", [second]).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM main_text_bodies").fetchone()[0] == bodies


def test_a_schema_3_database_gets_its_main_texts_rebuilt(tmp_path):
    db = tmp_path / "old.duckdb"
    con = store.open_store(db)
    cid = store_crawl(con, site_pages())
    relations.ensure_main_texts(con, cid)
    expected = con.execute(ROWS, [cid]).fetchall()
    # what schema 3 kept: a table of every page's text, copied per crawl
    con.execute("CREATE TABLE old_texts AS SELECT * FROM main_texts")
    con.execute("DROP VIEW main_texts")
    con.execute("DELETE FROM main_text_pages")
    con.execute("ALTER TABLE old_texts RENAME TO main_texts")
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    con = store.open_store(db)          # last week's database, opened by this version
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (store.SCHEMA_VERSION,)
        relations.ensure_main_texts(con, cid)
        assert con.execute(ROWS, [cid]).fetchall() == expected
    finally:
        con.close()
