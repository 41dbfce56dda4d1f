"""The demo's report in a real headless Chromium: charts and tables show, nothing is logged as an
error, nothing is requested from any network; and the demo run twice compares with itself.

Needs Debian's `chromium`; skipped without it unless CONTENT_AUDIT_REQUIRE_BROWSER=1 (CI).
Set CONTENT_AUDIT_UPDATE_SCREENSHOT=1 to refresh docs/report-screenshot.png."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from crawler import store
from crawler.config import Options
from reports import write_report
from bench.browser import Chromium, find_chromium

DOCS_SCREENSHOT = ROOT / "docs" / "report-screenshot.png"
PORT_WAIT = 120   # seconds to wait for the demo's fixed ports if another demo holds them

INSPECT = """(() => {
  const rows = id => document.querySelector(`.datatable[data-src="${id}"]`).querySelectorAll('tbody tr').length;
  return {
    charts: Array.from(document.querySelectorAll('svg.chart')).map(s => s.querySelectorAll('rect, circle, polyline').length),
    findings: rows('t-findings'), links: rows('t-links'), pages: rows('t-pages'), hard: rows('t-hard'),
    offpages: rows('t-offpages'), offblocks: rows('t-offblocks'),
    pager: document.querySelector('.datatable[data-src="t-findings"] .dt-pager span').textContent,
    width: document.documentElement.scrollWidth,
  };
})()"""


def need_chromium() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("CONTENT_AUDIT_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (CONTENT_AUDIT_REQUIRE_BROWSER=1) but not installed: "
                        "apt-get install chromium")
        pytest.skip("chromium not installed (Debian: apt-get install chromium); CI installs it")
    return path


def run_demo(db: Path, out: Path):
    """`pipeline.py demo`, waiting while another demo holds the fixed ports."""
    deadline = time.monotonic() + PORT_WAIT
    while True:
        result = run_cli("demo", "--db", str(db), "--out", str(out), "-q")
        if "already in use" not in result.stderr or time.monotonic() > deadline:
            return result
        time.sleep(3)


@pytest.fixture(scope="module")
def demo_twice(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    db = tmp / "demo.duckdb"
    first = run_demo(db, tmp / "week1")
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_demo(db, tmp / "week2")
    assert second.returncode == 0, second.stdout + second.stderr
    return tmp, first, second


def test_demo_prints_the_report_path(demo_twice):
    tmp, first, second = demo_twice
    assert f"Report: {tmp / 'week1' / 'report.html'}" in first.stdout
    assert f"Report: {tmp / 'week2' / 'report.html'}" in second.stdout


def test_second_demo_compares_with_the_first(demo_twice):
    tmp = demo_twice[0]
    first = json.loads((tmp / "week1" / "summary.json").read_text())
    second = json.loads((tmp / "week2" / "summary.json").read_text())
    assert first["previous_crawl_id"] is None
    assert second["previous_crawl_id"] == first["crawl_id"]
    assert second["counts"] == first["counts"] and sum(second["counts"].values()) > 20
    assert set(second["new"].values()) == {0}
    assert set(second["fixed"].values()) == {0}
    with open(tmp / "week2" / "flags.csv", encoding="utf-8", newline="") as fh:
        statuses = {row["status"] for row in csv.DictReader(fh)}
    assert statuses == {"recurring"}
    with open(tmp / "week2" / "fixed.csv", encoding="utf-8", newline="") as fh:
        assert list(csv.DictReader(fh)) == []


def test_demo_report_in_chromium(demo_twice, tmp_path):
    need_chromium()
    report = demo_twice[0] / "week2" / "report.html"
    with Chromium(width=1280, height=900) as browser:
        visit = browser.visit(report, inspect=INSPECT)
        browser.screenshot(tmp_path / "report.png", height=2400)
        if os.environ.get("CONTENT_AUDIT_UPDATE_SCREENSHOT") == "1" or not DOCS_SCREENSHOT.exists():
            browser.screenshot(DOCS_SCREENSHOT, height=2000)
        pager_before = visit.facts["pager"]
        # Work the worklist: next page, a filter, a sort.
        after = browser.evaluate("""(() => {
          const t = document.querySelector('.datatable[data-src="t-findings"]');
          t.querySelectorAll('.dt-pager button')[1].click();
          const page2 = t.querySelectorAll('tbody tr').length;
          const input = t.querySelector('input[type=search]');
          input.value = 'broken_link'; input.dispatchEvent(new Event('input'));
          const filtered = t.querySelectorAll('tbody tr').length;
          t.querySelectorAll('th button')[0].click();
          const sorted = t.querySelector('th').getAttribute('aria-sort');
          return {page2, filtered, sorted};
        })()""")
        pdf = browser.print_pdf(tmp_path / "report.pdf")
        late = browser.visit(report)   # requests and errors of a second, clean load
    assert visit.errors == [] and late.errors == []
    assert visit.requests == [report.resolve().as_uri()]
    facts = visit.facts
    assert len(facts["charts"]) == 4 and all(n > 0 for n in facts["charts"]), facts
    assert facts["findings"] == 50 and facts["pager"].startswith("page 1 of ")
    assert facts["links"] >= 4 and facts["hard"] >= 1 and facts["offpages"] >= 4 and facts["offblocks"] >= 1
    assert facts["pages"] >= 20
    assert facts["width"] <= 1280, "the page scrolls sideways on a laptop screen"
    assert visit.ready_seconds < 5
    assert pager_before != "no rows match"
    assert 0 < after["page2"] <= 50 and after["filtered"] == 4 and after["sorted"] == "ascending"
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_hostile_title_runs_nothing_in_chromium(tmp_path):
    need_chromium()
    from test_report import BREAKOUT, HOSTILE_TITLE, SITE, add_crawl

    con = store.open_store(tmp_path / "audit.duckdb")
    try:
        cid = add_crawl(con, {"/": HOSTILE_TITLE, "/b": BREAKOUT},
                        [("duplicate_title", "/", HOSTILE_TITLE, BREAKOUT),
                         ("broken_link", "/b", SITE + "/x", "404")],
                        links=[("/b", SITE + "/x", BREAKOUT)])
        report = write_report(con, cid, tmp_path / "out", Options())
    finally:
        con.close()
    with Chromium() as browser:
        visit = browser.visit(report, inspect="""(() => {
          const t = document.querySelector('.datatable[data-src="t-pages"]');
          return {text: t.textContent, scripts: document.scripts.length}; })()""")
    assert visit.errors == []      # an alert() would show here as a dialog
    assert HOSTILE_TITLE in visit.facts["text"] and BREAKOUT in visit.facts["text"]
    # Our data blocks plus our one script: nothing injected.
    assert visit.facts["scripts"] == report.read_text().count("<script")


def test_a_block_on_many_pages_is_one_folded_row(tmp_path):
    need_chromium()
    from test_report import SITE, add_crawl

    teaser = "“Win big at our partner casino tonight…Read More”: links to an off-topic page"
    pages = {f"/post-{i}": f"Post {i}" for i in range(25)} | {"/post-x": "Post X"}
    flags = [("off_topic_block", f"/post-{i}", SITE + "/casino", teaser) for i in range(25)]
    flags.append(("off_topic_block", "/post-x", SITE + "/loans", "“Quick loans”: injected"))
    con = store.open_store(tmp_path / "audit.duckdb")
    try:
        cid = add_crawl(con, pages, flags)
        report = write_report(con, cid, tmp_path / "out", Options())
    finally:
        con.close()
    with Chromium() as browser:
        visit = browser.visit(report, inspect="""(() => {
          const t = document.querySelector('.datatable[data-src="t-offblocks"]');
          const f = document.querySelector('.datatable[data-src="t-findings"]');
          return {rows: t.querySelectorAll('tbody tr').length,
                  summaries: Array.from(t.querySelectorAll('summary')).map(s => s.textContent),
                  open: t.querySelector('details') && t.querySelector('details').open,
                  bullets: Array.from(t.querySelectorAll('tbody tr')).map(r => r.querySelectorAll('li').length),
                  options: Array.from(f.querySelectorAll('select option')).map(o => o.textContent)}; })()""")
    assert visit.errors == []
    facts = visit.facts
    assert facts["rows"] == 2 and facts["summaries"] == ["on 25 pages"] and facts["open"] is False
    assert facts["bullets"] == [25, 1]            # the list is there, folded; a single page stays a bullet
    assert "all statuses" in facts["options"] and "all kinds" in facts["options"]
    assert not [o for o in facts["options"] if o.endswith("ss")]
