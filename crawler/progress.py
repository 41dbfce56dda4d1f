"""A one-line progress display on stderr while crawling: pages, queued, errors, rate."""

from __future__ import annotations

import sys
import time

from scrapy import signals
from twisted.internet import task

NON_TTY_EVERY = 30.0  # seconds between plain progress lines when stderr is a file or pipe


class Progress:
    def __init__(self, crawler):
        self.crawler = crawler
        self.quiet = crawler.settings.getbool("PROGRESS_QUIET")
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.last_line = 0.0
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider=None):
        if self.quiet:
            return
        self.loop = task.LoopingCall(self.show)
        self.loop.start(0.5 if self.tty else 5.0, now=False)

    def line(self) -> str:
        spider = self.crawler.spider
        c = spider.counters
        engine = self.crawler.engine
        try:
            queued = len(engine._slot.scheduler) + len(engine.downloader.active)
        except (AttributeError, TypeError):
            queued = 0
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return (f"crawling: {c['pages']} pages, {c['responses']} responses, {queued} queued, "
                f"{c['errors']} errors, {c['responses'] / elapsed:.1f}/s")

    def show(self):
        now = time.monotonic()
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + self.line())
            sys.stderr.flush()
        elif now - self.last_line >= NON_TTY_EVERY:
            self.last_line = now
            print(self.line(), file=sys.stderr, flush=True)

    def closed(self, spider=None, reason=None):
        if self.loop and self.loop.running:
            self.loop.stop()
        if self.tty and not self.quiet:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
