"""Scrapy's scheduler, telling the spider which requests left the queue: until answered they are
'in flight', so Ctrl-C (or a dead worker) loses none of them."""

from __future__ import annotations

from scrapy.core.scheduler import Scheduler


class AuditScheduler(Scheduler):
    def next_request(self):
        request = super().next_request()
        if request is not None:
            self.spider.track_inflight(request)
        return request
