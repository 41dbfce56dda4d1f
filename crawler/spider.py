"""The audit spider: crawls the site's hosts breadth-first, checks links elsewhere, records every outcome."""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import scrapy
from scrapy import signals
from scrapy.exceptions import CloseSpider, DontCloseSpider, StopDownload
from scrapy.http import Request, TextResponse
from scrapy.utils.request import request_from_dict

from crawler import crawlstate, store
from crawler.config import Options
from crawler.crawlstate import LocalState
from crawler.discovery import DiscoveryMixin
from crawler.extract import extract
from crawler.repeats import repeat_state
from crawler.request import AuditRequest
from crawler.responses import decode_html, is_binary, response_values
from crawler.items import FetchItem, PageItem
from crawler.outcomes import SiteHealth, describe_failure
from crawler.urls import host_key, strip_tracking, trap_reason, url_shape

HTML_TYPES = ("text/html", "application/xhtml+xml")
HEAD_FALLBACK = {400, 403, 405, 406, 409, 501}   # servers that refuse HEAD but answer GET
SITEMAP_PRIORITY = -1_000_000                    # after every linked page: links decide depth
MAX_REDIRECTS = 20                               # hops followed per chain, as browsers do
MAX_URL_CHARS = 8192                             # longer URLs are refused by common servers
TOO_LARGE_SIZE = re.compile(r"(?:receive|received) (\d+) bytes")
# A crawl allocates millions of short-lived objects (rows, requests, parse trees): with Python's
# default (700 allocations) the cyclic collector ran ~1,800 times on 5,000 pages, its full
# passes rescanning every imported module's objects, 5% of the crawl's CPU. While the spider
# runs, the objects alive at its start are frozen out of those passes and young collections
# wait for 10,000 allocations (Python's thresholds are restored when it closes).
GC_THRESHOLDS = (10_000, 10, 10)


@dataclass
class CrawlContext:
    """What the spider needs to know about the crawl, and where its rows go."""
    crawl_id: int
    options: Options
    start_urls: list[str]
    site_hosts: frozenset[str]
    con: Any                                  # DuckDB connection, used from the reactor thread
    writer: store.BatchWriter
    cached: dict[str, str | None] = field(default_factory=dict)  # fresh external checks: url -> redirect_to
    cached_used: set[str] = field(default_factory=set)
    resumed: bool = False
    rebuild: bool = False                     # resume from the database's rows, not the job folder
    shared_state: Any = None                  # RedisState when crawling with several workers
    fatal: Exception | None = None            # a write failed (disk full): the crawl stops
    site_down: dict | None = None             # the site stopped answering: {error, count, since}
    sitemaps: bool = True                     # read the sitemaps robots.txt names (recheck: no)


