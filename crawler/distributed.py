"""Crawling one site with several worker processes through scrapy-redis: the shared frontier,
duplicate filter and page budget live in Redis; each worker writes its own DuckDB file."""

from __future__ import annotations

import os
import pickle
import socket
import time

from scrapy_redis.scheduler import Scheduler as RedisScheduler
from twisted.internet import task

from crawler.crawlstate import IdleStep
from crawler.errors import AuditError

HEARTBEAT_SECONDS = 2.0


class AuditRedisScheduler(RedisScheduler):
    """scrapy-redis' scheduler, whose pop from the shared queue and record of the request as this
    worker's in flight are one Redis step: a worker killed between the two loses nothing."""

    def next_request(self):
        state = self.spider.crawl_state
        raw = state.pop_into_inflight(self.queue.key)
        if raw is None:
            return None
        request = self.queue._decode_request(raw)
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis", spider=self.spider)
        state.inflight_add(request)
        return request


# Pops the first request of the priority queue (a sorted set, as scrapy_redis.queue.PriorityQueue
# does) and keeps its bytes in the worker's in-flight hash under POPPING until inflight_add files
# it under its URL. Queue entries and in-flight values are both a pickled Request.to_dict.
_POP_INTO_INFLIGHT = """
local first = redis.call('zrange', KEYS[1], 0, 0)
if #first == 0 then return false end
redis.call('zremrangebyrank', KEYS[1], 0, 0)
redis.call('hset', KEYS[2], ARGV[1], first[1])
return first[1]
"""
POPPING = "\0popping"


def key_prefix(site: str) -> str:
    return f"content-audit:{site}:"


def redis_settings(redis_url: str, site: str, site_hosts: int, concurrency: int) -> dict:
    """Scrapy settings that put the scheduler queue and the duplicate filter in Redis."""
    prefix = key_prefix(site)
    return {
        # A worker takes from the shared queue only what it can fetch now, leaving the rest to others.
        "CONCURRENT_REQUESTS": concurrency * site_hosts + 2,
        "SCHEDULER": "crawler.distributed.AuditRedisScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": redis_url,
        "SCHEDULER_PERSIST": True,               # other workers still need the frontier
        "SCHEDULER_QUEUE_KEY": prefix + "requests",
        "SCHEDULER_DUPEFILTER_KEY": prefix + "dupefilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "JOBDIR": None,                          # the frontier is in Redis, not on disk
    }


def connect(redis_url: str):
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise AuditError(f"cannot reach Redis at {redis_url} ({exc}): start redis-server "
                         "or fix --redis") from None
    return client


