"""The report folder: week-over-week statuses, the files of the contract, hostile page text,
and bad input. Real DuckDB files filled through the store; an end-to-end run on a small site."""

from __future__ import annotations

import csv
import json
import re
import time
from html import unescape
from pathlib import Path

import openpyxl
import pytest

from conftest import StoredCrawl, run_cli
from crawler import store
from crawler.config import Options
from crawler.errors import AuditError
from reports import write_report
from reports.charts import nice_max, sparkline
from reports.html import script_json
from reports.tables import neutralise

CONTRACT_FLAG_COLUMNS = ["site", "crawl_id", "page_url", "kind", "severity", "target", "detail",
                         "suggestion", "status", "first_seen"]
CONTRACT_PAGE_COLUMNS = ["url", "status", "depth", "title", "word_count", "reading_grade",
                         "flesch_kincaid_grade", "flesch_reading_ease", "topic", "topic_similarity",
                         "inlinks", "outlinks"]
SUMMARY_KEYS = ["site", "crawl_id", "previous_crawl_id", "started_at", "finished_at",
                "pages_crawled", "counts", "new", "fixed"]
SITE = "https://clinic.test"
KINDS = {"broken_link": "error", "hard_to_read": "warning", "duplicate_title": "warning",
         "off_topic_block": "warning"}


# --- helpers: a stored crawl built through the store ------------------------------------------

