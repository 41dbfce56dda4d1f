"""The ceiling for the crawl benchmark: a standard Scrapy CrawlSpider that only follows the site's
links (LinkExtractor, no items), with the audit crawl's concurrency and robots.txt settings.

    python bench/bare_spider.py http://127.0.0.1:8088/ --concurrency 8 [--stats-json FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule


class BareSpider(CrawlSpider):
    name = "bare"
    rules = ()  # set per instance: the allowed host is the start URL's

    def __init__(self, start_url: str, *args, **kwargs):
        parts = urlsplit(start_url)
        self.start_urls = [start_url]
        self.allowed_domains = [parts.hostname]
        # The start URL's origin (host and port): LinkExtractor's allow_domains compares
        # host:port while OffsiteMiddleware compares the bare host, so a URL prefix it is.
        origin = f"{parts.scheme}://{parts.netloc}/"
        self.rules = (Rule(LinkExtractor(allow=[f"^{re.escape(origin)}"]), follow=True),)
        super().__init__(*args, **kwargs)


def bare_settings(concurrency: int) -> dict:
    """The audit crawl's settings that decide throughput (crawler/settings.py), nothing else."""
    return {
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": max(16, concurrency + 8),
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "LOGSTATS_INTERVAL": 0,
        "REACTOR_THREADPOOL_MAXSIZE": 4,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--concurrency", type=int, default=8, help="requests at once to the host (default 8)")
    ap.add_argument("--stats-json", help="write Scrapy's stats and the page count here")
    args = ap.parse_args(argv)

    process = CrawlerProcess(bare_settings(args.concurrency))
    crawler = process.create_crawler(BareSpider)
    stats: dict = {}
    crawler.signals.connect(lambda spider, reason: stats.update(crawler.stats.get_stats(), reason=reason),
                            signal=signals.spider_closed, weak=False)
    t0 = time.perf_counter()
    process.crawl(crawler, start_url=args.url)
    process.start()
    wall = time.perf_counter() - t0
    pages = int(stats.get("downloader/response_status_count/200", 0)) - int(stats.get("robotstxt/response_status_count/200", 0))
    out = {"pages": pages, "responses": int(stats.get("response_received_count", 0)),
           "wall_s": round(wall, 3), "reason": stats.get("reason")}
    out.update({k: v for k, v in stats.items() if isinstance(v, (int, float, str)) and k not in out})
    if args.stats_json:
        with open(args.stats_json, "w") as fh:
            json.dump(out, fh, indent=1, default=str)
    print(f"bare spider: {pages} pages (200), {out['responses']} responses in {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
