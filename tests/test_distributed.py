"""Two crawl workers share one frontier through a real Redis server; the merged crawl equals a
single-process crawl of the same site, even when one worker is killed midway."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, free_port, query, run_cli
from demo.server import HostSpec, Route, SiteServer

N_PAGES = 40


def require_redis():
    path = shutil.which("redis-server")
    if path is None:
        if os.environ.get("CONTENT_AUDIT_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed: apt-get install redis-server")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return path


@pytest.fixture
def redis_url(tmp_path):
    binary = require_redis()
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def site(delay: float) -> dict[str, HostSpec]:
    routes = {
        "/robots.txt": Route.text("User-agent: *\nSitemap: {{host:site}}/sitemap.xml\n"),
        "/sitemap.xml": Route(body="<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                              "<url><loc>{{host:site}}/orphan</loc></url></urlset>", content_type="application/xml"),
        "/orphan": Route.html("<html><body><main><p>Only the sitemap knows me.</p></main></body></html>"),
    }
    for i in range(N_PAGES):
        targets = set(range(N_PAGES)) if i == 0 else {(i * 7 + k * 13) % N_PAGES for k in range(1, 5)}
        links = " ".join(f'<a href="/p{t}">page {t}</a>' for t in sorted(targets))
        routes["/" if i == 0 else f"/p{i}"] = Route.html(
            f"<html><head><title>Page {i}</title></head><body><nav><a href='/'>home</a></nav>"
            f"<main><p>Text of page {i} about sleep and mood. {links}</p>"
            f"<p><a href='{{{{host:blog}}}}/post{i % 5}'>blog</a> <a href='/missing{i % 3}'>gone</a></p></main></body></html>",
            delay=delay)
    blog = {f"/post{j}": Route.html(f"<html><body><main><p>Post {j} <a href='{{{{host:site}}}}/p{j}'>back</a></p></main></body></html>",
                                    delay=delay) for j in range(5)}
    blog["/"] = Route.html("<html><body><a href='/post0'>first</a></body></html>")
    return {"site": HostSpec(routes=routes), "blog": HostSpec(routes=blog)}


def crawl_view(db):
    return {
        "responses": sorted(query(db, "SELECT url, status, redirect_to, outcome FROM responses")),
        "pages": sorted(query(db, "SELECT url, title, word_count FROM pages")),
        "links": sorted(query(db, "SELECT source_url, position, url, anchor_text FROM links")),
        "sitemap": sorted(query(db, "SELECT url FROM sitemap_urls")),
    }


def worker(server, redis_url, db, config):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "pipeline.py"), "crawl", server.url("site"), server.url("blog"),
         "--redis", redis_url, "--worker", "--db", str(db), "--site", "clinic", "-q", "--concurrency", "2",
         "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def single_crawl(server, tmp_path, config):
    db = tmp_path / "single.duckdb"
    result = run_cli("crawl", server.url("site"), server.url("blog"), "--db", str(db), "--site", "clinic",
                     "-q", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return db


def merge(tmp_path, dbs, redis_url):
    main = tmp_path / "main.duckdb"
    result = run_cli("merge", *map(str, dbs), "--db", str(main), "--redis", redis_url)
    assert result.returncode == 0, result.stderr
    return main


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "audit.toml"
    path.write_text("worker_timeout = 4\nautothrottle = false\n")
    return path


def test_two_workers_crawl_one_site_like_a_single_process(tmp_path, redis_url, config):
    # Slow enough pages that the second worker (which polls the shared queue every 5 s, Scrapy's
    # engine heartbeat) joins before the first is done.
    with SiteServer(site(0.3)) as server:
        single = single_crawl(server, tmp_path, config)
        server.clear_requests()
        w1, w2 = worker(server, redis_url, tmp_path / "w1.duckdb", config), worker(server, redis_url, tmp_path / "w2.duckdb", config)
        for proc in (w1, w2):
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
        fetched = [(r.host, r.path) for r in server.requests if r.method == "GET" and r.path != "/robots.txt"]
        assert len(fetched) == len(set(fetched)), "a page was fetched twice"
        both = [query(tmp_path / f"w{i}.duckdb", "SELECT count(*) FROM pages")[0][0] for i in (1, 2)]
        assert all(n > 0 for n in both), f"one worker did all the work: {both}"
        main = merge(tmp_path, [tmp_path / "w1.duckdb", tmp_path / "w2.duckdb"], redis_url)
    assert crawl_view(main) == crawl_view(single)
    assert query(main, "SELECT count(*), min(status) FROM crawls")[0] == (1, "finished")


def test_killed_worker_loses_no_page(tmp_path, redis_url, config):
    with SiteServer(site(0.3)) as server:
        single = single_crawl(server, tmp_path, config)
        server.clear_requests()
        w1, w2 = worker(server, redis_url, tmp_path / "w1.duckdb", config), worker(server, redis_url, tmp_path / "w2.duckdb", config)
        deadline = time.time() + 60
        while server.count(host="site") < 12 and time.time() < deadline:
            time.sleep(0.05)
        w1.send_signal(signal.SIGKILL)
        w1.communicate(timeout=30)
        out, err = w2.communicate(timeout=240)
        assert w2.returncode == 0, err
        main = merge(tmp_path, [tmp_path / "w1.duckdb", tmp_path / "w2.duckdb"], redis_url)
    assert crawl_view(main) == crawl_view(single)


def test_merge_with_a_missing_worker_file_is_a_clear_error(tmp_path):
    result = run_cli("merge", str(tmp_path / "nope.duckdb"), "--db", str(tmp_path / "main.duckdb"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_a_worker_killed_between_taking_a_request_and_recording_it_loses_nothing(redis_url):
    # The window the kill test above hits only by chance: the pop from the shared queue and the
    # record of the request as in flight are one Redis step, so another worker takes it over.
    import pickle

    from scrapy import Request

    from crawler.distributed import RedisState, connect, key_prefix

    client = connect(redis_url)
    queue = key_prefix("clinic") + "requests"
    url = "http://127.0.0.1:1/p3"
    client.zadd(queue, {pickle.dumps(Request(url, meta={"url": url}).to_dict(), protocol=-1): 0})
    dead = RedisState(client, "clinic", stale_seconds=4)
    dead.heartbeat()
    assert dead.pop_into_inflight(queue) is not None          # ... and the worker is killed here
    assert client.zcard(queue) == 0
    client.hset(key_prefix("clinic") + "workers", dead.worker, 0)   # its heartbeat has stopped
    other = RedisState(client, "clinic", stale_seconds=4)
    other.worker = "another-worker"
    assert [data["url"] for data in other.reclaim_stale()] == [url]

    # A live worker files the request under its URL, and forgets it once its rows are on disk.
    client.zadd(queue, {pickle.dumps(Request(url, meta={"url": url}).to_dict(), protocol=-1): 0})
    from scrapy.utils.request import request_from_dict
    request = request_from_dict(pickle.loads(other.pop_into_inflight(queue)))
    other.inflight_add(request)
    inflight = key_prefix("clinic") + "inflight:another-worker"
    assert [k.decode() for k in client.hkeys(inflight)] == [url]
    other.rows_on_disk([url])
    assert client.hlen(inflight) == 0