def add_crawl(con, pages: dict[str, str | None], flags: list[tuple], status: str = "finished",
              links: list[tuple] = (), analysed: bool = True, site: str = "clinic") -> int:
    """A crawl of `pages` (url path -> title) with findings (kind, page path, target, detail)."""
    crawl = StoredCrawl(con, site, [SITE + "/"])
    for path, title in pages.items():
        crawl.page(SITE + path, response={"depth": 0 if path == "/" else 1}, title=title,
                   word_count=300, main_words=250)
    for src, href, text in links:
        crawl.link(SITE + src, href, text)
    cid = crawl.finish(status)
    if analysed:
        anchors = {(SITE + src, href): text for src, href, text in links}
        store.write_flags(con, cid, "links", [
            {"kind": kind, "page_url": SITE + path, "severity": KINDS[kind], "target": target,
             "detail": detail, "suggestion": "Fix the link.", "anchor_text": anchors.get((SITE + path, target))}
            for kind, path, target, detail in flags], KINDS)
        store.finalize_flags(con, cid)
        con.execute("UPDATE crawls SET analysed_at = ? WHERE crawl_id = ?", [store.utcnow(), cid])
    time.sleep(0.01)  # distinct started_at, so first_seen tells crawls apart
    return cid


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def header(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


@pytest.fixture
def con(tmp_path):
    con = store.open_store(tmp_path / "audit.duckdb")
    yield con
    con.close()


# --- week over week ----------------------------------------------------------------------------

def test_second_week_marks_new_recurring_and_fixed(con, tmp_path):
    week1 = add_crawl(con, {"/": "Home", "/a": "A", "/b": "B", "/c": "C"}, [
        ("broken_link", "/a", SITE + "/gone", "404"),
        ("broken_link", "/b", SITE + "/old", "404"),
        ("hard_to_read", "/c", "", "grade 14"),
    ])
    # Week 2: /b's link was fixed, /a got a second broken link, /c was not crawled at all.
    week2 = add_crawl(con, {"/": "Home", "/a": "A", "/b": "B"}, [
        ("broken_link", "/a", SITE + "/gone", "404"),
        ("broken_link", "/a", SITE + "/typo", "404"),
    ])
    report = write_report(con, week2, tmp_path / "out", Options())
    out = report.parent
    assert report.name == "report.html" and report.exists()

    flags = {(r["page_url"], r["target"]): r for r in read_csv(out / "flags.csv")}
    assert {k: r["status"] for k, r in flags.items()} == {
        (SITE + "/a", SITE + "/gone"): "recurring", (SITE + "/a", SITE + "/typo"): "new"}
    first = store.crawl_info(con, week1)["started_at"].isoformat(sep=" ", timespec="seconds")
    second = store.crawl_info(con, week2)["started_at"].isoformat(sep=" ", timespec="seconds")
    assert flags[(SITE + "/a", SITE + "/gone")]["first_seen"] == first
    assert flags[(SITE + "/a", SITE + "/typo")]["first_seen"] == second

    fixed = read_csv(out / "fixed.csv")
    # /c was not crawled in week 2: its finding is not fixed, only unknown.
    assert [(r["page_url"], r["kind"], r["target"], r["status"]) for r in fixed] == [
        (SITE + "/b", "broken_link", SITE + "/old", "fixed")]
    assert fixed[0]["crawl_id"] == str(week2) and fixed[0]["last_seen_crawl_id"] == str(week1)

    summary = json.loads((out / "summary.json").read_text())
    assert list(summary)[:len(SUMMARY_KEYS)] == SUMMARY_KEYS
    assert summary["crawl_id"] == week2 and summary["previous_crawl_id"] == week1
    assert summary["counts"] == {"broken_link": 2, "hard_to_read": 0}
    assert summary["new"] == {"broken_link": 1, "hard_to_read": 0}
    assert summary["fixed"] == {"broken_link": 1, "hard_to_read": 0}
    assert summary["pages_crawled"] == 3 and summary["partial"] is False

    html = report.read_text()
    assert f"Compared with crawl #{week1}" in html


def test_first_crawl_says_there_is_nothing_to_compare(con, tmp_path):
    cid = add_crawl(con, {"/": "Home", "/a": "A"}, [("broken_link", "/a", SITE + "/x", "404")])
    out = write_report(con, cid, tmp_path / "out", Options()).parent
    summary = json.loads((out / "summary.json").read_text())
    assert summary["previous_crawl_id"] is None
    assert summary["new"] == {"broken_link": 1} and summary["fixed"] == {"broken_link": 0}
    assert header(out / "fixed.csv")[:len(CONTRACT_FLAG_COLUMNS)] == CONTRACT_FLAG_COLUMNS
    assert read_csv(out / "fixed.csv") == []
    assert "First crawl of this site" in (out / "report.html").read_text()


def test_interrupted_previous_crawl_is_not_the_comparison(con, tmp_path):
    week1 = add_crawl(con, {"/": "Home", "/a": "A"}, [("broken_link", "/a", SITE + "/x", "404")])
    add_crawl(con, {"/": "Home"}, [], status="interrupted")
    week3 = add_crawl(con, {"/": "Home", "/a": "A"}, [])
    out = write_report(con, week3, tmp_path / "out", Options()).parent
    summary = json.loads((out / "summary.json").read_text())
    assert summary["previous_crawl_id"] == week1
    assert summary["fixed"] == {"broken_link": 1}


def test_interrupted_crawl_is_reported_as_partial(con, tmp_path):
    add_crawl(con, {"/": "Home", "/a": "A"}, [("broken_link", "/a", SITE + "/x", "404")])
    cid = add_crawl(con, {"/": "Home"}, [], status="interrupted")
    out = write_report(con, cid, tmp_path / "out", Options()).parent
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["partial"] is True
    assert summary["fixed"] == {"broken_link": 0}  # /a was not reached: not fixed
    assert "Partial crawl." in (out / "report.html").read_text()


# --- the files of the contract -------------------------------------------------------------------

def test_files_and_columns_follow_the_contract(con, tmp_path):
    cid = add_crawl(con, {"/": "Home", "/a": "A"}, [
        ("broken_link", "/a", SITE + "/x", "404"), ("hard_to_read", "/", "", "grade 12")],
        links=[("/a", SITE + "/x", "our services")])
    out = write_report(con, cid, tmp_path / "out", Options()).parent
    assert sorted(p.name for p in out.iterdir()) == [
        "fixed.csv", "flags.csv", "flags.xlsx", "pages.csv", "report.html", "summary.json"]
    assert header(out / "flags.csv")[:10] == CONTRACT_FLAG_COLUMNS
    assert header(out / "pages.csv")[:12] == CONTRACT_PAGE_COLUMNS
    rows = read_csv(out / "flags.csv")
    assert [(r["kind"], r["severity"]) for r in rows] == [("broken_link", "error"), ("hard_to_read", "warning")]
    assert rows[0]["anchor_text"] == "our services" and rows[0]["site"] == "clinic"
    pages = {r["url"]: r for r in read_csv(out / "pages.csv")}
    assert set(pages) == {SITE + "/", SITE + "/a"}
    assert pages[SITE + "/a"]["title"] == "A" and pages[SITE + "/a"]["status"] == "200"

    book = openpyxl.load_workbook(out / "flags.xlsx")
    assert book.sheetnames == ["Summary", "broken_link", "hard_to_read"]
    for name in ("broken_link", "hard_to_read"):
        ws = book[name]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == "A1:M2"
        assert [c.value for c in ws[1]][:10] == CONTRACT_FLAG_COLUMNS
    assert [c.value for c in book["Summary"][2]][:3] == ["broken_link", "error", 1]


def test_report_page_is_self_contained(con, tmp_path):
    cid = add_crawl(con, {"/": "Home", "/a": "A"}, [("broken_link", "/a", SITE + "/x", "404")])
    html = write_report(con, cid, tmp_path / "out", Options()).read_text()
    # Nothing fetched: no external script, style, image or font; our script allowed by hash only.
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", html)
    assert "@import" not in html and "url(" not in html
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1))
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "@media print" in html
    assert html.count("<svg class=\"chart\"") >= 2


