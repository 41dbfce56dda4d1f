"""Item types the spider yields; the item pipeline turns each into rows of one or more tables."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class FetchItem:
    """One `responses` row: what happened when a URL was requested (or not requested)."""
    row: dict


@dataclass(slots=True)
class PageItem:
    """One parsed HTML page: its `responses` and `pages` rows, and its `blocks` and `links`
    rows, stored together in one transaction."""
    url: str
    page: dict
    blocks: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    response: dict | None = None


@dataclass(slots=True)
class SitemapItem:
    """URLs listed in one sitemap file."""
    sitemap: str
    urls: list[str]


@dataclass(slots=True)
class DoneItem:
    """A request that wrote no `responses` row (robots.txt, a sitemap) is answered."""
    url: str
