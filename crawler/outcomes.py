"""What the crawl records when a fetch fails: one short editor-readable reason per failure,
never a library's exception text (that goes to the -v log)."""

from __future__ import annotations

from scrapy import exceptions as scrapy_errors
from scrapy.exceptions import IgnoreRequest
from twisted.internet.error import (ConnectionDone, ConnectionLost, ConnectionRefusedError,
                                    DNSLookupError, TCPTimedOutError, TimeoutError)
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

# Failures that mean the server did not answer at all (as opposed to answering badly): a run
# of these on the site's own hosts means the site stopped answering.
NO_ANSWER = ("timeout", "connection refused", "connection lost", "DNS lookup failed", "TLS error")
NO_ANSWER_STATUSES = frozenset({502, 503, 504})  # a proxy in front of a server that is down


class _Never(Exception):
    pass


def _scrapy_error(name: str) -> type[BaseException]:
    # Scrapy 2.13+ wraps Twisted's errors in its own types; older releases lack them.
    return getattr(scrapy_errors, name, _Never)


def _inner_text(exc: BaseException) -> str:
    """The names and messages of an error and of the Twisted failures it wraps."""
    parts = [type(exc).__name__, str(exc)]
    for reason in getattr(exc, "reasons", None) or []:
        value = getattr(reason, "value", reason)
        parts += [type(value).__name__, str(value)]
    return " ".join(parts)


def describe_failure(failure) -> tuple[str, str]:
    """(outcome, error) for a failed request: what an editor reads in the report. The outcome
    says what the failure means (crawler/schema.sql, responses.outcome): 'error' (the URL did
    not answer), 'too_large' (it answered with more than max_bytes: cut, not broken) or
    'not_fetched' (a downloader middleware declined it: no verdict on the URL)."""
    exc = failure.value
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text.lower():
            return "blocked_by_robots", "blocked by robots.txt"
        return "not_fetched", f"not fetched: {text[:200]}"
    if isinstance(exc, (TimeoutError, TCPTimedOutError, _scrapy_error("DownloadTimeoutError"))):
        return "error", "timeout"
    if isinstance(exc, (ConnectionRefusedError, _scrapy_error("DownloadConnectionRefusedError"))):
        return "error", "connection refused"
    if isinstance(exc, (DNSLookupError, _scrapy_error("CannotResolveHostError"))):
        return "error", "DNS lookup failed"
    if isinstance(exc, _scrapy_error("UnsupportedURLSchemeError")):
        return "error", "invalid URL: unsupported scheme"
    text = _inner_text(exc)
    lower = text.lower()
    if isinstance(exc, _scrapy_error("DownloadCancelledError")) or any(
            w in lower for w in ("maxsize", "max size", "exceeded", "cancel")):
        return "too_large", "too large"  # Scrapy cancels a download only at DOWNLOAD_MAXSIZE
    if "SSL" in text or "TLS" in text or "certificate" in lower:
        return "error", "TLS error"
    if "ParseError" in text or "non-integer status" in lower or "BadStatusLine" in text:
        return "error", "invalid HTTP response (the server did not answer in HTTP)"
    if isinstance(exc, (ResponseNeverReceived, ResponseFailed, ConnectionLost, ConnectionDone,
                        _scrapy_error("DownloadFailedError"), _scrapy_error("ResponseDataLossError"))) \
            or "Connection" in text:
        return "error", "connection lost"
    return "error", "download failed (run with -v for details)"


SITE_DOWN_STREAK = 20   # site pages in a row without an answer: the site is down


class SiteHealth:
    """Whether the site still answers: a run of SITE_DOWN_STREAK of its pages with no answer
    (NO_ANSWER errors, NO_ANSWER_STATUSES) means it went down; any other answer ends the run."""

    def __init__(self, streak: int = SITE_DOWN_STREAK):
        self.streak = streak
        self.run: list = []             # fetched_at of the pages in the current run
        self.down: dict | None = None   # {error, count, since} once the site is down

    def answered(self, status: int) -> None:
        if status not in NO_ANSWER_STATUSES and not self.down:
            self.run.clear()

    def went_down(self, error: str | None, status: int | None, fetched_at) -> bool:
        """Record one page's outcome; True the moment the run reaches the streak."""
        if self.down:
            return False
        if not (error in NO_ANSWER or status in NO_ANSWER_STATUSES):
            self.run.clear()
            return False
        self.run.append(fetched_at)
        if len(self.run) < self.streak:
            return False
        self.down = {"error": error or str(status), "count": len(self.run), "since": self.run[0]}
        return True