# --- hostile page text ---------------------------------------------------------------------------

HOSTILE_TITLE = "<script>alert(1)</script>"
BREAKOUT = "</script><script>alert(2)</script>"
FORMULAS = ["=HYPERLINK(\"http://evil.test\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_hostile_title_is_text_and_runs_nothing(con, tmp_path):
    cid = add_crawl(con, {"/": HOSTILE_TITLE, "/b": BREAKOUT},
                    [("duplicate_title", "/", HOSTILE_TITLE, BREAKOUT),
                     ("broken_link", "/b", SITE + "/x", "404")],
                    links=[("/b", SITE + "/x", BREAKOUT)])
    html = write_report(con, cid, tmp_path / "out", Options()).read_text()
    assert "alert(" in html                      # the text is there...
    assert "<script>alert" not in html           # ...but never as markup
    assert "</script><script>" not in html
    # Only our own script elements: the data blocks and the one inline script.
    assert html.count("<script") == html.count('<script type="application/json"') + 1


def test_formula_text_reaches_csv_and_xlsx_as_text(con, tmp_path):
    pages = {f"/p{i}": text for i, text in enumerate(FORMULAS)}
    flags = [("duplicate_title", f"/p{i}", text, text) for i, text in enumerate(FORMULAS)]
    links = [(f"/p{i}", SITE + f"/dead{i}", text) for i, text in enumerate(FORMULAS)]
    flags += [("broken_link", f"/p{i}", SITE + f"/dead{i}", "404") for i in range(len(FORMULAS))]
    cid = add_crawl(con, pages, flags, links=links)
    out = write_report(con, cid, tmp_path / "out", Options()).parent

    rows = read_csv(out / "flags.csv")
    dup = {r["page_url"]: r for r in rows if r["kind"] == "duplicate_title"}
    broken = {r["page_url"]: r for r in rows if r["kind"] == "broken_link"}
    for i, text in enumerate(FORMULAS):
        url = SITE + f"/p{i}"
        assert dup[url]["target"] == "'" + text
        assert dup[url]["page_title"] == "'" + text
        assert broken[url]["anchor_text"] == "'" + text
    titles = {r["url"]: r["title"] for r in read_csv(out / "pages.csv")}
    assert titles[SITE + "/p0"] == "'" + FORMULAS[0]

    book = openpyxl.load_workbook(out / "flags.xlsx")
    for sheet, col in (("duplicate_title", "target"), ("broken_link", "anchor_text")):
        ws = book[sheet]
        names = [c.value for c in ws[1]]
        cells = [row[names.index(col)] for row in ws.iter_rows(min_row=2)]
        assert len(cells) == len(FORMULAS)
        for cell in cells:
            assert cell.data_type == "s", (sheet, cell.value)
            assert cell.value.startswith("'"), (sheet, cell.value)
        assert sorted(c.value[1:] for c in cells) == sorted(FORMULAS)


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("plain", "plain"), ("", ""), ("a=1", "a=1"), (" =1", " =1"),
    (-1, -1), (3.5, 3.5), (None, None),
])
def test_neutralise(value, expected):
    assert neutralise(value) == expected


