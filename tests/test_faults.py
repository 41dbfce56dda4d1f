"""Faults and hostile sites (issue 13), each reproduced on loopback: the run is bounded, the
message is one line that says what happened and what to do, and the database's rows agree."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, RawServer, free_port, query, run_cli
from demo.server import HostSpec, Route, SiteServer

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
FAST = ["--timeout", "2", "--concurrency", "4", "-q"]


def page(title: str, body: str = "") -> str:
    return (f"<!doctype html><html lang='en'><head><title>{title}</title></head><body><main>"
            f"<h1>{title}</h1><p>Some words about {title.lower()} for the reader.</p>{body}</main></body></html>")


def links_to(paths) -> str:
    return "".join(f'<a href="{p}">to {p}</a> ' for p in paths)


def site_of(n: int, delay: float = 0.0, extra: dict | None = None, dense: bool = False) -> dict[str, HostSpec]:
    """A home page linking n pages; each page links home and the next, or (dense) every page,
    so that rows reach the database in several flushes (2,000 rows each) during the crawl."""
    every = links_to(f"/p{i}" for i in range(n))
    routes = {"/": Route.html(page("Home", every))}
    for i in range(n):
        routes[f"/p{i}"] = Route.html(page(f"Page {i}", every if dense else links_to(["/", f"/p{(i + 1) % n}"])),
                                      delay=delay)
    routes.update(extra or {})
    return {"site": HostSpec(routes=routes)}


def no_retries(folder: Path) -> Path:
    """A config for a failing site: no retries and no throttling, so a test's failures come fast."""
    path = folder / "audit.toml"
    path.write_text("autothrottle = false\n[links]\nretry_times = 0\n")
    return path