class AuditSpider(DiscoveryMixin, scrapy.Spider):
    name = "content-audit"

    def __init__(self, ctx: CrawlContext, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ctx = ctx
        self.options = ctx.options
        self.state: dict = {}  # replaced by Scrapy's SpiderState from JOBDIR when resuming
        self.crawl_state: crawlstate.CrawlState = ctx.shared_state.bind(self) if ctx.shared_state \
            else LocalState(self)
        self.counters = {"pages": 0, "responses": 0, "errors": 0, "links": 0}
        # URLs already handed to Scrapy: most links (menus, footers) repeat on every page, and
        # skipping them here saves building a Request and a fingerprint the duplicate filter drops.
        self.requested: set[str] = set()
        self.health = SiteHealth()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        for handler, signal in ((spider.on_idle, signals.spider_idle),
                                (spider.on_scheduled, signals.request_scheduled),
                                (spider.on_dropped, signals.request_dropped),
                                (spider.on_reached, signals.request_reached_downloader),
                                (spider.on_headers, signals.headers_received),
                                (spider.on_bytes, signals.bytes_received),
                                (spider.on_opened, signals.spider_opened),
                                (spider.on_closed, signals.spider_closed)):
            crawler.signals.connect(handler, signal=signal)
        return spider

    def on_opened(self, spider=None):
        self.crawl_state.opened()
        self.ctx.writer.after_flush = self.crawl_state.rows_on_disk
        self._gc_thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)

    def on_closed(self, spider=None, reason=None):
        if getattr(self, "_gc_thresholds", None):
            gc.set_threshold(*self._gc_thresholds)
            gc.unfreeze()
        self.crawl_state.closed(clean=reason == "finished")

    def stop(self, reason: str) -> None:
        """Close the crawl from outside a callback (the item pipeline)."""
        from scrapy.utils.defer import deferred_from_coro
        deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))

    # --- budget and state -------------------------------------------------------------------

    def _st(self, key: str, default):
        return self.state.setdefault(key, default)

    @staticmethod
    def counts_as_page(request) -> bool:
        """A page of max_pages: a site page asked for the first time (no retry, no redirect hop)."""
        meta = request.meta
        return meta.get("purpose") == "crawl" and not meta.get("retry_times") and not meta.get("hops")

    def on_scheduled(self, request, spider=None):
        if self.counts_as_page(request) and not request.meta.get("budgeted"):
            self.crawl_state.add_scheduled(1)

    def on_dropped(self, request, spider=None):
        if self.counts_as_page(request):
            self.crawl_state.add_scheduled(-1)

    def answered(self, request) -> None:
        self.crawl_state.answered(request)

    def budget_left(self) -> int:
        return self.options.max_pages - self.crawl_state.scheduled()

    def on_headers(self, headers, body_length, request, spider=None):
        """Stop downloading bodies we will not parse: checks, and non-HTML files of the site."""
        purpose = request.meta.get("purpose")
        if purpose == "check" and request.method == "GET":
            raise StopDownload(fail=False)
        if purpose == "crawl":
            ctype = headers.get(b"Content-Type", b"").decode("latin-1").lower()
            if ctype and not any(t in ctype for t in HTML_TYPES):
                raise StopDownload(fail=False)

    # --- requests -------------------------------------------------------------------------------

    def page_request(self, url: str, depth: int | None, found_by: str, shape: str = "",
                     run: int = 1, priority: int | None = None, hops: int = 0) -> Request:
        return AuditRequest(
            url, callback=self.parse_page, errback=self.on_error,
            priority=-(depth or 0) if priority is None else priority,
            meta={"url": url, "purpose": "crawl", "depth": depth, "found_by": found_by,
                  "shape": shape, "run": run, "download_slot": host_key(url), "hops": hops,
                  "handle_httpstatus_all": True, "dont_redirect": True},
        )

    def check_request(self, url: str, depth: int | None, found_by: str, method: str = "HEAD",
                      dont_filter: bool = False, hops: int = 0) -> Request:
        return AuditRequest(
            url, method=method, callback=self.parse_check, errback=self.on_error,
            dont_filter=dont_filter, priority=-(depth or 0) - 1,
            meta={"url": url, "purpose": "check", "depth": depth, "found_by": found_by,
                  "download_slot": host_key(url), "handle_httpstatus_all": True, "hops": hops,
                  "dont_redirect": True},
        )

    async def start(self):
        if not self.crawl_state.claim_seed():
            return  # another worker seeded the shared frontier
        ctx = self.ctx
        # Requests in flight when the crawl was interrupted, asked for again on --resume.
        lost = self.crawl_state.lost() if ctx.resumed and not ctx.rebuild else []
        if not ctx.resumed or ctx.rebuild or not self._st("sitemaps_done", False):
            for host in sorted(ctx.site_hosts):
                base = self._base_for(host)
                yield Request(f"{base}/robots.txt", callback=self.parse_robots,
                              errback=self.on_meta_error, dont_filter=True, priority=1000,
                              meta={"purpose": "robots", "dont_obey_robotstxt": True,
                                    "url": f"{base}/robots.txt",
                                    "download_slot": host, "handle_httpstatus_all": True,
                                    "base": base})
        if ctx.rebuild:
            for req in self.rebuilt_frontier():
                yield req
        else:
            for url in ctx.start_urls:
                yield self.page_request(url, 0, "start", url_shape(url), 1)
        self.crawl_state.seed_complete()
        for url, (purpose, depth, found_by) in lost:
            if purpose == "crawl":
                req = self.page_request(url, depth, found_by, url_shape(url), 1)
            else:
                req = self.check_request(url, depth, found_by)
            yield req.replace(dont_filter=True)

    def rebuilt_frontier(self) -> Iterator[Request]:
        """Resuming from the database: every URL with a row is done; what its pages link to,
        and the start URLs, are requested unless they have a row."""
        ctx = self.ctx
        self.requested.update(crawlstate.answered_urls(ctx.con, ctx.crawl_id))
        for url, purpose, depth, found_by in crawlstate.frontier(ctx.con, ctx.crawl_id, ctx.start_urls,
                                                                 not self.options.no_external):
            if url in self.requested:
                continue
            self.requested.add(url)
            if purpose == "crawl":
                yield self.page_request(url, depth, found_by, url_shape(url), 1)
            elif host_key(url) in ctx.site_hosts:
                yield self.check_request(url, depth, found_by)
            else:
                yield from self.check(url, depth, found_by)

    def _base_for(self, host: str) -> str:
        for url in self.ctx.start_urls:
            if host_key(url) == host:
                return url.split("/", 3)[0] + "//" + url.split("/", 3)[2]
        name, port = host.rsplit(":", 1)
        return f"{'https' if port == '443' else 'http'}://{name}" + ("" if port in ("80", "443") else f":{port}")

    def on_idle(self, spider=None):
        """When the queue runs dry: ask the crawl state what is left (a dead worker's requests,
        the sitemap URLs no link reached), else let the crawl finish."""
        if self.ctx.fatal:
            return
        self.ctx.writer.flush()
        step = self.crawl_state.idle()
        for data in step.reclaimed:
            self.crawler.engine.crawl(request_from_dict(data, spider=self).replace(dont_filter=True))
        added = 0
        for url in step.sitemap_urls:
            if self.budget_left() <= 0:
                self.state["max_pages_reached"] = True
                break
            if url in self.requested:
                continue
            self.requested.add(url)
            self.crawler.engine.crawl(self.page_request(url, None, "sitemap", url_shape(url), 1,
                                                        priority=SITEMAP_PRIORITY))
            added += 1
        if step.wait or step.reclaimed or added:
            raise DontCloseSpider

    # --- responses ------------------------------------------------------------------------------

    def _row(self, request: Request, **values) -> dict:
        meta = request.meta
        url = meta.get("url", request.url)
        row = {
            "crawl_id": self.ctx.crawl_id, "url": url, "host": host_key(url),
            "is_internal": host_key(url) in self.ctx.site_hosts, "purpose": meta.get("purpose"),
            "depth": meta.get("depth"), "found_by": meta.get("found_by"),
            "method": request.method, "attempts": 1 + meta.get("retry_times", 0),
            "fetched_at": store.utcnow(),
        }
        row.update(values)
        return row

    def heard_from(self, response) -> None:
        """Any answer from the site's hosts (but a gateway's 502-504) ends a run of silence."""
        if host_key(response.meta.get("url", response.url)) in self.ctx.site_hosts:
            self.health.answered(response.status)

    def no_answer_from_site(self, request, row: dict) -> None:
        """A run of site pages without an answer: the site is down, and the crawl stops as
        `partial` instead of reporting its pages as broken."""
        url = request.meta.get("url", request.url)
        if request.meta.get("purpose") != "crawl" or host_key(url) not in self.ctx.site_hosts:
            return
        if self.health.went_down(row.get("error"), row.get("status"), row["fetched_at"]):
            self.ctx.site_down = self.health.down
            self.logger.error("The site stopped answering (%s): stopping the crawl", self.health.down["error"])
            raise CloseSpider("site_unreachable")

    def parse_page(self, response):
        self.answered(response.request)
        row = self._row(response.request, **response_values(response))
        self.counters["responses"] += 1
        meta = response.meta
        self.heard_from(response)
        # Order matters with several workers: links reach the shared frontier first, and the
        # row comes last, marking the URL done once its rows are on disk.
        if row["redirect_to"]:
            yield from self.follow_redirect(row["redirect_to"], meta)
            yield FetchItem(row)
            return
        if not (200 <= response.status < 300) or not isinstance(response, TextResponse):
            yield FetchItem(row)
            self.no_answer_from_site(response.request, row)
            return
        ctype = (row["content_type"] or "").lower()
        if ctype and not any(t in ctype for t in HTML_TYPES):
            yield FetchItem(row)
            return
        if is_binary(response.body):
            row["error"] = "binary content served as HTML"
            yield FetchItem(row)
            return
        text, row["charset"] = decode_html(row["content_type"], response.body)
        page = extract(text, row["url"], self.ctx.site_hosts)
        yield from self.follow_links(page.links, {**meta, **repeat_state(page.links, [b["text"] for b in page.blocks], meta)})
        yield PageItem(url=row["url"], page={
            "crawl_id": self.ctx.crawl_id, "url": row["url"], "title": page.title,
            "title_count": page.title_count, "meta_description": page.meta_description,
            "meta_robots": page.meta_robots, "canonical": page.canonical, "lang": page.lang,
            "h1": page.h1, "headings": page.headings, "anchors": page.anchors,
            "word_count": page.word_count, "main_words": page.main_words,
            "link_count": sum(1 for l in page.links if l["element"] != "img"),
            "image_count": sum(1 for l in page.links if l["element"] == "img"),
        }, blocks=page.blocks, links=page.links, response=row)
        self.counters["pages"] += 1
        self.counters["links"] += len(page.links)

    def follow_links(self, links: list[dict], meta: dict) -> Iterator[Request]:
        depth = (meta.get("depth") or 0) + 1
        seen: set[str] = set()
        for link in links:
            url = link["url"]
            if url is None or url in seen or url in self.requested:
                continue
            seen.add(url)
            if len(url) > MAX_URL_CHARS and link["target_type"] in ("internal", "external"):
                self.requested.add(url)  # checked by its length: no server would answer it
                req = Request("http://too-long.invalid/", meta={
                    "url": url, "purpose": "crawl" if link["target_type"] == "internal" else "check",
                    "depth": depth, "found_by": "link"})
                yield FetchItem(self._row(req, outcome="error", method=None, attempts=0,
                                          error=f"invalid URL: too long ({len(url):,} characters; "
                                                f"servers refuse over {MAX_URL_CHARS:,})"))
            elif link["target_type"] == "internal":
                if link["element"] == "img":
                    self.requested.add(url)
                    yield self.check_request(url, depth, "link")
                else:
                    yield from self.follow(url, depth, "link", meta)
            elif link["target_type"] == "external" and not self.options.no_external:
                yield from self.check(url, depth, "link")

    def follow(self, url: str, depth: int, found_by: str, parent: dict) -> Iterator[Request]:
        """Request a page of the site, unless it is past a limit or looks like a trap."""
        stripped = strip_tracking(url)
        if stripped != url and url not in self.requested:
            # Session ids and tracking tags would multiply pages: request the page without them,
            # and record the URL once as an alias of it.
            self.requested.add(url)
            alias = Request(url, meta={"url": url, "purpose": "crawl", "depth": depth, "found_by": found_by})
            yield FetchItem(self._row(alias, outcome="alias", redirect_to=stripped, method=None, attempts=0))
        url = stripped
        if url in self.requested:
            return
        shape = url_shape(url)
        if depth > self.options.max_depth:
            self.state["past_max_depth"] = self._st("past_max_depth", 0) + 1
            # the first URL of each pattern cut off is recorded, so the bound leaves a trace
            yield from self.record_trap(url, shape, f"deeper than max_depth {self.options.max_depth}", depth)
            return
        reason = trap_reason(url, self.options.max_query_length, self.options.max_path_segments)
        same = shape == parent.get("shape")
        run = parent.get("run", 1) + 1 if same else 1
        if reason is None and run > self.options.trap_chain:
            reason = f"more than {self.options.trap_chain} URLs of one pattern, each linked from the last"
        if reason is None and same and parent.get("repeats", 1) >= self.options.trap_repeat:
            reason = (f"{parent['repeats']} pages of one pattern in a row with the same links and words: "
                      "the pattern goes on without new content")
        if reason:
            yield from self.record_trap(url, shape, reason, depth)
            return
        if self.budget_left() <= 0:
            self.state["max_pages_reached"] = True
            return
        self.requested.add(url)
        request = self.page_request(url, depth, found_by, shape, run)
        # Counted now, not when Scrapy schedules it: Scrapy reads a callback's whole output
        # before scheduling any of it, so one page's links would all fit in the budget.
        request.meta["budgeted"] = True
        self.crawl_state.add_scheduled(1)
        if same:   # what the child compares its own links with
            request.meta.update(parent_links=parent.get("links_key"), parent_sketch=parent.get("sketch"),
                                parent_repeats=parent.get("repeats", 1))
        yield request

    def record_trap(self, url: str, shape: str, reason: str, depth: int):
        """Record the first URL of a pattern that is not followed (one row per pattern)."""
        if not self.crawl_state.trap_once(shape):
            return
        req = Request(url, meta={"url": url, "purpose": "crawl", "depth": depth, "found_by": "link"})
        yield FetchItem(self._row(req, outcome="trap", error=shape, method=None, attempts=0))
        self.crawler.stats.inc_value("audit/traps")
        self.logger.info("Crawler trap %s: %s", shape, reason)

    def check(self, url: str, depth: int | None, found_by: str, hops: int = 0) -> Iterator[Request]:
        """Check a link to another site: from the cache of recent checks, else HEAD."""
        for _ in range(MAX_REDIRECTS):  # follow cached redirect hops, never a cached loop forever
            if url not in self.ctx.cached:
                self.requested.add(url)
                yield self.check_request(url, depth, found_by, hops=hops)
                return
            if url in self.ctx.cached_used:
                return
            self.ctx.cached_used.add(url)
            nxt = self.ctx.cached[url]
            if not nxt:
                return
            if host_key(nxt) in self.ctx.site_hosts:
                yield from self.follow(nxt, depth or 0, "redirect", {})
                return
            url = nxt

    def follow_redirect(self, target: str, meta: dict) -> Iterator[Request]:
        """Request the next hop of a redirect. A chain is followed for MAX_REDIRECTS + 1 hops
        (enough for the links analysis to call it too long, as a browser would) and its hops do
        not count against max_pages: an endless chain neither runs forever nor eats the budget."""
        depth, hops = meta.get("depth"), meta.get("hops", 0) + 1
        if hops > MAX_REDIRECTS or target in self.requested:
            if hops > MAX_REDIRECTS:
                self.state["redirect_chains_cut"] = self._st("redirect_chains_cut", 0) + 1
            return
        self.requested.add(target)
        if host_key(target) in self.ctx.site_hosts and meta.get("purpose") == "crawl":
            yield self.page_request(target, depth, "redirect", meta.get("shape", ""), meta.get("run", 1),
                                    hops=hops)
        elif host_key(target) in self.ctx.site_hosts:
            yield self.check_request(target, depth, "redirect", hops=hops)
        elif not self.options.no_external:
            yield from self.check(target, depth, "redirect", hops=hops)

    def parse_check(self, response):
        request = response.request
        self.answered(request)
        self.heard_from(response)
        if request.method == "HEAD" and response.status in HEAD_FALLBACK:
            retry = self.check_request(response.meta["url"], response.meta.get("depth"),
                                       response.meta.get("found_by"), method="GET", dont_filter=True,
                                       hops=response.meta.get("hops", 0))
            yield retry
            return
        row = self._row(response.request, **response_values(response))
        self.counters["responses"] += 1
        if row["redirect_to"]:
            yield from self.follow_redirect(row["redirect_to"], response.meta)
        yield FetchItem(row)

    def on_error(self, failure):
        request = failure.request
        outcome, error = describe_failure(failure)
        slot = getattr(self.crawler.engine, "_slot", None)
        if getattr(slot, "closing", None) is not None and outcome == "too_large":
            return  # cancelled because the crawl is stopping: still in flight, --resume asks again
        self.answered(request)
        size = None
        if outcome == "too_large":
            announced = TOO_LARGE_SIZE.search(str(failure.value))
            size = int(announced.group(1)) if announced else None
            error = f"too large (over the {self.options.max_bytes:,}-byte limit)"
        if outcome != "blocked_by_robots":
            self.counters["errors"] += 1
        row = self._row(request, outcome=outcome, error=error, bytes=size)
        yield FetchItem(row)
        self.no_answer_from_site(request, row)