@pytest.mark.parametrize("text", [
    "</script><script>alert(1)</script>", "<!-- x", "a & b", "line\u2028sep\u2029", "\"quoted\"", "",
])
def test_script_json_cannot_break_out_and_round_trips(text):
    encoded = str(script_json({"t": text}))
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in encoded
    assert json.loads(encoded) == {"t": text}


@pytest.mark.parametrize("value, expected", [
    (0, 1), (0.45, 0.5), (0.034, 0.05), (1, 1), (3, 5), (7, 10), (61, 100), (100, 100), (101, 200),
])
def test_nice_max(value, expected):
    assert nice_max(value) == pytest.approx(expected)


def test_sparkline_needs_two_crawls():
    assert str(sparkline([3])) == ""
    assert "<polyline" in str(sparkline([3, 1, 0]))


# --- bad input -----------------------------------------------------------------------------------

def test_unknown_crawl_id_is_a_clear_error(con, tmp_path):
    add_crawl(con, {"/": "Home"}, [])
    with pytest.raises(AuditError, match="no crawl with id 99"):
        write_report(con, 99, tmp_path / "out", Options())


def test_crawl_not_analysed_names_the_fix(con, tmp_path):
    cid = add_crawl(con, {"/": "Home"}, [], analysed=False)
    with pytest.raises(AuditError, match=f"analyse --crawl {cid}"):
        write_report(con, cid, tmp_path / "out", Options())


def test_unwritable_folder_is_a_clear_error(con, tmp_path):
    cid = add_crawl(con, {"/": "Home"}, [])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(AuditError, match="cannot write the report to .*another --out"):
        write_report(con, cid, blocker / "report", Options())


def test_rewrite_replaces_last_report_and_leaves_no_partial_files(con, tmp_path):
    add_crawl(con, {"/": "Home", "/a": "A"}, [("broken_link", "/a", SITE + "/x", "404")])
    cid = add_crawl(con, {"/": "Home", "/a": "A"}, [])
    out = tmp_path / "out"
    write_report(con, cid - 1, out, Options())
    write_report(con, cid, out, Options())
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert json.loads((out / "summary.json").read_text())["crawl_id"] == cid


