"""The item pipeline: turns the spider's items into rows and hands them to the store in batches."""

from __future__ import annotations

import time

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
        writer = ctx.writer
        if isinstance(item, FetchItem):
            writer.add("responses", item.row)
            writer.done.append(item.row["url"])  # a response's FetchItem comes after its other items
        elif isinstance(item, PageItem):
            writer.add("pages", item.page)
            cid = ctx.crawl_id
            for block in item.blocks:
                writer.add("blocks", {"crawl_id": cid, "page_url": item.url, **block})
            for link in item.links:
                writer.add("links", {"crawl_id": cid, "source_url": item.url, **link})
        elif isinstance(item, DoneItem):
            writer.done.append(item.url)
        elif isinstance(item, SitemapItem):
            for url in item.urls:
                writer.add("sitemap_urls", {"crawl_id": ctx.crawl_id, "url": url, "sitemap": item.sitemap})
        now = time.monotonic()
        if now - self.last_flush > FLUSH_SECONDS:
            writer.flush()
            self.last_flush = now
        return item

    def close_spider(self, spider=None):
        self.crawler.spider.ctx.writer.flush()
