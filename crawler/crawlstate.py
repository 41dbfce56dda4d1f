"""What a crawl shares while it runs (page budget, traps, sitemap budget, requests in flight,
when it is done): one interface, kept in the spider's state for one process (`LocalState`)
or in Redis for several workers (`crawler.distributed.RedisState`)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Iterable, Protocol

import pyarrow as pa

from crawler.errors import StoreError
from crawler.store import crawl_info, finish_crawl, utcnow

RESUMABLE = ("interrupted", "partial")   # statuses --resume continues
OTHER_HOST_GRACE = timedelta(minutes=2)  # a crawl another machine wrote to this recently may be alive


@dataclass
class IdleStep:
    """What to do when the spider's queue runs dry."""
    reclaimed: list[dict] = field(default_factory=list)  # requests (as dicts) of a dead worker
    sitemap_urls: Iterable[str] = ()                      # sitemap-only URLs to crawl now
    wait: bool = False                                    # other workers still have work


class CrawlState(Protocol):
    shared: bool                                  # True when several processes share the crawl

    def opened(self) -> None: ...
    def closed(self, clean: bool) -> None: ...
    def claim_seed(self) -> bool: ...             # True for the one process that seeds the frontier
    def seed_complete(self) -> None: ...
    def add_scheduled(self, n: int) -> None: ...  # pages of the site scheduled, against max_pages
    def scheduled(self) -> int: ...
    def trap_once(self, shape: str) -> bool: ...  # True the first time a trap pattern is seen
    def take_sitemap(self, limit: int) -> bool: ...  # one more sitemap file may be read
    def inflight_add(self, request) -> None: ...
    def answered(self, request) -> None: ...
    def rows_on_disk(self, urls: list[str]) -> None: ...
    def add_sitemap_urls(self, urls: list[str]) -> None: ...
    def idle(self) -> IdleStep: ...


class LocalState:
    """One process: counters live in `spider.state`, which Scrapy saves in the JOBDIR on a clean
    stop (Ctrl-C, SIGTERM); sitemap-only pages are read back from the database."""

    shared = False

    def __init__(self, spider):
        self.spider = spider

    @property
    def s(self) -> dict:
        return self.spider.state  # replaced by Scrapy's SpiderState when the JOBDIR is loaded

    def _get(self, key: str, default):
        return self.s.setdefault(key, default)

    def opened(self) -> None:
        pass

    def closed(self, clean: bool) -> None:
        pass

    def claim_seed(self) -> bool:
        return True

    def seed_complete(self) -> None:
        pass

    def add_scheduled(self, n: int) -> None:
        self.s["scheduled_pages"] = self._get("scheduled_pages", 0) + n

    def scheduled(self) -> int:
        return self._get("scheduled_pages", 0)

    def trap_once(self, shape: str) -> bool:
        trapped = self._get("trapped", [])
        if shape in trapped:
            return False
        trapped.append(shape)
        return True

    def take_sitemap(self, limit: int) -> bool:
        n = self._get("sitemaps_read", 0)
        if n >= limit:
            return False
        self.s["sitemaps_read"] = n + 1
        return True

    def inflight_add(self, request) -> None:
        meta = request.meta
        if meta.get("purpose") in ("crawl", "check"):
            self._get("inflight", {})[meta["url"]] = (meta["purpose"], meta.get("depth"), meta.get("found_by"))

    def answered(self, request) -> None:
        self._get("inflight", {}).pop(request.meta.get("url"), None)

    def lost(self) -> list[tuple[str, tuple]]:
        """Requests in flight when the crawl was stopped, to ask for again on --resume."""
        return list(self._get("inflight", {}).items())

    def rows_on_disk(self, urls: list[str]) -> None:
        pass

    def add_sitemap_urls(self, urls: list[str]) -> None:
        pass  # they are in sitemap_urls already

    def idle(self) -> IdleStep:
        if self._get("sitemaps_done", False):
            return IdleStep()
        self.s["sitemaps_done"] = True
        ctx = self.spider.ctx
        ctx.writer.flush()
        return IdleStep(sitemap_urls=sitemap_only_urls(ctx.con, ctx.crawl_id))


# --- the crawl state in the database: resuming, dead crawls, the frontier rebuilt from rows --

def resumable_crawl(con, site: str | None) -> dict | None:
    """The newest crawl (of the site, if given) that --resume can continue."""
    row = con.execute(
        f"SELECT max(crawl_id) FROM crawls WHERE status IN ({', '.join('?' * len(RESUMABLE))}) "
        "AND (? IS NULL OR site = ?)", [*RESUMABLE, site, site]).fetchone()
    return crawl_info(con, int(row[0])) if row[0] is not None else None