def one_error_line(result) -> str:
    lines = [l for l in result.stderr.strip().splitlines() if not l.startswith("Note: ")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr
    return lines[0]


def assert_rows_agree(db: Path) -> None:
    """No link or block row without its page, no page without its response, no page twice in
    one crawl, no finding on a page its crawl does not hold, no crawl left running."""
    checks = {
        "links without page": "SELECT count(*) FROM links l WHERE NOT EXISTS (SELECT 1 FROM pages p "
                              "WHERE p.crawl_id = l.crawl_id AND p.url = l.source_url)",
        "blocks without page": "SELECT count(*) FROM blocks b WHERE NOT EXISTS (SELECT 1 FROM pages p "
                               "WHERE p.crawl_id = b.crawl_id AND p.url = b.page_url)",
        "pages without response": "SELECT count(*) FROM pages p WHERE NOT EXISTS (SELECT 1 FROM responses r "
                                  "WHERE r.crawl_id = p.crawl_id AND r.url = p.url)",
        "duplicate pages": "SELECT count(*) - count(DISTINCT (crawl_id, url)) FROM pages",
        "duplicate responses": "SELECT count(*) - count(DISTINCT (crawl_id, url)) FROM responses",
        "findings off the crawl": "SELECT count(*) FROM flags f WHERE NOT EXISTS (SELECT 1 FROM responses r "
                                  "WHERE r.crawl_id = f.crawl_id AND r.url = f.page_url)",
        "running crawls": "SELECT count(*) FROM crawls WHERE status = 'running'",
    }
    found = {name: query(db, sql)[0][0] for name, sql in checks.items()}
    assert found == dict.fromkeys(checks, 0), found


def main_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """`pipeline.main(ARGS)` in this process, for commands that must stop before any crawl
    (a crawl would start Twisted's reactor, which runs once per process)."""
    from pipeline import main
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def start_crawl(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "pipeline.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, **kwargs)


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


# --- hangs and runaway work ------------------------------------------------------------------

def endless_index(info) -> Route:
    n = int(info.param("n", "0"))
    return Route(body="<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                      f"<sitemap><loc>{{{{host:site}}}}/index?n={n + 1}</loc></sitemap>"
                      f"<sitemap><loc>{{{{host:site}}}}/index?n={n + 1}&amp;b=1</loc></sitemap></sitemapindex>",
                 content_type="application/xml")


def test_endless_sitemap_indexes_and_a_20_mb_robots_txt(tmp_path):
    """Every sitemap index names two new ones; robots.txt is 20 MB, its Disallow at the top."""
    db = tmp_path / "a.duckdb"
    robots = ("User-agent: *\nDisallow: /private/\nSitemap: {{host:site}}/index?n=0\n"
              + "# padding line of a generated robots file\n" * 500_000)
    site = site_of(3, extra={"/": Route.html(page("Home", links_to(["/p0", "/p1", "/p2", "/private/x"]))),
                             "/private/x": Route.html(page("Secret")), "/robots.txt": Route.text(robots),
                             "/sitemap.xml": Route.dynamic(endless_index), "/index": Route.dynamic(endless_index)})
    with SiteServer(site) as server:
        result = run_cli("crawl", server.url("site"), "--db", str(db), *FAST, timeout=60)
        indexes = sum(r.path.startswith(("/index", "/sitemap")) for r in server.requests)
        assert server.count(host="site", path="/private/x") == 0
        assert query(db, "SELECT outcome FROM responses WHERE url = ?",
                     [server.url("site", "/private/x")]) == [("blocked_by_robots",)]
    assert len(robots) > 20_000_000
    assert result.returncode == 0, result.stderr
    assert indexes < 40  # at most 3 levels of index below the robots.txt and /sitemap.xml ones
    (stats,) = query(db, "SELECT stats FROM crawls")[0]
    assert json.loads(stats)["sitemaps_not_read"] > 0
    assert query(db, "SELECT count(*) FROM pages")[0][0] == 4
    assert_rows_agree(db)


def test_endless_redirect_chain_neither_runs_forever_nor_eats_the_budget(tmp_path):
    db = tmp_path / "a.duckdb"
    def hop(info):
        return Route.redirect(f"/hop?n={int(info.param('n', '0')) + 1}")
    sitemap = ("<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
               "<url><loc>{{host:site}}/only-in-sitemap</loc></url></urlset>")
    site = {"site": HostSpec(routes={
        "/": Route.html(page("Home", links_to(["/hop?n=0", "/about"]))),
        "/about": Route.html(page("About")),
        "/only-in-sitemap": Route.html(page("Holiday hours")),
        "/hop": Route.dynamic(hop),
        "/sitemap.xml": Route(body=sitemap, content_type="application/xml"),
    })}
    with SiteServer(site) as server:
        result = run_cli("run", server.url("site"), "--db", str(db), "--out", str(tmp_path / "r"),
                         "--max-pages", "5", *FAST, timeout=60)
        hops = sum(r.path.startswith("/hop") for r in server.requests)
        sitemap_only = server.url("site", "/only-in-sitemap")
    assert result.returncode == 0, result.stderr
    assert hops <= 22  # 21 hops, as a browser gives up after 20
    urls = {u for (u,) in query(db, "SELECT url FROM pages")}
    assert sitemap_only in urls
    assert query(db, "SELECT count(*) FROM flags WHERE detail LIKE 'more than 20 redirects%'")[0][0] == 1
    assert json.loads(query(db, "SELECT stats FROM crawls")[0][0])["redirect_chains_cut"] == 1
    header = (tmp_path / "r" / "report.html").read_text()
    assert "Endless redirects cut short." in header and "Page limit reached." not in header
    assert_rows_agree(db)


# --- false "all clear" -------------------------------------------------------------------------

@pytest.mark.parametrize("answer, fail_on", [("nothing listens", []), ("404", ["--fail-on", "error"])])
def test_start_url_that_fails_is_never_all_clear(tmp_path, answer, fail_on):
    db, out = tmp_path / "a.duckdb", tmp_path / "report"
    site = {"site": HostSpec(routes={"/": Route.html("gone", status=404)})}
    with SiteServer(site) as server:
        url = f"http://127.0.0.1:{free_port()}/" if answer == "nothing listens" else server.url("site")
        result = run_cli("run", url, "--db", str(db), "--out", str(out), *FAST, *fail_on,
                         "--config", str(no_retries(tmp_path)), timeout=60)
    assert result.returncode == 2
    line = one_error_line(result)
    assert "could not see the site" in line and ("connection refused" in line or "404" in line)
    assert "  none\n" not in result.stdout
    assert query(db, "SELECT status FROM crawls") == [("failed",)]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["site_seen"] is False and summary["partial"] is True
    assert "could not see the site" in (out / "report.html").read_text()


def test_site_going_down_midway_is_a_partial_crawl(tmp_path):
    db, out = tmp_path / "a.duckdb", tmp_path / "report"
    server = SiteServer(site_of(80, delay=0.05)).start()
    try:
        proc = start_crawl("run", server.url("site"), "--db", str(db), "--out", str(out), *FAST,
                           "--config", str(no_retries(tmp_path)))
        wait_for(lambda: server.count(host="site") >= 15)
        server.stop()  # nothing listens any more: every request is refused
        _, err = proc.communicate(timeout=60)
    finally:
        server.stop()
    assert proc.returncode == 2, err
    line = one_error_line(subprocess.CompletedProcess([], 2, "", err))
    assert "partial" in line and "stopped answering" in line and "--resume" in line
    assert query(db, "SELECT status FROM crawls") == [("partial",)]
    # the pages not reached are not broken links of the site
    broken = query(db, "SELECT count(*) FROM responses WHERE is_internal AND error = 'connection refused'")[0][0]
    assert broken == 0
    assert query(db, "SELECT count(*) FROM flags WHERE kind = 'broken_link' AND detail LIKE '%refused%'")[0][0] == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "partial" and summary["partial"] and summary["site_seen"]
    assert "Partial crawl: the site stopped answering." in (out / "report.html").read_text()
    assert_rows_agree(db)


# --- lost or doubled data --------------------------------------------------------------------

def test_sigkill_mid_crawl_then_resume_with_only_some_start_urls(tmp_path):
    db = tmp_path / "a.duckdb"
    site = site_of(60, delay=0.1, dense=True)
    site["blog"] = HostSpec(routes={"/": Route.html(page("Blog", links_to(["/post", "{{host:site}}/p1"]))),
                                    "/post": Route.html(page("Post", links_to(["{{host:site}}/"])))})
    with SiteServer(site) as server:
        proc = start_crawl("crawl", server.url("site"), server.url("blog"), "--db", str(db), *FAST)
        wait_for(lambda: server.count(host="site") >= 45)  # past the first flush
        proc.kill()  # SIGKILL: no chance to close anything
        proc.wait(timeout=10)
        assert query(db, "SELECT status FROM crawls") == [("running",)]
        # resumed with the first start URL only: the blog stays part of the site
        result = run_cli("crawl", server.url("site"), "--resume", "--db", str(db), *FAST, timeout=90)
        assert result.returncode == 0, result.stderr
        assert "was left running by process" in result.stderr and "marked interrupted" in result.stderr
        assert query(db, "SELECT count(*), max(status) FROM crawls") == [(1, "finished")]
        internal = dict(query(db, "SELECT url, is_internal FROM responses WHERE host = ?",
                              [server.url("blog").split("//")[1].rstrip("/")]))
        assert internal and all(internal.values())
        assert query(db, "SELECT count(*) FROM pages")[0][0] == 63
        assert_rows_agree(db)
        analysed = run_cli("analyse", "--db", str(db), "-q")
        assert analysed.returncode == 0, analysed.stderr
        assert_rows_agree(db)


def test_next_run_after_sigkill_closes_the_dead_crawl(tmp_path):
    db = tmp_path / "a.duckdb"
    with SiteServer(site_of(60, delay=0.1, dense=True)) as server:
        proc = start_crawl("crawl", server.url("site"), "--db", str(db), *FAST)
        wait_for(lambda: server.count(host="site") >= 45)
        proc.kill()
        proc.wait(timeout=10)
        result = run_cli("crawl", server.url("site"), "--db", str(db), "--max-pages", "3", *FAST, timeout=60)
    assert result.returncode == 0, result.stderr
    note = [l for l in result.stderr.splitlines() if l.startswith("Note: ")]
    assert len(note) == 1 and "--resume" in note[0]
    assert query(db, "SELECT status, stats->>'close_reason' FROM crawls ORDER BY crawl_id") == [
        ("interrupted", "killed"), ("finished", "finished")]
    assert_rows_agree(db)


def test_resume_after_the_job_folder_is_gone_runs_the_printed_command(tmp_path):
    db = tmp_path / "a.duckdb"
    with SiteServer(site_of(30, delay=0.1)) as server:
        proc = start_crawl("crawl", server.url("site"), "--db", str(db), "--concurrency", "2")
        wait_for(lambda: server.count(host="site") >= 8)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 3, err
        printed = [l for l in out.splitlines() if "Continue with: " in l]
        assert len(printed) == 1
        shutil.rmtree(f"{db}.jobs")
        command = printed[0].split("Continue with: ")[1].split()
        assert command[:2] == ["python", "pipeline.py"]
        result = run_cli(*command[2:], "-q", timeout=90)
    assert result.returncode == 0, result.stderr
    assert query(db, "SELECT count(*), max(status) FROM crawls") == [(1, "finished")]
    assert query(db, "SELECT count(*) FROM pages")[0][0] == 31
    assert_rows_agree(db)
    assert not Path(f"{db}.jobs").exists()


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_disk_full_stops_the_crawl_with_one_line(tmp_path):
    db = tmp_path / "a.duckdb"
    from crawler import store
    store.open_store(db).close()  # the database exists, with its schema
    import random
    words = random.Random(13).choices(["sleep", "mood", "clinic", "anxiety", "therapy", "care", "night",
                                       "rest", "doctor", "walk", "light", "dream"], k=200_000)
    filler = lambda i: "<p>" + " ".join(words[i * 2500:(i + 1) * 2500]) + f" {i}.</p>"
    site = site_of(80, extra={f"/p{i}": Route.html(page(f"Page {i}", filler(i) + links_to([f"/p{i + 1}"])))
                              for i in range(80)})
    with SiteServer(site) as server:
        proc = start_crawl("crawl", server.url("site"), "--db", str(db), *FAST,
                           preexec_fn=_limit_file_size(db.stat().st_size + 50_000))
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 2
        line = one_error_line(subprocess.CompletedProcess([], 2, "", err))
        assert "disk full" in line and "--resume" in line
        # with space again, the crawl is closed (if the full disk kept it `running`) and resumed
        result = run_cli("crawl", "--resume", "--site", server.url("site").split("//")[1].rstrip("/"),
                         "--db", str(db), *FAST)
    assert result.returncode == 0, result.stderr
    assert query(db, "SELECT count(*), max(status) FROM crawls") == [(1, "finished")]
    assert query(db, "SELECT count(*) FROM pages")[0][0] == 81
    assert_rows_agree(db)


def test_ctrl_c_while_reanalysing_keeps_status_and_first_seen(tmp_path):
    db = tmp_path / "a.duckdb"
    broken = {f"/p{i}": Route.html(page(f"Page {i}", links_to(["/gone", f"/p{i + 1}"]))) for i in range(60)}
    with SiteServer(site_of(60, extra=broken)) as server:
        assert run_cli("run", server.url("site"), "--db", str(db), "--out", str(tmp_path / "r"), *FAST).returncode == 0
    before = query(db, "SELECT kind, page_url, detail, status, first_seen FROM flags ORDER BY ALL")
    assert before and all(status and first_seen for *_, status, first_seen in before)
    wal = Path(f"{db}.wal")
    assert not wal.exists()
    proc = start_crawl("analyse", "--db", str(db), "-q")
    wait_for(lambda: wal.exists() or proc.poll() is not None)  # the first write: the analysis began
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3 and err.strip() == "Error: interrupted", err
    assert query(db, "SELECT kind, page_url, detail, status, first_seen FROM flags ORDER BY ALL") == before
    assert query(db, "SELECT analysed_at IS NOT NULL FROM crawls") == [(True,)]
    report = run_cli("report", "--db", str(db), "--out", str(tmp_path / "r"), "-q")
    assert report.returncode == 0, report.stderr
    assert_rows_agree(db)


def test_stdout_that_cannot_be_written_does_not_stop_the_work(tmp_path):
    # -q changes only the progress display: one case with it, one without
    with SiteServer(site_of(3)) as server:
        for name, out, quiet in (("devfull", "/dev/full", []), ("pipe", None, ["-q"])):
            db, report = tmp_path / f"{name}.duckdb", tmp_path / name
            args = [sys.executable, str(ROOT / "pipeline.py"), "run", server.url("site"), "--db", str(db),
                    "--out", str(report), "--timeout", "2", *quiet]
            if out:
                with open(out, "w") as full:
                    proc = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True, env=ENV, timeout=60)
                code, err = proc.returncode, proc.stderr
            else:  # `| head -1`: the reader goes away after one line
                proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
                proc.stdout.readline()
                proc.stdout.close()
                err = proc.stderr.read()
                code = proc.wait(timeout=60)
            assert code == 0, (name, err)
            assert "Traceback" not in err and "Error" not in err
            assert (report / "summary.json").exists()
            assert query(db, "SELECT status, analysed_at IS NOT NULL FROM crawls") == [("finished", True)]


def test_another_programs_duckdb_is_refused_untouched(tmp_path, capsys):
    db = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR)")
    con.execute("INSERT INTO customers VALUES (1, 'Ada')")
    con.close()
    result = main_here(capsys, "crawl", f"http://127.0.0.1:{free_port()}/", "--db", str(db), *FAST)
    assert result.returncode == 2
    assert "DuckDB database of another program (tables customers)" in one_error_line(result)
    assert query(db, "SELECT table_name FROM information_schema.tables") == [("customers",)]


