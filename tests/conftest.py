"""Shared test fixtures: run the CLI in a subprocess, query a DuckDB file, free ports, and
`StoredCrawl`, the one builder of a crawl written straight into a store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_cli(*args: str, timeout: float = 240, cwd: Path | None = None, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    """`python pipeline.py ARGS` in a subprocess (one crawl per process: Twisted's reactor)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "pipeline.py"), *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT, env=full_env,
    )


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on a DuckDB file, read-only; the connection is closed."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def free_port() -> int:
    """A port nothing listens on (bound then released), for 'connection refused' links."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cli():
    return run_cli


class RawServer:
    """A loopback TCP server that answers every connection with the same raw bytes (or none)
    and closes it: servers that do not speak HTTP, or hang up on every request."""

    def __init__(self, answer: bytes = b""):
        import threading
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    conn.recv(65536)
                    if self.answer:
                        conn.sendall(self.answer)
                except OSError:
                    pass

    def __enter__(self) -> "RawServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


class StoredCrawl:
    """A crawl written straight into a store, in the row shapes the crawler writes.

    Every analysis test builds its crawl here, so a row's shape is written once: rows go
    through `store.BatchWriter` (a misspelt column is an error, not a NULL), word counts and
    block hashes come from `crawler.text` as in a real crawl, and links are resolved and
    classified by `crawler.urls.resolve`. Each row is stored as it is added, so a test may
    edit the crawl with SQL at any point; `finish()` closes it as the crawler does.
    """

    def __init__(self, con, site: str = "clinic.test", start_urls=("http://clinic.test/",),
                 hosts=None, options: dict | None = None, status: str | None = None):
        from crawler import store
        from crawler.urls import host_key

        self.con = con
        self.start_origin = "/".join(start_urls[0].split("/")[:3])   # where the sitemap is by default
        self.hosts = sorted(hosts or {host_key(u) for u in start_urls})
        self.id = self.crawl_id = store.create_crawl(con, site, list(start_urls), self.hosts, options or {})
        if status:
            con.execute("UPDATE crawls SET status = ? WHERE crawl_id = ?", [status, self.id])
        self.writer = store.BatchWriter(con, batch_rows=100_000)
        self._next_block: dict[str, int] = {}
        self._next_link: dict[str, int] = {}

    def _add(self, table: str, row: dict) -> None:
        self.writer.add(table, row)
        self.writer.flush(table)

    def response(self, url: str, status: int | None = 200, outcome: str = "fetched", error: str | None = None,
                 redirect_to: str | None = None, **columns):
        """A fetched URL: a page of the site (purpose crawl) or an outside URL (purpose check)."""
        from crawler import store
        from crawler.urls import host_key

        internal = host_key(url) in self.hosts
        self._add("responses", {
            "crawl_id": self.id, "url": url, "host": host_key(url), "is_internal": internal,
            "purpose": "crawl" if internal else "check", "depth": 1, "found_by": "link",
            "outcome": outcome, "status": status, "error": error, "redirect_to": redirect_to, "attempts": 1,
            "fetched_at": store.utcnow(), **columns})
        return self

    def page(self, url: str, blocks=(), status: int = 200, response: dict | bool = True, **columns):
        """A parsed page: its response (unless response=False; a dict gives its columns), its
        `pages` row, and its blocks, each (role, text) or (role, text, link_url)."""
        if response is not False:
            self.response(url, status, **(response if isinstance(response, dict) else {}))
        self._add("pages", {"crawl_id": self.id, "url": url, **columns})
        for block in blocks:
            self.block(url, *block)
        return self

    def block(self, url: str, role: str, text: str, link_url: str | None = None, **columns):
        from crawler.text import count_words, text_hash

        index = self._next_block.get(url, 0)
        self._next_block[url] = index + 1
        self._add("blocks", {
            "crawl_id": self.id, "page_url": url, "block_index": index, "role": role, "text": text,
            "word_count": count_words(text), "text_hash": text_hash(text), "link_url": link_url, **columns})
        return self

    def link(self, source: str, href: str | None, text: str | None = "text", element: str = "a",
             rel: str | None = None, **columns):
        """A link as written on `source`, resolved against it the way the crawler does."""
        from crawler.urls import resolve

        r = resolve(href, source, frozenset(self.hosts))
        position = self._next_link.get(source, 0)
        self._next_link[source] = position + 1
        self._add("links", {
            "crawl_id": self.id, "source_url": source, "position": position, "element": element,
            "rel": rel, "href": href, "url": r.url, "fragment": r.fragment, "target_type": r.target_type,
            "invalid_reason": r.invalid_reason, "nofollow": "nofollow" in (rel or ""),
            "anchor_text": text, "alt": text if element == "img" else None, **columns})
        return self

    def sitemap(self, *urls: str, sitemap: str | None = None):
        for url in urls:
            self._add("sitemap_urls", {"crawl_id": self.id, "url": url,
                                             "sitemap": sitemap or self.start_origin + "/sitemap.xml"})
        return self

    def rows(self, table: str, rows: list[dict]):
        """Rows of any table, as given (for the odd row no method above makes)."""
        for row in rows:
            self._add(table, row)
        return self

    def save(self) -> int:
        self.writer.flush()
        return self.id

    def finish(self, status: str = "finished") -> int:
        from crawler import store

        self.save()
        store.finish_crawl(self.con, self.id, status, {})
        return self.id
