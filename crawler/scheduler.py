"""Scrapy's schedulers (local and scrapy-redis), telling the crawl state which requests left the
queue: until answered they are 'in flight', so Ctrl-C (or a dead worker) loses none of them."""

from __future__ import annotations

from scrapy.core.scheduler import Scheduler


class TracksInflight:
    """Mixed into a scheduler: each request it hands out is reported to the crawl state."""

    def next_request(self):
        request = super().next_request()
        if request is not None and "url" in request.meta:
            self.spider.crawl_state.inflight_add(request)
        return request


class AuditScheduler(TracksInflight, Scheduler):
    pass