# --- rules kept --------------------------------------------------------------------------------

def test_responses_over_the_size_cap_are_too_large_with_or_without_a_length(tmp_path):
    cfg = tmp_path / "audit.toml"
    cfg.write_text("max_bytes = 1000000\nautothrottle = false\n[links]\nretry_times = 0\n")
    db = tmp_path / "a.duckdb"
    big = page("Big", "<p>" + "word " * 300_000 + "</p>")
    endless = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body><p>" + b"word " * 400_000
    site = site_of(1, extra={"/": Route.html(page("Home", links_to(["/p0", "/big"]))), "/big": Route.html(big)})
    with RawServer(endless) as raw, SiteServer(site) as server:
        # the raw server is a start URL: a page of the site, read (not only checked) without a length
        result = run_cli("crawl", server.url("site"), raw.url("/"), "--db", str(db), "-q", "--config", str(cfg))
        assert result.returncode == 0, result.stderr
        rows = query(db, "SELECT url, outcome, error, bytes FROM responses WHERE url IN (?, ?) ORDER BY url = ?",
                     [raw.url("/"), server.url("site", "/big"), raw.url("/")])
        big_url = server.url("site", "/big")
    limit = "too large (over the 1,000,000-byte limit)"
    assert rows[0] == (big_url, "too_large", limit, len(big.encode()))  # announced by Content-Length
    assert rows[1][1:3] == ("too_large", limit)


