"""Retries: Scrapy's, plus a 429 that waits as its Retry-After says before trying again."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.task import deferLater


def retry_after_seconds(value: bytes | str | None, default: float = 5.0) -> float:
    """Seconds a Retry-After header asks for (a number or an HTTP date); default if absent or bad."""
    if not value:
        return default
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class AuditRetryMiddleware(RetryMiddleware):
    async def process_response(self, request, response, spider=None):
        if response.status == 429 and not request.meta.get("dont_retry", False):
            limit = self.crawler.settings.getfloat("RETRY_AFTER_MAX", 30.0)
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait <= limit:
                retry = self._retry(request, "429 Too Many Requests")
                if retry is not None:
                    await maybe_deferred_to_future(deferLater(reactor, wait, lambda: None))
                    return retry
            return response
        return super().process_response(request, response)