def test_cli_report_errors_are_one_line(tmp_path):
    empty = tmp_path / "empty.duckdb"
    store.open_store(empty).close()
    result = run_cli("report", "--db", str(empty), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("Error: no crawl") and "Traceback" not in result.stderr
    result = run_cli("report", "--db", str(empty), "--crawl", "7", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "no crawl with id 7" in result.stderr


def test_cli_report_prints_path_and_fail_on(tmp_path):
    db = tmp_path / "audit.duckdb"
    con = store.open_store(db)
    add_crawl(con, {"/": "Home", "/a": "A"}, [("broken_link", "/a", SITE + "/x", "404")])
    con.close()
    out = tmp_path / "weekly"
    result = run_cli("report", "--db", str(db), "--out", str(out), "--fail-on", "error")
    assert f"Report: {out / 'report.html'}" in result.stdout
    assert result.returncode == 1
    assert read_csv(out / "flags.csv")[0]["kind"] == "broken_link"


# --- end to end: two weeks of a site the project has never seen ----------------------------------

def _dental_site(week: list[int]):
    """A dental practice and its journal on two hosts. Week 2 fixes two broken links, adds one,
    keeps one, and drops the page /posts/whitening-myths from every menu (so it is not crawled)."""
    from demo.server import HostSpec, Route

    def page(title: str, body: str) -> str:
        return (f"<!DOCTYPE html><html lang='en'><head><title>{title}</title>"
                f"<meta name='description' content='{title} at Harbour Dental, a family dental "
                f"practice that explains every treatment in plain words.'></head><body><main><h1>{title}</h1>"
                f"<p>{'Our dentists and hygienists look after teeth and gums for the whole family. ' * 6}</p>"
                f"{body}</main></body></html>")

    def week_pages(host: str) -> dict[str, tuple[str, str]]:
        w2 = week[0] == 2
        if host == "www":
            return {
                "/": ("Harbour Dental", '<p><a href="/services">Services</a> <a href="/team">Team</a> '
                      '<a href="{{host:journal}}/">Journal</a></p>'),
                "/services": ("Services", '<p><a href="/prices">Our prices</a> '
                              '<a href="{{host:journal}}/posts/flossing">How to floss</a></p>'),
                "/team": ("Team", '<p><a href="/careers">Work with us</a></p>' if w2 else
                          '<p><a href="/careers-old">Work with us</a></p>'),
                "/careers": ("Careers", "<p>We are hiring a hygienist.</p>"),
                "/contact": ("Contact", "<p>Call us.</p>"),
            }
        pages = {
            "/": ("Journal", '<p><a href="/posts/flossing">Flossing</a>'
                  + ("" if w2 else ' <a href="/posts/whitening-myths">Whitening myths</a>') + "</p>"),
            "/posts/flossing": ("Flossing", '<p><a href="{{host:www}}/contact">Book a check-up</a> '
                                '<a href="/posts/braces-guide">Braces guide</a></p>' if w2 else
                                '<p><a href="{{host:www}}/book">Book a check-up</a></p>'),
            "/posts/whitening-myths": ("Whitening myths", '<p><a href="{{host:www}}/offers">Offers</a></p>'),
        }
        return pages

    def handler(host: str):
        def answer(info):
            found = week_pages(host).get(info.path)
            if found is None:
                return Route.html("<h1>Not found</h1>", status=404)
            return Route.html(page(*found))
        return answer

    return {"www": HostSpec(routes={"/*": handler("www")}),
            "journal": HostSpec(routes={"/*": handler("journal")})}


def test_two_weeks_of_a_new_site(tmp_path):
    from demo.server import SiteServer

    week = [1]
    db = tmp_path / "dental.duckdb"
    with SiteServer(_dental_site(week)) as server:
        www, journal = server.url("www"), server.url("journal")
        args = ["run", www, journal, "--db", str(db), "--site", "dental", "--no-external", "-q"]
        first = run_cli(*args, "--out", str(tmp_path / "week1"))
        assert first.returncode == 0, first.stderr
        assert f"Report: {tmp_path / 'week1' / 'report.html'}" in first.stdout
        week[0] = 2
        second = run_cli(*args, "--out", str(tmp_path / "week2"))
        assert second.returncode == 0, second.stderr

    def broken(path: Path) -> dict[tuple[str, str], str]:
        return {(r["page_url"], r["target"]): r["status"] for r in read_csv(path)
                if r["kind"] == "broken_link"}

    week1 = broken(tmp_path / "week1" / "flags.csv")
    assert week1 == {
        (www + "services", www + "prices"): "new",
        (www + "team", www + "careers-old"): "new",
        (journal + "posts/flossing", www + "book"): "new",
        (journal + "posts/whitening-myths", www + "offers"): "new",
    }
    assert broken(tmp_path / "week2" / "flags.csv") == {
        (www + "services", www + "prices"): "recurring",
        (journal + "posts/flossing", journal + "posts/braces-guide"): "new",
    }
    # whitening-myths was not crawled in week 2: its broken link is neither current nor fixed.
    assert broken(tmp_path / "week2" / "fixed.csv") == {
        (www + "team", www + "careers-old"): "fixed",
        (journal + "posts/flossing", www + "book"): "fixed",
    }
    summary = json.loads((tmp_path / "week2" / "summary.json").read_text())
    assert (summary["counts"]["broken_link"], summary["new"]["broken_link"],
            summary["fixed"]["broken_link"]) == (2, 1, 2)
    html = (tmp_path / "week2" / "report.html").read_text()
    assert "braces-guide" in html and "Compared with crawl #1" in html
