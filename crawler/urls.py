"""URL rules: normalising, resolving hrefs, the site's hosts, session/tracking parameters, URL shapes for trap detection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

DEFAULT_PORTS = {"http": 80, "https": 443}
UNFETCHABLE_SCHEMES = {"mailto", "tel", "javascript", "data", "sms", "callto", "fax", "skype",
                       "whatsapp", "geo", "about", "blob", "file", "ftp", "news", "irc", "urn"}
# Parameters that change the URL but not the page: analytics tags and session ids.
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|gclid|gbraid|wbraid|fbclid|msclkid|yclid|dclid|mc_cid|mc_eid|_ga|_gl|"
    r"igshid|srsltid|sid|sessionid|session_id|session|jsessionid|phpsessid|aspsessionid\w*|"
    r"cfid|cftoken|zenid|oscsid|s_cid)$",
    re.IGNORECASE,
)
PATH_SESSION = re.compile(r";(jsessionid|phpsessid|sid)=[^/?#]*", re.IGNORECASE)
DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Resolved:
    url: str | None            # absolute, normalised, no fragment; None unless fetchable
    fragment: str | None       # without '#'; None when the href has none
    target_type: str           # internal | external | unfetchable | invalid
    invalid_reason: str | None  # why invalid, or the scheme of an unfetchable link


def host_key(url: str) -> str:
    """'host:port' of an absolute http(s) URL, the port made explicit."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    return f"{(parts.hostname or '').lower()}:{port}"


def normalize(url: str) -> str:
    """Absolute http(s) URL in canonical form: lower-case scheme and host (IDN as punycode),
    no default port, '/' for an empty path, percent-encoded, no fragment. ValueError if invalid."""
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {url[:100]}")
    host = parts.hostname
    if not host:
        raise ValueError("URL has no host")
    if any(c in host for c in " <>\"{}|\\^`") or host.startswith(".") or ".." in host:
        raise ValueError(f"bad host name {host[:60]!r}")
    port = parts.port  # raises ValueError for a bad port
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        raise ValueError(f"bad international host name {host[:60]!r}") from None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    path = _remove_dot_segments(parts.path or "/")
    # w3lib's canonical form (sorted query, uniform escaping) is what Scrapy's duplicate filter
    # compares, so two hrefs Scrapy treats as one request are one URL here too.
    return canonicalize_url(urlunsplit((scheme, netloc, path, parts.query, "")))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, as browsers do: /a/b/../c -> /a/c; never above the root."""
    if "." not in path:
        return path
    out: list[str] = []
    for seg in path.split("/")[1:]:
        if seg == "..":
            if out:
                out.pop()
        elif seg != ".":
            out.append(seg)
    trailing = path.endswith(("/.", "/..")) and out and out[-1] != ""
    return "/" + "/".join(out) + ("/" if trailing else "")


def resolve(href: str | None, base: str, site_hosts: frozenset[str] | set[str]) -> Resolved:
    """Resolve an href as written against the page's base URL and classify it."""
    if href is None:
        return Resolved(None, None, "invalid", "no href")
    raw = href.strip().replace("\n", "").replace("\r", "").replace("\t", "")
    scheme_match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", raw)
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        if scheme not in DEFAULT_PORTS and (scheme in UNFETCHABLE_SCHEMES or len(scheme) > 1):
            return Resolved(None, None, "unfetchable", scheme)
    try:
        if scheme_match and scheme_match.group(1).lower() in DEFAULT_PORTS and not urlsplit(raw).netloc:
            return Resolved(None, None, "invalid", "invalid URL: no host after the scheme")
        absolute = urljoin(base, raw)
    except ValueError as exc:
        return Resolved(None, None, "invalid", f"invalid URL: {exc}")
    fragment = None
    if "#" in absolute:
        absolute, fragment = absolute.split("#", 1)
    try:
        url = normalize(absolute)
    except ValueError as exc:
        return Resolved(None, fragment, "invalid", f"invalid URL: {exc}")
    kind = "internal" if host_key(url) in site_hosts else "external"
    return Resolved(url, fragment, kind, None)


def strip_tracking(url: str) -> str:
    """The URL without session ids and tracking parameters (the page it really is)."""
    parts = urlsplit(url)
    path = PATH_SESSION.sub("", parts.path)
    if not parts.query and path == parts.path:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)]
    query = urlencode(kept, doseq=True) if len(kept) != len(parse_qsl(parts.query, keep_blank_values=True)) else parts.query
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def url_shape(url: str) -> str:
    """The URL's pattern: digits become {n} and query values are dropped, e.g. /cal/{n}/{n}?view."""
    parts = urlsplit(url)
    keys = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    shape = f"{parts.scheme}://{parts.netloc}{DIGITS.sub('{n}', parts.path)}"
    return shape + ("?" + "&".join(f"{k}=*" for k in keys) if keys else "")


def trap_reason(url: str, max_query_length: int, max_path_segments: int) -> str | None:
    """Why a URL looks like a crawler trap on its own (too long, too deep, repeating), or None."""
    parts = urlsplit(url)
    if len(parts.query) > max_query_length:
        return f"query longer than {max_query_length} characters"
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) > max_path_segments:
        return f"path deeper than {max_path_segments} segments"
    for seg in set(segments):
        if segments.count(seg) >= 3:
            return f"path segment '{seg[:40]}' repeats"
    return None
