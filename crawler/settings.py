"""Scrapy settings of the audit crawl, as a dict built from Options; each with the reason it is set."""

from __future__ import annotations

from crawler import __version__
from crawler.config import Options



def user_agent(options: Options) -> str:
    return options.user_agent or f"ContentAudit/{__version__} (+{options.contact_url})"


def crawl_settings(options: Options, site_hosts: list[str], jobdir: str | None) -> dict:
    per_host = {h: {"concurrency": options.concurrency, "delay": options.delay} for h in site_hosts}
    return {
        "BOT_NAME": "content-audit",
        "USER_AGENT": user_agent(options),                  # honest, with a contact URL
        "ROBOTSTXT_OBEY": True,                             # per host; refusals reach our errback
        "TELNETCONSOLE_ENABLED": False,                     # no listening ports
        "REMOTE_CONTROL_ENABLED": False,                    # Scrapy 2.19 runs Python sent to it over HTTP
        "REDIRECT_ENABLED": False,                          # hops are recorded and requested by the spider
        "METAREFRESH_ENABLED": False,
        "COOKIES_ENABLED": False,                           # session cookies would hide session-id URLs
        "HTTPERROR_ALLOW_ALL": True,                        # 4xx/5xx pages are findings, not noise
        "DOWNLOAD_TIMEOUT": options.timeout,
        "DOWNLOAD_MAXSIZE": options.max_bytes,              # per-response cap; larger is "too large"
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_FAIL_ON_DATALOSS": False,                 # keep a truncated page rather than lose it
        "CONCURRENT_REQUESTS": max(16, options.concurrency * len(site_hosts) + 8),
        "CONCURRENT_REQUESTS_PER_DOMAIN": options.external_concurrency,  # other sites: few at a time
        "DOWNLOAD_SLOTS": per_host,                         # the site's own hosts: --concurrency each
        "DOWNLOAD_DELAY": options.delay,
        "AUTOTHROTTLE_ENABLED": options.autothrottle,       # back off when a host slows down
        "AUTOTHROTTLE_START_DELAY": max(options.delay, 0.0),
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(options.concurrency),
        "RETRY_ENABLED": True,                              # transient failures are retried first
        "RETRY_TIMES": options.links.retry_times,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],  # 429 is ours: it waits for Retry-After
        "RETRY_AFTER_MAX": options.links.max_retry_after,   # a longer wait gives up: the 429 is recorded
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.AuditRetryMiddleware": 550,
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,  # externals are checked
        },
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,     # depth is ours (redirects keep it)
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
        },
        "ITEM_PIPELINES": {"crawler.pipelines.DuckDBPipeline": 100},
        "WARN_ON_GENERATOR_RETURN_VALUE": False,            # it parses every callback's source, often
        "CONCURRENT_ITEMS": 4,                              # the pipeline is synchronous; Scrapy
                                                            # starts this many tasks per response
        "DEPTH_PRIORITY": 1,                                # breadth-first: true click depth,
        "SCHEDULER": "crawler.scheduler.AuditScheduler",    # tells the spider what is in flight
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",  # and a frontier on disk
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "JOBDIR": jobdir,                                   # --resume continues from here
        "LOG_LEVEL": "DEBUG" if options.verbose else "ERROR",
        "LOG_ENABLED": options.verbose,
        "LOGSTATS_INTERVAL": 0,
        "MEMUSAGE_ENABLED": False,
        "REACTOR_THREADPOOL_MAXSIZE": 4,
        "DNS_TIMEOUT": min(options.timeout, 20),
        "EXTENSIONS": {"crawler.progress.Progress": 500},
        "PROGRESS_QUIET": options.quiet,
    }