def reopen_crawl(con, crawl_id: int) -> None:
    con.execute("UPDATE crawls SET status = 'running', finished_at = NULL, pid = ?, hostname = ?, "
                "heartbeat_at = ? WHERE crawl_id = ?",
                [os.getpid(), socket.gethostname(), utcnow(), crawl_id])


def close_dead_crawls(con) -> list[dict]:
    """Crawls left `running` by a process that is gone (SIGKILL, power cut, a full disk).

    The caller holds the database's write lock, which DuckDB gives one process at a time, so
    no process on this machine is still writing them. Each is marked `interrupted` (stats
    close_reason 'killed'), its half-written rows are removed, and --resume can continue it.
    A crawl another machine wrote to within OTHER_HOST_GRACE is left alone (shared folders)."""
    closed = []
    me = socket.gethostname()
    for (crawl_id,) in con.execute("SELECT crawl_id FROM crawls WHERE status = 'running' "
                                   "ORDER BY crawl_id").fetchall():
        info = crawl_info(con, crawl_id)
        beat = info.get("heartbeat_at")
        if info.get("hostname") not in (None, me) and beat and utcnow() - beat < OTHER_HOST_GRACE:
            raise StoreError(f"crawl {crawl_id} is running on {info['hostname']} (last write "
                             f"{(utcnow() - beat).seconds} s ago): wait for it or pass another --db")
        removed = repair_crawl(con, crawl_id)
        stats = info.get("stats") or {}
        stats.update({"close_reason": "killed", "last_write": str(beat) if beat else None,
                      "rows_removed": removed})
        finish_crawl(con, crawl_id, "interrupted", stats)
        if beat is not None:
            con.execute("UPDATE crawls SET finished_at = ? WHERE crawl_id = ?", [beat, crawl_id])
        closed.append({**info, "pages_crawled": crawl_info(con, crawl_id)["pages_crawled"]})
    return closed


def repair_crawl(con, crawl_id: int) -> int:
    """Make a crawl's rows agree: no page without its response, no block or link without its
    page, one row per URL. Returns the number of rows removed."""
    before = _row_count(con, crawl_id)
    c = int(crawl_id)
    con.execute(f"""
        DELETE FROM responses WHERE crawl_id = {c} AND rowid NOT IN (
            SELECT min(rowid) FROM responses WHERE crawl_id = {c} GROUP BY url)""")
    con.execute(f"""
        DELETE FROM pages WHERE crawl_id = {c} AND (rowid NOT IN (
            SELECT min(rowid) FROM pages WHERE crawl_id = {c} GROUP BY url)
            OR url NOT IN (SELECT url FROM responses WHERE crawl_id = {c}))""")
    con.execute(f"DELETE FROM blocks WHERE crawl_id = {c} AND page_url NOT IN "
                f"(SELECT url FROM pages WHERE crawl_id = {c})")
    con.execute(f"DELETE FROM links WHERE crawl_id = {c} AND source_url NOT IN "
                f"(SELECT url FROM pages WHERE crawl_id = {c})")
    return before - _row_count(con, crawl_id)


def _row_count(con, crawl_id: int) -> int:
    return sum(con.execute(f"SELECT count(*) FROM {t} WHERE crawl_id = ?", [crawl_id]).fetchone()[0]
               for t in ("responses", "pages", "blocks", "links"))


def forget_unanswered(con, crawl_id: int, since, errors: Iterable[str], statuses: Iterable[int]) -> int:
    """Drop the site's rows that got no answer from `since` on (the site had stopped
    answering): those pages were not reached, rather than broken. Returns how many."""
    params = [crawl_id, since, list(errors), list(statuses)]
    where = ("crawl_id = ? AND is_internal AND fetched_at >= ? AND (list_contains(?, error) "
             "OR list_contains(?, status))")
    n = con.execute(f"SELECT count(*) FROM responses WHERE {where}", params).fetchone()[0]
    con.execute(f"DELETE FROM responses WHERE {where}", params)
    return n


def start_url_outcomes(con, crawl_id: int, start_urls: list[str]) -> list[tuple[str, str]]:
    """(start URL, what it answered) for each start URL: '404', 'connection refused', ..."""
    rows = dict(con.execute(
        "SELECT url, coalesce(error, CAST(status AS VARCHAR), outcome) FROM responses "
        "WHERE crawl_id = ? AND list_contains(?, url)", [crawl_id, start_urls]).fetchall())
    return [(u, rows.get(u) or "not fetched") for u in start_urls]