def test_unwritable_out_is_found_before_the_crawl(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    with SiteServer(site_of(2)) as server:
        result = main_here(capsys, "run", server.url("site"), "--db", str(tmp_path / "a.duckdb"),
                         "--out", str(tmp_path / "file" / "report"), *FAST)
        assert server.count() == 0
    assert result.returncode == 2
    assert "cannot write the report" in one_error_line(result)


@pytest.mark.parametrize("config, args, message", [
    ("", ["--timeout", "nan"], "timeout"),
    ("delay = -1\n", [], "delay must be 0 or more"),
    ("trap_chain = 0\n", [], "trap_chain"),
    ("max_query_length = -1\n", [], "max_query_length"),
    ("[links]\nmax_retry_after = -10\n", [], "max_retry_after"),
    ("[readability]\ntarget_grade = nan\n", [], "target_grade"),
    ('[severity]\nbrokn_link = "warning"\n', [], "did you mean broken_link?"),
])
def test_bad_config_values_are_refused_before_the_crawl(tmp_path, config, args, message, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "audit.toml"
    cfg.write_text(config)
    result = main_here(capsys, "crawl", f"http://127.0.0.1:{free_port()}/", "--config", str(cfg), *args)
    assert result.returncode == 2
    assert message in one_error_line(result)
    assert not (tmp_path / "audit.duckdb").exists()


def test_utf8_bom_in_the_config_is_accepted(tmp_path):
    cfg = tmp_path / "audit.toml"
    cfg.write_bytes("\ufeffmax_pages = 2\n".encode("utf-8"))
    with SiteServer(site_of(5)) as server:
        result = run_cli("crawl", server.url("site"), "--config", str(cfg), "--db", str(tmp_path / "a.duckdb"), *FAST)
    assert result.returncode == 0, result.stderr
    assert query(tmp_path / "a.duckdb", "SELECT count(*) FROM pages")[0][0] == 2


# --- messages ----------------------------------------------------------------------------------

def test_broken_servers_and_a_70_kb_href_get_plain_reasons(tmp_path):
    db = tmp_path / "a.duckdb"
    long_href = "/search?q=" + "x" * 70_000
    with RawServer(b"THIS IS NOT HTTP\r\n\r\n") as not_http, RawServer(b"") as hangs_up:
        site = site_of(1, extra={"/": Route.html(page("Home", links_to(
            ["/p0", not_http.url("/a"), hangs_up.url("/b"), long_href])))})
        with SiteServer(site) as server:
            result = run_cli("run", server.url("site"), "--db", str(db), "--out", str(tmp_path / "r"), *FAST,
                             "--config", str(no_retries(tmp_path)), timeout=60)
    assert result.returncode == 0, result.stderr
    errors = dict(query(db, "SELECT url, error FROM responses WHERE outcome = 'error' AND length(url) < 1000"))
    (too_long,) = query(db, "SELECT error FROM responses WHERE length(url) > 70000")[0]
    assert too_long.startswith("invalid URL: too long (70,")
    assert query(db, "SELECT kind FROM flags WHERE detail LIKE '%too long%'") == [("broken_link",)]
    assert_rows_agree(db)
    assert errors == {not_http.url("/a"): "invalid HTTP response (the server did not answer in HTTP)",
                      hangs_up.url("/b"): "connection lost"}
    report = (tmp_path / "r" / "report.html").read_text() + (tmp_path / "r" / "flags.csv").read_text()
    for raw in ("Error:", "Failure", "twisted", "ParseError", "ConnectionDone"):
        assert raw not in report


def test_a_folder_as_config_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = main_here(capsys, "crawl", "http://127.0.0.1:9/", "--config", str(tmp_path))
    assert result.returncode == 2
    assert "is a folder" in one_error_line(result)


def test_a_wal_that_cannot_be_created_is_one_line(tmp_path, capsys):
    db = tmp_path / "a.duckdb"
    (tmp_path / "a.duckdb.wal").mkdir()  # what a file cannot be created over, even as root
    result = main_here(capsys, "crawl", f"http://127.0.0.1:{free_port()}/", "--db", str(db), *FAST)
    assert result.returncode == 2
    assert "a.duckdb" in one_error_line(result)


def test_two_reports_into_one_folder_at_once(tmp_path):
    db = tmp_path / "a.duckdb"
    with SiteServer(site_of(3)) as server:
        assert run_cli("run", server.url("site"), "--db", str(db), "--out", str(tmp_path / "first"), *FAST).returncode == 0
    shutil.copy(db, tmp_path / "b.duckdb")
    out = tmp_path / "shared"
    procs = [start_crawl("report", "--db", str(tmp_path / name), "--out", str(out), "-q")
             for name in ("a.duckdb", "b.duckdb")]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    for code, err in results:
        assert code == 0, err
    assert json.loads((out / "summary.json").read_text())["pages_crawled"] == 4
    assert not list(out.glob(".*partial"))


@pytest.mark.parametrize("args", [[], ["bogus"], ["crawl", "--bogus"]])
def test_usage_hint_names_the_program_once(args, tmp_path):
    result = run_cli(*args, cwd=tmp_path)  # a subprocess: the hint names sys.argv[0]
    assert result.returncode == 2
    line = one_error_line(result)
    assert "pipeline.py pipeline.py" not in line and "--help" in line
