"""Where the crawl finds pages besides links: robots.txt (read up to ROBOTS_MAX_BYTES, its
Sitemap: lines) and sitemaps, with nesting and the number of files bounded. Mixed into the spider."""

from __future__ import annotations

import gzip
import io
import re
from typing import Iterator

from scrapy.exceptions import StopDownload
from scrapy.http import Request
from scrapy.utils.sitemap import Sitemap

from crawler.items import DoneItem, SitemapItem
from crawler.urls import host_key, normalize

SITEMAP_MAX_BYTES = 50 * 1024 * 1024             # the sitemaps.org limit, uncompressed
SITEMAP_MAX_FILES = 1000                         # sitemap files read per crawl at most
SITEMAP_MAX_NESTING = 3                          # index -> index -> sitemap; deeper is not followed
SITEMAP_LINE = re.compile(rb"^\s*sitemap\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
ROBOTS_MAX_BYTES = 500 * 1024                    # Google reads this much of a robots.txt


class DiscoveryMixin:
    """robots.txt and sitemap callbacks of AuditSpider (uses its ctx, state and crawl_state)."""

    def on_reached(self, request, spider=None):
        # robots.txt (fetched by Scrapy's robots middleware too): read its first ROBOTS_MAX_BYTES
        # whatever its size, instead of losing it whole at max_bytes.
        if request.url.endswith("/robots.txt") and request.meta.get("dont_obey_robotstxt"):
            request.meta["download_maxsize"] = 0
            request.meta["read_at_most"] = ROBOTS_MAX_BYTES

    def on_bytes(self, data, request, spider=None):
        cap = request.meta.get("read_at_most")
        if cap:
            got = request.meta["bytes_seen"] = request.meta.get("bytes_seen", 0) + len(data)
            if got >= cap:
                raise StopDownload(fail=False)

    # --- robots.txt and sitemaps ------------------------------------------------------------

    def parse_robots(self, response):
        sitemaps = []
        if not self.ctx.sitemaps:
            yield DoneItem(response.meta["url"])
            return
        if response.status == 200:
            sitemaps = [m.decode("utf-8", "replace") for m in SITEMAP_LINE.findall(response.body[:ROBOTS_MAX_BYTES])]
        sitemaps.append(response.meta["base"] + "/sitemap.xml")
        for sm in sitemaps:
            try:
                url = normalize(response.urljoin(sm))
            except ValueError:
                continue
            yield from self._sitemap_request(url, 0)
        yield DoneItem(response.meta["url"])

    def _sitemap_request(self, url: str, nesting: int) -> Iterator[Request]:
        """A sitemap to read, unless it is nested too deep or the crawl read enough of them."""
        if nesting > SITEMAP_MAX_NESTING or not self.crawl_state.take_sitemap(SITEMAP_MAX_FILES):
            self.state["sitemaps_not_read"] = self._st("sitemaps_not_read", 0) + 1
            return
        yield Request(url, callback=self.parse_sitemap, errback=self.on_meta_error, priority=900,
                      meta={"purpose": "sitemap", "dont_obey_robotstxt": True, "url": url,
                            "nesting": nesting, "download_slot": host_key(url),
                            "handle_httpstatus_all": True})

    def parse_sitemap(self, response):
        yield from self._sitemap_entries(response)
        yield DoneItem(response.meta["url"])

    def _sitemap_entries(self, response):
        if response.status != 200:
            return
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
                    body = fh.read(SITEMAP_MAX_BYTES)
            except (OSError, EOFError):
                return
        try:
            sitemap = Sitemap(body)
        except Exception:  # lxml raises several types on junk; a bad sitemap adds no URLs
            return
        urls: list[str] = []
        nesting = response.meta.get("nesting", 0) + 1
        for entry in sitemap:
            loc = (entry.get("loc") or "").strip()
            try:
                url = normalize(response.urljoin(loc))
            except ValueError:
                continue
            if sitemap.type == "sitemapindex":
                yield from self._sitemap_request(url, nesting)
            elif host_key(url) in self.ctx.site_hosts:
                urls.append(url)
        if urls:
            self.crawl_state.add_sitemap_urls(urls)
            yield SitemapItem(sitemap=response.url, urls=urls)

    def on_meta_error(self, failure):
        # robots.txt or a sitemap could not be fetched: the crawl goes on without it
        yield DoneItem(failure.request.meta["url"])