class RedisState:
    """The crawl state (crawler.crawlstate.CrawlState) the workers of one distributed crawl share,
    besides Scrapy's queue and filter. A worker's requests in flight leave Redis only once their
    rows are on its disk; a worker whose heartbeat stops has them taken over by another."""

    shared = True

    def __init__(self, client, site: str, stale_seconds: float = 15.0):
        self.spider = None
        self.beat = None
        self.r = client
        self.stale = max(stale_seconds, 2 * HEARTBEAT_SECONDS)  # silent this long: the worker is gone
        self.heartbeat_seconds = HEARTBEAT_SECONDS
        self.prefix = key_prefix(site)
        self.worker = f"{socket.gethostname()}-{os.getpid()}"
        self._pop = client.register_script(_POP_INTO_INFLIGHT)

    def k(self, name: str) -> str:
        return self.prefix + name

    def bind(self, spider) -> "RedisState":
        self.spider = spider
        return self

    # --- set-up and teardown -----------------------------------------------------------------

    def opened(self) -> None:
        self.heartbeat()
        self.beat = task.LoopingCall(self.heartbeat)
        self.beat.start(self.heartbeat_seconds, now=False)

    def closed(self, clean: bool) -> None:
        if self.beat is not None and self.beat.running:
            self.beat.stop()
        self.leave(clean=clean)

    def check_not_finished(self) -> None:
        if self.r.exists(self.k("done")):
            raise AuditError("the last distributed crawl of this site is finished but not merged: run "
                             "`python pipeline.py merge WORKER_DB ... --redis URL` first")

    def claim_seed(self) -> bool:
        """True for the one worker that puts the start URLs into the shared frontier."""
        return bool(self.r.set(self.k("seeded"), self.worker, nx=True))

    def clear(self) -> None:
        keys = list(self.r.scan_iter(match=self.prefix + "*", count=1000))
        if keys:
            self.r.delete(*keys)

    # --- budget and traps ---------------------------------------------------------------------

    def add_scheduled(self, n: int) -> None:
        self.r.incrby(self.k("scheduled_pages"), n)

    def scheduled(self) -> int:
        return int(self.r.get(self.k("scheduled_pages")) or 0)

    def trap_once(self, shape: str) -> bool:
        return bool(self.r.sadd(self.k("trapped"), shape))

    def take_sitemap(self, limit: int) -> bool:
        return int(self.r.incr(self.k("sitemaps_read"))) <= limit

    # --- requests in flight ------------------------------------------------------------------

    def pop_into_inflight(self, queue_key: str) -> bytes | None:
        """The next request of the shared queue (encoded), already in this worker's in-flight hash."""
        return self._pop(keys=[queue_key, self.k(f"inflight:{self.worker}")], args=[POPPING])

    def inflight_add(self, request) -> None:
        """File a request taken from the queue under its URL (robots.txt and sitemaps, which have
        none, are simply forgotten once popped)."""
        pipe = self.r.pipeline(transaction=True)
        key = self.k(f"inflight:{self.worker}")
        if "url" in request.meta:
            pipe.hset(key, request.meta["url"], pickle.dumps(request.to_dict(spider=self.spider), protocol=4))
        pipe.hdel(key, POPPING)
        pipe.execute()

    def answered(self, request) -> None:
        pass  # forgotten only once its rows are on disk (rows_on_disk)

    def rows_on_disk(self, urls: list[str]) -> None:
        """Called once the rows of these URLs are on disk: only then are they safe to forget."""
        if urls:
            self.r.hdel(self.k(f"inflight:{self.worker}"), *urls)

    def heartbeat(self) -> None:
        self.r.hset(self.k("workers"), self.worker, time.time())

    def leave(self, clean: bool) -> None:
        """A worker stops. If it stops early with requests in flight, it is marked stale at once
        so another worker takes them over."""
        if clean and not self.r.hlen(self.k(f"inflight:{self.worker}")):
            self.r.hdel(self.k("workers"), self.worker)
        else:
            self.r.hset(self.k("workers"), self.worker, 0)

    def reclaim_stale(self) -> list[dict]:
        """Requests in flight of workers that stopped beating: claimed by one worker, returned."""
        now = time.time()
        claimed: list[dict] = []
        for worker, beat in self.r.hgetall(self.k("workers")).items():
            worker = worker.decode()
            if worker == self.worker or now - float(beat) < self.stale:
                continue
            if not self.r.hdel(self.k("workers"), worker):
                continue  # another worker claimed it first
            key = self.k(f"inflight:{worker}")
            claimed.extend(pickle.loads(v) for v in self.r.hvals(key))
            self.r.delete(key)
        return claimed

    def busy_elsewhere(self) -> bool:
        """Another live worker has requests in flight (it may still add links to the frontier)."""
        now = time.time()
        for worker, beat in self.r.hgetall(self.k("workers")).items():
            worker = worker.decode()
            if worker == self.worker or now - float(beat) >= self.stale:
                continue
            if self.r.hlen(self.k(f"inflight:{worker}")):
                return True
        return False

    def queue_length(self) -> int:
        return int(self.r.zcard(self.k("requests")))

    # --- sitemaps -----------------------------------------------------------------------------

    def add_sitemap_urls(self, urls: list[str]) -> None:
        if urls:
            self.r.sadd(self.k("sitemap"), *urls)

    def seed_complete(self) -> None:
        self.r.set(self.k("seed_complete"), 1)

    def is_seed_complete(self) -> bool:
        return bool(self.r.exists(self.k("seed_complete")))

    def claim_sitemap_pass(self) -> bool:
        return bool(self.r.set(self.k("sitemap_done"), self.worker, nx=True))

    def sitemap_urls(self):
        for url in self.r.sscan_iter(self.k("sitemap"), count=1000):
            yield url.decode()

    def mark_done(self) -> None:
        self.r.set(self.k("done"), self.worker)

    # --- when the queue runs dry ----------------------------------------------------------------

    def idle(self) -> IdleStep:
        """Wait while the shared crawl has work, take over a dead worker's requests, run the
        sitemap pass once (one worker), then mark the crawl done."""
        self.spider.ctx.writer.flush()
        if not self.is_seed_complete():
            return IdleStep(wait=True)
        reclaimed = self.reclaim_stale()
        if reclaimed or self.queue_length() or self.busy_elsewhere():
            return IdleStep(reclaimed=reclaimed, wait=True)
        if self.claim_sitemap_pass():
            return IdleStep(sitemap_urls=self.sitemap_urls(), wait=True)
        self.mark_done()
        return IdleStep()
