"""Runs one crawl in-process with Scrapy (the reactor starts once per process) and records its outcome."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import CrawlerProcess

from crawler import crawlstate, store
from crawler.config import Options, to_json_dict
from crawler.errors import AuditError, StoreError
from crawler.outcomes import NO_ANSWER, NO_ANSWER_STATUSES
from crawler.settings import crawl_settings
from crawler.spider import AuditSpider, CrawlContext
from crawler.urls import host_key, normalize


CRAWL_MEMORY_LIMIT = "256MB"   # DuckDB's share while crawling: inserts need little
# How a crawl's close reason becomes its status (anything else: failed).
STATUS_OF_REASON = {"finished": "finished", "shutdown": "interrupted", "store_failed": "interrupted",
                    "site_unreachable": "partial"}


@dataclass
class CrawlResult:
    crawl_id: int
    site: str
    status: str          # finished | partial | failed | interrupted
    stats: dict

    @property
    def verdict(self) -> str | None:
        """Why the crawl could not see the (whole) site, or None when it could."""
        return self.stats.get("verdict")


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


def jobdir_for(db_path: str, crawl_id: int) -> str:
    return str(Path(f"{db_path}.jobs") / f"crawl-{crawl_id}")


def _remove_jobdir(jobdir: str) -> None:
    shutil.rmtree(jobdir, ignore_errors=True)
    parent = Path(jobdir).parent
    if parent.exists() and not any(parent.iterdir()):
        parent.rmdir()


def _resume_target(con, db_path: str, options: Options) -> tuple[dict, bool]:
    """The crawl --resume continues, and whether its job folder can be trusted (a clean stop
    saved it; after a kill, a full disk or a partial crawl, the rows in the database are the
    truth and the frontier is rebuilt from them)."""
    urls = start_urls_of(options.urls) if options.urls else []
    site = options.site or (default_site(urls) if urls else None)
    info = crawlstate.resumable_crawl(con, site)
    if info is None:
        where = f" of site {site}" if site else ""
        raise AuditError(f"no interrupted crawl{where} to resume: run without --resume")
    jobdir = jobdir_for(db_path, info["crawl_id"])
    stats = info.get("stats") or {}
    trusted = (info["status"] == "interrupted" and stats.get("close_reason") == "shutdown"
               and (Path(jobdir) / "spider.state").exists())
    if not trusted:
        _remove_jobdir(jobdir)
    return info, trusted


def run_crawl(con, db_path: str, options: Options, site_hosts: list[str] | None = None,
              sitemaps: bool = True) -> CrawlResult:
    """Crawl the site of options.urls into the database; returns how it ended.

    site_hosts overrides the site's hosts (default: the start URLs' hosts), e.g. for `recheck`,
    which starts from one page but must treat the stored site's hosts as its own.
    sitemaps=False reads robots.txt but not the sitemaps it names (`recheck` fetches one page
    and its links: the sitemaps' pages would only take its page budget).
    With options.resume, the site's interrupted (or partial) crawl continues with its own start
    URLs and hosts, whatever the command line gives."""
    shared = None
    if options.redis:
        from crawler.distributed import RedisState, connect

        if options.resume:
            raise AuditError("--resume is for a single-process crawl; a --redis crawl resumes by "
                             "starting a worker again")
    resumed = rebuild = False
    if options.resume:
        info, trusted = _resume_target(con, db_path, options)
        crawl_id, site = info["crawl_id"], info["site"]
        urls, hosts = list(info["start_urls"]), sorted(info["hosts"])
        crawlstate.reopen_crawl(con, crawl_id)
        resumed, rebuild = True, not trusted
    else:
        urls = start_urls_of(options.urls)
        site = options.site or default_site(urls)
        hosts = sorted(set(site_hosts) if site_hosts else {host_key(u) for u in urls})
        if options.redis:
            shared = RedisState(connect(options.redis), site, options.worker_timeout)
            shared.check_not_finished()
        crawl_id = store.create_crawl(con, site, urls, hosts, to_json_dict(options))
    if rebuild:
        # sitemaps are read again; their URLs must not be listed twice
        con.execute("DELETE FROM sitemap_urls WHERE crawl_id = ?", [crawl_id])
    jobdir = None if shared else jobdir_for(db_path, crawl_id)
    writer = store.BatchWriter(con, crawl_id=crawl_id)
    ctx = CrawlContext(
        crawl_id=crawl_id, options=options, start_urls=urls, site_hosts=frozenset(hosts),
        con=con, writer=writer, resumed=resumed, rebuild=rebuild, shared_state=shared, sitemaps=sitemaps,
        cached={} if options.no_external else crawlstate.fresh_external_checks(
            con, options.links.external_cache_days),
    )
    if not options.verbose:
        logging.getLogger("scrapy").setLevel(logging.ERROR)
    settings = crawl_settings(options, hosts, jobdir)
    if shared:
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
        if not ctx.fatal:
            try:
                writer.flush()
            except StoreError as exc:
                ctx.fatal = exc
        con.execute("RESET memory_limit")
    reason = reasons[0] if reasons else "shutdown"
    if ctx.fatal:
        _stop_after_write_failure(con, crawl_id, site, db_path, ctx.fatal)
    return _finish(con, crawler, ctx, site, reason, jobdir)


def _stop_after_write_failure(con, crawl_id: int, site: str, db_path: str, exc: Exception):
    """A write failed (disk full): record what can be recorded, then say so in one line."""
    try:
        store.finish_crawl(con, crawl_id, "interrupted", {"close_reason": "store_failed", "error": str(exc)})
    except Exception:  # the disk is still full: the next run finds the crawl dead and closes it
        pass
    raise StoreError(f"{exc}; what was stored is kept: continue with `python pipeline.py crawl "
                     f"--resume --site {site} --db {db_path}`") from None


def _finish(con, crawler, ctx: CrawlContext, site: str, reason: str, jobdir: str | None) -> CrawlResult:
    crawl_id = ctx.crawl_id
    crawlstate.copy_cached_checks(con, crawl_id, ctx.cached_used)
    status = STATUS_OF_REASON.get(reason, "failed")
    stats = {k: v for k, v in (crawler.stats.get_stats() or {}).items()
             if isinstance(v, (int, float, str))}
    spider_state = getattr(crawler.spider, "state", {}) or {}
    stats.update({
        "close_reason": reason,
        "max_pages_reached": bool(spider_state.get("max_pages_reached")),
        "past_max_depth": spider_state.get("past_max_depth", 0),
        "traps": len(spider_state.get("trapped", [])),
        "sitemaps_not_read": spider_state.get("sitemaps_not_read", 0),
        "redirect_chains_cut": spider_state.get("redirect_chains_cut", 0),
        "cached_external_checks": len(ctx.cached_used),
    })
    if ctx.site_down:
        down = ctx.site_down
        stats["not_reached"] = crawlstate.forget_unanswered(con, crawl_id, down["since"], NO_ANSWER,
                                                            NO_ANSWER_STATUSES)
        stats["verdict"] = (f"the site stopped answering ({down['error']} on {down['count']} pages "
                            f"in a row from {down['since']:%H:%M:%S} UTC)")
    store.finish_crawl(con, crawl_id, status, stats)
    pages = store.crawl_info(con, crawl_id)["pages_crawled"]
    if status in ("finished", "partial") and not pages:
        seen = crawlstate.start_url_outcomes(con, crawl_id, ctx.start_urls)
        stats["verdict"] = "no page of the site could be read: " + "; ".join(
            f"{url} gave {what}" for url, what in seen[:3]) + (" ..." if len(seen) > 3 else "")
        status = "failed"
        store.finish_crawl(con, crawl_id, status, stats)
    if status in ("finished", "failed") and jobdir:
        _remove_jobdir(jobdir)
    return CrawlResult(crawl_id, site, status, stats)
