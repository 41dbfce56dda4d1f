"""The crawl end to end: a hostile two-host site on loopback, crawled by `pipeline.py crawl` into DuckDB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, free_port, query, run_cli
from demo.server import HostSpec, Route, SiteServer

NAV = '<nav><a href="/">Home</a> <a href="/about">About</a> <a href="{{host:blog}}/">Blog</a></nav>'
FOOT = "<footer>Clinic Street 1, contact us any weekday.</footer>"


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><title>{title}</title></head><body>"
            f"<header>{NAV}</header><main>{body}</main>{FOOT}</body></html>")


def calendar(info) -> Route:
    month = int(info.param("month", "0"))
    return Route.html(page(f"Calendar {month}", f"<p>Events of month {month}.</p>"
                           f"<a href='/calendar?month={month + 1}'>next month</a>"))


def hostile_site(refused_port: int) -> dict[str, HostSpec]:
    cp1252 = ("<html><head><title>Caf\xe9 na\xefve</title></head><body><main><p>Un caf\xe9 "
              "\u201cna\xefve\u201d \u2013 d\xe9j\xe0 vu.</p></main></body></html>").encode("cp1252")
    home = page("Home", """
        <p>Welcome to the clinic. <a href="/about">About us</a>, <a href="/broken">a broken page</a>,
        <a href="/loop-a">loop</a>, <a href="/chain-1">old address</a>, <a href="/slow">slow page</a>,
        <a href="/big">big page</a>, <a href="/binary">binary</a>, <a href="/cp1252">cafe page</a>,
        <a href="/malformed">malformed</a>, <a href="/calendar?month=1">calendar</a>,
        <a href="/private/secret">private</a>, <a href="/about?sid=abc123">session link</a>,
        <a href="mailto:info@clinic.test">mail us</a>, <a href="tel:+15550100">call</a>,
        <a href="{{host:ext}}/ok">partner</a>, <a href="{{host:ext}}/missing">gone partner page</a>,
        <a href="http://127.0.0.1:%d/x">refused</a></p>""" % refused_port)
    about = page("About", """
        <h1 id="team">About the clinic</h1>
        <p>We treat depression and anxiety with care. Read our <a href="{{host:blog}}/post">blog post
        about sleep</a>.</p> <a href="{{host:ext}}/ok">partner again</a>""")
    site = HostSpec(routes={
        "/": Route.html(home),
        "/about": Route.html(about),
        "/only-in-sitemap": Route.html(page("Holiday hours", "<p>Closed on holidays.</p>")),
        "/robots.txt": Route.text("User-agent: *\nDisallow: /private/\nSitemap: {{host:site}}/sitemap.xml\n"),
        "/sitemap.xml": Route(body="<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                              "<url><loc>{{host:site}}/</loc></url><url><loc>{{host:site}}/about</loc></url>"
                              "<url><loc>{{host:site}}/only-in-sitemap</loc></url></urlset>",
                              content_type="application/xml"),
        "/loop-a": Route.redirect("/loop-b"),
        "/loop-b": Route.redirect("/loop-a"),
        "/chain-1": Route.redirect("/chain-2"),
        "/chain-2": Route.redirect("/chain-3", status=302),
        "/chain-3": Route.redirect("/about"),
        "/slow": Route.html(page("Slow", "<p>slow</p>"), delay=4),
        "/big": Route.html(page("Big", "<p>" + "word " * 1_100_000 + "</p>")),
        "/binary": Route(body=bytes(range(256)) * 64, content_type="text/html"),
        "/cp1252": Route(body=cp1252, content_type="text/html"),
        "/malformed": Route.html("<html><body><p>unclosed <div><a href='/about'>x</b></table><p>more"),
        "/calendar": calendar,
        "/private/secret": Route.html(page("Secret", "<p>secret</p>")),
    })
    blog = HostSpec(routes={
        "/": Route.html(page("Blog", '<p><a href="/post">Sleep and mood</a></p>')),
        "/post": Route.html(page("Sleep and mood", '<p>Sleep helps. See <a href="{{host:site}}/about#team">'
                                 'our team</a> and <a href="{{host:site}}/missing-page">a page that is gone</a>.</p>')),
    })
    ext = HostSpec(routes={"/ok": Route.html("<p>ok</p>")})
    return {"site": site, "blog": blog, "ext": ext}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    db = tmp_path_factory.mktemp("crawl") / "audit.duckdb"
    with SiteServer(hostile_site(free_port())) as server:
        result = run_cli("crawl", server.url("site"), server.url("blog"), "--db", str(db),
                         "--timeout", "1", "--concurrency", "4", "--config", str(_trap_config(db.parent)))
        yield server, db, result


def _trap_config(folder: Path) -> Path:
    path = folder / "audit.toml"
    path.write_text("trap_chain = 10\n[links]\nretry_times = 1\n")
    return path


def rows(db, sql, *params):
    return query(db, sql, list(params))


def test_crawl_exits_zero_and_prints_summary(crawled):
    server, db, result = crawled
    assert result.returncode == 0, result.stderr
    assert "finished" in result.stdout
    assert "links found" in result.stdout
    assert "Traceback" not in result.stderr


def test_every_page_on_both_hosts_and_sitemap_only_page_crawled(crawled):
    server, db, _ = crawled
    fetched = {u for (u,) in rows(db, "SELECT url FROM pages")}
    for host, path in [("site", "/"), ("site", "/about"), ("blog", "/"), ("blog", "/post"),
                       ("site", "/malformed"), ("site", "/cp1252"), ("site", "/only-in-sitemap")]:
        assert server.url(host, path) in fetched, (host, path)
    (found_by,) = rows(db, "SELECT found_by FROM responses WHERE url = ?", server.url("site", "/only-in-sitemap"))[0]
    assert found_by == "sitemap"
    assert rows(db, "SELECT count(*) FROM sitemap_urls")[0][0] == 3


def test_robots_disallowed_url_is_recorded_not_fetched(crawled):
    server, db, _ = crawled
    assert server.count(host="site", path="/private/secret") == 0
    (outcome,) = rows(db, "SELECT outcome FROM responses WHERE url = ?", server.url("site", "/private/secret"))[0]
    assert outcome == "blocked_by_robots"


def test_links_recorded_with_anchor_text_and_block(crawled):
    server, db, _ = crawled
    found = rows(db, "SELECT anchor_text, block_role, target_type, fragment FROM links "
                 "WHERE source_url = ? AND url = ?", server.url("blog", "/post"), server.url("site", "/about"))
    assert found == [("our team", "main", "internal", "team")]
    unfetchable = {r[0] for r in rows(db, "SELECT invalid_reason FROM links WHERE target_type = 'unfetchable'")}
    assert {"mailto", "tel"} <= unfetchable
    # The menu sits in <header><nav>: navigation, never main.
    menu = rows(db, "SELECT DISTINCT block_role FROM links WHERE anchor_text = 'Blog'")
    assert menu == [("nav",)]


def test_external_link_checked_once_and_failures_recorded(crawled):
    server, db, _ = crawled
    assert server.count(host="ext", path="/ok") == 1
    status = dict(rows(db, "SELECT url, status FROM responses WHERE NOT is_internal AND outcome = 'fetched'"))
    assert status[server.url("ext", "/ok")] == 200
    assert status[server.url("ext", "/missing")] == 404
    errors = dict(rows(db, "SELECT url, error FROM responses WHERE outcome = 'error'"))
    assert any(e == "connection refused" for e in errors.values())
    assert errors[server.url("site", "/slow")] == "timeout"


def test_redirect_hops_and_loops_survive_the_duplicate_filter(crawled):
    server, db, _ = crawled
    hops = dict(rows(db, "SELECT url, redirect_to FROM responses WHERE redirect_to IS NOT NULL"))
    assert hops[server.url("site", "/loop-a")] == server.url("site", "/loop-b")
    assert hops[server.url("site", "/loop-b")] == server.url("site", "/loop-a")
    assert hops[server.url("site", "/chain-3")] == server.url("site", "/about")


def test_hostile_responses_get_recorded_outcomes(crawled):
    server, db, _ = crawled
    (error,) = rows(db, "SELECT error FROM responses WHERE url = ?", server.url("site", "/binary"))[0]
    assert error == "binary content served as HTML"
    assert rows(db, "SELECT count(*) FROM pages WHERE url = ?", server.url("site", "/binary"))[0][0] == 0
    (title,) = rows(db, "SELECT title FROM pages WHERE url = ?", server.url("site", "/cp1252"))[0]
    assert title == "Café naïve"
    text = rows(db, "SELECT string_agg(text, ' ') FROM blocks WHERE page_url = ?", server.url("site", "/cp1252"))[0][0]
    assert "“naïve” – déjà vu" in text
    (size,) = rows(db, "SELECT bytes FROM responses WHERE url = ?", server.url("site", "/big"))[0]
    assert size > 5_000_000


def test_calendar_trap_is_bounded_and_recorded(crawled):
    server, db, _ = crawled
    assert server.count(host="site", path="/calendar") <= 12
    traps = rows(db, "SELECT url, error FROM responses WHERE outcome = 'trap'")
    assert len(traps) == 1 and "calendar?month=*" in traps[0][1]


def test_session_id_link_is_crawled_without_it(crawled):
    server, db, _ = crawled
    assert not any("sid=" in p for (p,) in [(r.path,) for r in server.requests])
    assert rows(db, "SELECT count(*) FROM links WHERE url LIKE '%sid=abc123%'")[0][0] == 1
    alias = rows(db, "SELECT outcome, redirect_to FROM responses WHERE url LIKE '%sid=abc123%'")
    assert alias == [("alias", server.url("site", "/about"))]


@pytest.mark.parametrize("args, message", [
    (["crawl", "ftp://example.test/"], "not usable"),
    (["crawl"], "no start URL"),
    (["crawl", "http://127.0.0.1:9/", "--max-pages", "0"], "max_pages"),
    (["crawl", "http://127.0.0.1:9/", "--bogus"], "unrecognized arguments"),
    (["history", "--db", "/nonexistent/folder/x.duckdb"], "does not exist"),
    (["analyse", "--db", "never-crawled.duckdb"], "does not exist: crawl first"),
    (["report", "--db", "never-crawled.duckdb"], "does not exist: crawl first"),
])
def test_bad_usage_is_one_line_and_exit_2(args, message, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr


def test_config_typo_names_the_fix(tmp_path):
    cfg = tmp_path / "audit.toml"
    cfg.write_text("max_pagse = 10\n")
    result = run_cli("crawl", "http://127.0.0.1:9/", "--config", str(cfg), cwd=tmp_path)
    assert result.returncode == 2
    assert "did you mean max_pages" in result.stderr


def test_database_that_is_not_duckdb(tmp_path):
    bad = tmp_path / "audit.duckdb"
    bad.write_bytes(b"this is a spreadsheet, not a database" * 100)
    result = run_cli("crawl", "http://127.0.0.1:9/", "--db", str(bad), cwd=tmp_path)
    assert result.returncode == 2 and "not a DuckDB database" in result.stderr
    assert bad.read_bytes().startswith(b"this is a spreadsheet")


def test_locked_database(tmp_path):
    db = tmp_path / "audit.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); "
                               "print('ok', flush=True); time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        result = run_cli("crawl", "http://127.0.0.1:9/", "--db", str(db), cwd=tmp_path)
        assert result.returncode == 2 and "in use by another process" in result.stderr
    finally:
        holder.kill()
        holder.wait()


def _slow_site(n: int) -> dict[str, HostSpec]:
    links = "".join(f'<a href="/p{i}">page {i}</a> ' for i in range(n))
    routes = {"/": Route.html(page("Home", f"<p>{links}</p>"))}
    for i in range(n):
        routes[f"/p{i}"] = Route.html(page(f"Page {i}", f"<p>Text of page {i}.</p>"), delay=0.3)
    return {"site": HostSpec(routes=routes)}


def _listening_inodes() -> set[str]:
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A":  # LISTEN
                inodes.add(parts[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def test_crawl_opens_no_listening_socket_and_ctrl_c_keeps_data_then_resumes(tmp_path):
    db = tmp_path / "audit.duckdb"
    with SiteServer(_slow_site(30)) as server:
        args = [sys.executable, str(ROOT / "pipeline.py"), "crawl", server.url("site"), "--db", str(db),
                "--concurrency", "2", "-q"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.time() + 60
        while server.count(host="site") < 8 and time.time() < deadline:
            time.sleep(0.1)
        assert not (_socket_inodes(proc.pid) & _listening_inodes()), "the crawl listens on a port"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 3, err
        assert "Traceback" not in err
        status, pages = query(db, "SELECT status, (SELECT count(*) FROM pages) FROM crawls")[0]
        assert status == "interrupted" and 1 <= pages < 31
        resumed = run_cli("crawl", server.url("site"), "--db", str(db), "--resume", "--concurrency", "4", "-q")
        assert resumed.returncode == 0, resumed.stderr
        status, crawls = query(db, "SELECT status, (SELECT count(*) FROM crawls) FROM crawls")[0]
        assert status == "finished" and crawls == 1
        urls = [u for (u,) in query(db, "SELECT url FROM responses WHERE outcome = 'fetched'")]
        assert len(set(urls)) == len(urls)
        wanted = {server.url("site", f"/p{i}") for i in range(30)}
        assert wanted <= set(urls)  # requests in flight at Ctrl-C were asked for again