def fresh_external_checks(con, days: float) -> dict[str, str | None]:
    """External URLs checked within `days` with a lasting answer (not 5xx/429/errors): url -> redirect_to."""
    since = utcnow() - timedelta(days=days)
    rows = con.execute(
        """
        SELECT url, arg_max(redirect_to, fetched_at) FROM responses
        WHERE purpose = 'check' AND NOT is_internal AND outcome IN ('fetched', 'cached')
          AND status IS NOT NULL AND status < 500 AND status <> 429 AND fetched_at >= ?
        GROUP BY url
        """,
        [since],
    ).fetchall()
    return {url: nxt for url, nxt in rows}


def copy_cached_checks(con, crawl_id: int, urls: set[str]) -> None:
    """Rows for external URLs answered from the cache: the latest earlier check, outcome 'cached'."""
    if not urls:
        return
    con.register("_cached_urls", pa.table({"url": sorted(urls)}))
    con.execute(
        """
        INSERT INTO responses BY NAME
        SELECT ? AS crawl_id, r.url, r.host, false AS is_internal, 'check' AS purpose,
               NULL::INTEGER AS depth, 'link' AS found_by, 'cached' AS outcome, r.status, r.error,
               r.redirect_to, r.method, r.content_type, r.charset, r.bytes, r.response_ms,
               r.attempts, r.x_robots_tag, r.fetched_at
        FROM (SELECT * FROM responses
              WHERE purpose = 'check' AND outcome IN ('fetched', 'cached')
                AND url IN (SELECT url FROM _cached_urls)
              QUALIFY row_number() OVER (PARTITION BY url ORDER BY fetched_at DESC) = 1) r
        WHERE r.url NOT IN (SELECT url FROM responses WHERE crawl_id = ?)
        """,
        [crawl_id, crawl_id],
    )
    con.unregister("_cached_urls")


# --- what a crawl reads back while running ------------------------------------------------

def _stream(con, sql: str, params: list):
    cur = con.cursor()
    try:
        cur.execute(sql, params)
        while rows := cur.fetchmany(1000):
            yield from rows
    finally:
        cur.close()


def sitemap_only_urls(con, crawl_id: int):
    """URLs of the crawl's sitemaps not requested yet (no link reached them)."""
    for (url,) in _stream(con, "SELECT DISTINCT s.url FROM sitemap_urls s WHERE s.crawl_id = ? AND "
                          "s.url NOT IN (SELECT url FROM responses WHERE crawl_id = ?) ORDER BY s.url",
                          [crawl_id, crawl_id]):
        yield url


def answered_urls(con, crawl_id: int):
    """Every URL the crawl has a row for (fetched, failed, blocked, trap, alias)."""
    for (url,) in _stream(con, "SELECT DISTINCT url FROM responses WHERE crawl_id = ?", [crawl_id]):
        yield url


def frontier(con, crawl_id: int, start_urls: list[str], external: bool):
    """What a crawl still had to request, rebuilt from its rows: (url, purpose, depth, found_by)
    for start URLs, link targets and redirect targets that have no row yet. Used to resume a
    crawl whose job folder is gone or untrustworthy (the process was killed)."""
    c = int(crawl_id)
    yield from _stream(con, f"""
        WITH done AS (SELECT DISTINCT url FROM responses WHERE crawl_id = {c}),
        todo AS (
            SELECT unnest(?::VARCHAR[]) AS url, 'crawl' AS purpose, 0 AS depth, 'start' AS found_by, 0 AS k
            UNION ALL
            SELECT l.url, CASE WHEN l.target_type = 'internal' AND l.element <> 'img' THEN 'crawl'
                               ELSE 'check' END, coalesce(r.depth, 0) + 1, 'link', 1
            FROM links l LEFT JOIN responses r ON r.crawl_id = {c} AND r.url = l.source_url
            WHERE l.crawl_id = {c} AND l.url IS NOT NULL
              AND (l.target_type = 'internal' OR (? AND l.target_type = 'external'))
            UNION ALL
            SELECT redirect_to, CASE WHEN is_internal AND purpose = 'crawl' THEN 'crawl' ELSE 'check' END,
                   depth, 'redirect', 2
            FROM responses WHERE crawl_id = {c} AND outcome = 'fetched' AND redirect_to IS NOT NULL
        )
        SELECT url, arg_min(purpose, (k, depth)), min(depth), arg_min(found_by, (k, depth)) FROM todo
        WHERE url NOT IN (SELECT url FROM done) GROUP BY url ORDER BY min(depth), url
    """, [start_urls, external])


