"""The findings contract: one registry of kinds, one severity order, one fail_on, the Finding
row, and the [severity] table checked against the registry when the config loads."""

from pathlib import Path

import duckdb
import pytest

from analysis import findings, links, onpage, readability, topics
from analysis.findings import Finding, at_or_above, fail_on, rank, rank_sql
from crawler import store
from crawler.config import Options
from conftest import StoredCrawl
from crawler.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_every_analysis_takes_its_kinds_from_the_registry():
    by_module = {**links.KINDS, **readability.KINDS, **topics.KINDS, **onpage.KINDS}
    assert by_module == {k.name: k.severity for k in findings.KINDS.values()}


def test_every_kind_is_in_the_readme_findings_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for kind in findings.KINDS:
        assert f"`{kind}`" in readme, f"README's findings table does not list {kind}"


@pytest.mark.parametrize("severity, expected", [("error", 0), ("warning", 1), ("notice", 2), ("loud", 3)])
def test_rank(severity, expected):
    assert rank(severity) == expected
    assert duckdb.connect().execute(f"SELECT {rank_sql('s')} FROM (SELECT '{severity}' AS s)").fetchone()[0] == expected


@pytest.mark.parametrize("threshold, counts, expected", [
    (None, {"error": 3}, 0),
    ("error", {"error": 2, "warning": 5, "notice": 1}, 2),
    ("warning", {"error": 2, "warning": 5, "notice": 1}, 7),
    ("warning", {"notice": 9}, 0),
    ("error", {}, 0),
])
def test_fail_on(threshold, counts, expected):
    assert fail_on(counts, threshold) == expected


def test_at_or_above_is_the_severity_order():
    assert at_or_above("error") == ("error",) and at_or_above("notice") == ("error", "warning", "notice")


@pytest.mark.parametrize("fields, message", [
    ({"kind": "brokn_link", "page_url": "u", "severity": "error"}, "unknown finding kind"),
    ({"kind": "broken_link", "page_url": "u", "severity": "fatal"}, "severity"),
])
def test_a_finding_of_no_known_kind_or_severity_is_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        Finding(**fields)


def test_a_misspelt_key_of_a_finding_dict_is_refused():
    with pytest.raises(TypeError):
        findings.as_finding({"kind": "broken_link", "page_url": "u", "severity": "error", "targte": "x"})


@pytest.mark.parametrize("toml, message", [
    ('[severity]\nbrokn_link = "warning"\n', "unknown kind 'brokn_link' (did you mean broken_link?)"),
    ('[severity]\nlong_sentences = "warning"\n', "did you mean long_sentence?"),
    ('[severity]\nbroken_link = "fatal"\n', "use one of error, warning, notice"),
    ('[links.severity]\ninternal_4x = "notice"\n', "unknown rule 'internal_4x' (did you mean internal_4xx?)"),
    ('[onpage.suggestions]\nmissing_titel = "Add one"\n', "unknown kind 'missing_titel'"),
    ('[readability]\ngrade_measure = "fk"\n', "is not a grade"),
    ('[topics]\nutility_share = nan\n', "utility_share"),
])
def test_config_errors_name_the_fix_when_it_loads(tmp_path, toml, message):
    path = tmp_path / "audit.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)


def test_write_flags_returns_what_it_stored(tmp_path):
    con = store.open_store(tmp_path / "a.duckdb")
    try:
        cid = store.create_crawl(con, "s", ["http://s.test/"], ["s.test"], {})
        rows = [Finding("broken_link", "http://s.test/", "error", "http://s.test/x", "404", anchor_text="Our team"),
                Finding("broken_link", "http://s.test/", "error", "http://s.test/x", "404 again"),  # same identity
                Finding("broken_link", "http://s.test/", "error", "http://s.test/y", "404"),
                {"kind": "missing_anchor", "page_url": "http://s.test/", "severity": "warning",
                 "target": "http://s.test/#nope"}]
        counts = store.write_flags(con, cid, "links", rows, links.KINDS)
        assert counts["broken_link"] == 2 and counts["missing_anchor"] == 1 and counts["orphan_page"] == 0
        stored = con.execute("SELECT kind, count(*) FROM flags GROUP BY kind ORDER BY kind").fetchall()
        assert stored == [("broken_link", 2), ("missing_anchor", 1)]
        assert con.execute("SELECT anchor_text FROM flags WHERE target = 'http://s.test/x'").fetchone() == ("Our team",)
    finally:
        con.close()


def test_a_schema_1_database_is_upgraded_in_place(tmp_path):
    db = tmp_path / "old.duckdb"
    con = store.open_store(db)
    cid = store.create_crawl(con, "s", ["http://s.test/"], ["s.test"], {})
    con.execute("ALTER TABLE flags DROP COLUMN anchor_text; ALTER TABLE flags DROP COLUMN block_text")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.close()
    con = store.open_store(db)      # last week's database, opened by this version
    try:
        assert store.write_flags(con, cid, "links", [Finding("broken_link", "http://s.test/", "error", "x",
                                                            anchor_text="a")], ["broken_link"])["broken_link"] == 1
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (store.SCHEMA_VERSION,)
    finally:
        con.close()


def test_a_schema_2_database_keeps_its_cut_downloads_out_of_broken_links(tmp_path):
    """Before schema 3 a download cut at max_bytes was outcome 'error' with the text 'too large':
    opened by this version it becomes outcome too_large, so links to it are not reported broken."""
    db = tmp_path / "old.duckdb"
    con = store.open_store(db)
    crawl = StoredCrawl(con, "s", ["http://s.test/"])
    crawl.page("http://s.test/").link("http://s.test/", "/big").link("http://s.test/", "/gone")
    crawl.response("http://s.test/big", None, "error", "too large (over the 1,000-byte limit)")
    crawl.response("http://s.test/gone", 404)
    cid = crawl.finish()
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    con = store.open_store(db)      # last week's database, opened by this version
    try:
        assert con.execute("SELECT outcome FROM responses WHERE url = 'http://s.test/big'").fetchone() == ("too_large",)
        counts = links.analyse(con, cid, Options())
        assert counts["broken_link"] == 1
        assert con.execute("SELECT target FROM flags WHERE kind = 'broken_link'").fetchall() == [("http://s.test/gone",)]
    finally:
        con.close()
