"""The item pipeline: turns the spider's items into rows and hands them to the store in batches.
A failed write (disk full) stops the crawl at once, with the reason kept for the CLI."""

from __future__ import annotations

import time

from crawler.errors import StoreError
from crawler.items import DoneItem, FetchItem, PageItem, SitemapItem

FLUSH_SECONDS = 5.0  # an abrupt stop loses at most this much of the crawl


class DuckDBPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.last_flush = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item, spider=None):
        ctx = self.crawler.spider.ctx
        if ctx.fatal:
            return item  # the crawl is stopping: nothing more can be stored
        try:
            self._store(ctx, item)
            now = time.monotonic()
            if now - self.last_flush > FLUSH_SECONDS:
                ctx.writer.flush()
                self.last_flush = now
        except StoreError as exc:
            ctx.fatal = exc
            self.crawler.spider.stop("store_failed")
        return item

    @staticmethod
    def _store(ctx, item) -> None:
        writer = ctx.writer
        with writer.unit():  # one item's rows reach the database together
            if isinstance(item, FetchItem):
                writer.add("responses", item.row)
                writer.done.append(item.row["url"])
            elif isinstance(item, PageItem):
                cid = ctx.crawl_id
                writer.add("responses", item.response)
                writer.add("pages", item.page)
                # The item's own row dicts get their keys (no copy per row: ~75 rows a page).
                url = item.url
                for block in item.blocks:
                    block["crawl_id"], block["page_url"] = cid, url
                    writer.add("blocks", block)
                for link in item.links:
                    link["crawl_id"], link["source_url"] = cid, url
                    writer.add("links", link)
                writer.done.append(item.url)
            elif isinstance(item, DoneItem):
                writer.done.append(item.url)
            elif isinstance(item, SitemapItem):
                for url in item.urls:
                    writer.add("sitemap_urls", {"crawl_id": ctx.crawl_id, "url": url, "sitemap": item.sitemap})

    def close_spider(self, spider=None):
        ctx = self.crawler.spider.ctx
        if not ctx.fatal:
            try:
                ctx.writer.flush()
            except StoreError as exc:
                ctx.fatal = exc
