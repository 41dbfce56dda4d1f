"""Runs one crawl in-process with Scrapy (the reactor starts once per process) and records its outcome."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
from scrapy import signals
from scrapy.crawler import CrawlerProcess

from crawler import store
from crawler.config import Options, to_json_dict
from crawler.errors import AuditError
from crawler.settings import crawl_settings
from crawler.spider import AuditSpider, CrawlContext
from crawler.urls import host_key, normalize


CRAWL_MEMORY_LIMIT = "256MB"   # DuckDB's share while crawling: inserts need little


@dataclass
class CrawlResult:
    crawl_id: int
    site: str
    status: str          # finished | interrupted | failed
    stats: dict


def start_urls_of(urls: list[str]) -> list[str]:
    """Validated, normalised start URLs; AuditError naming the bad one."""
    if not urls:
        raise AuditError("no start URL: give one, like `python pipeline.py crawl https://example.com/`")
    out = []
    for raw in urls:
        try:
            url = normalize(raw)
        except ValueError as exc:
            raise AuditError(f"start URL {raw!r} is not usable ({exc}): give a full http(s) URL, "
                             "like https://example.com/") from None
        if url not in out:
            out.append(url)
    return out


def default_site(urls: list[str]) -> str:
    return urlsplit(urls[0]).netloc


def fresh_external_checks(con, days: float) -> dict[str, str | None]:
    """External URLs checked within `days` with a lasting answer (not 5xx/429/errors): url -> redirect_to."""
    since = store.utcnow() - timedelta(days=days)
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


def jobdir_for(db_path: str, crawl_id: int) -> str:
    return str(Path(f"{db_path}.jobs") / f"crawl-{crawl_id}")


def run_crawl(con, db_path: str, options: Options, site_hosts: list[str] | None = None) -> CrawlResult:
    """Crawl the site of options.urls into the database; returns how it ended.

    site_hosts overrides the site's hosts (default: the start URLs' hosts), e.g. for `recheck`,
    which starts from one page but must treat the stored site's hosts as its own."""
    urls = start_urls_of(options.urls)
    site = options.site or default_site(urls)
    hosts = sorted(set(site_hosts) if site_hosts else {host_key(u) for u in urls})
    resumed = False
    coord = None
    if options.redis:
        from crawler.distributed import RedisCoordinator, connect

        if options.resume:
            raise AuditError("--resume is for a single-process crawl; a --redis crawl resumes by "
                             "starting a worker again")
        coord = RedisCoordinator(connect(options.redis), site, options.worker_timeout)
        coord.check_not_finished()
    if options.resume:
        row = con.execute(
            "SELECT max(crawl_id) FROM crawls WHERE site = ? AND status = 'interrupted'", [site]
        ).fetchone()
        if row[0] is None:
            raise AuditError(f"no interrupted crawl of site {site} to resume: run without --resume")
        crawl_id = int(row[0])
        con.execute("UPDATE crawls SET status = 'running', finished_at = NULL WHERE crawl_id = ?", [crawl_id])
        resumed = True
    else:
        crawl_id = store.create_crawl(con, site, urls, hosts, to_json_dict(options))
    jobdir = None if coord else jobdir_for(db_path, crawl_id)
    writer = store.BatchWriter(con)
    ctx = CrawlContext(
        crawl_id=crawl_id, options=options, start_urls=urls, site_hosts=frozenset(hosts),
        con=con, writer=writer, resumed=resumed, coord=coord,
        cached={} if options.no_external else fresh_external_checks(con, options.links.external_cache_days),
    )
    if not options.verbose:
        logging.getLogger("scrapy").setLevel(logging.ERROR)
    settings = crawl_settings(options, hosts, jobdir)
    if coord:
        from crawler.distributed import redis_settings

        settings.update(redis_settings(options.redis, site, len(hosts), options.concurrency))
        # An idle worker looks at the shared queue on the engine's heartbeat (5 s by default);
        # once a second lets it join other workers' crawl promptly.
        from scrapy.core.engine import ExecutionEngine
        ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 1.0
    settings["LOG_INSTALL_ROOT_HANDLER"] = options.verbose
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(AuditSpider)
    reasons: list[str] = []
    crawler.signals.connect(lambda spider, reason: reasons.append(reason), signal=signals.spider_closed,
                            weak=False)
    process.crawl(crawler, ctx=ctx)
    # DuckDB keeps written blocks cached up to 80% of RAM by default, so the crawl's memory
    # would grow with the site; capped, it evicts them and stays flat.
    con.execute(f"SET memory_limit = '{CRAWL_MEMORY_LIMIT}'")
    try:
        process.start()
    finally:
        writer.flush()
        con.execute("RESET memory_limit")
    copy_cached_checks(con, crawl_id, ctx.cached_used)
    reason = reasons[0] if reasons else "shutdown"
    status = "finished" if reason == "finished" else "interrupted" if reason == "shutdown" else "failed"
    stats = {k: v for k, v in (crawler.stats.get_stats() or {}).items()
             if isinstance(v, (int, float, str))}
    spider_state = getattr(crawler.spider, "state", {}) or {}
    stats.update({
        "close_reason": reason,
        "max_pages_reached": bool(spider_state.get("max_pages_reached")),
        "past_max_depth": spider_state.get("past_max_depth", 0),
        "traps": len(spider_state.get("trapped", [])),
        "cached_external_checks": len(ctx.cached_used),
    })
    store.finish_crawl(con, crawl_id, status, stats)
    if status == "finished" and jobdir:
        shutil.rmtree(jobdir, ignore_errors=True)
        parent = Path(jobdir).parent
        if parent.exists() and not any(parent.iterdir()):
            parent.rmdir()
    return CrawlResult(crawl_id, site, status, stats)
