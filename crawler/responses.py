"""How an answer becomes its `responses` row and its text: status, redirect target, size and
headers; the charset of an HTML body; bodies that are binary whatever they claim."""

from __future__ import annotations

from w3lib.encoding import html_to_unicode

from crawler.urls import normalize


def response_values(response) -> dict:
    """The responses-row values of an answer (outcome fetched): status, redirect target, size, ..."""
    headers = response.headers
    ctype = headers.get(b"Content-Type", b"").decode("latin-1") or None
    size = len(response.body)
    if "download_stopped" in response.flags or not size:
        length = headers.get(b"Content-Length", b"").decode("latin-1").strip()
        size = int(length) if length.isdigit() else size
    redirect_to = None
    if 300 <= response.status < 400 and b"Location" in headers:
        location = headers.get(b"Location").decode("latin-1")
        try:
            redirect_to = normalize(response.urljoin(location.strip()))
        except ValueError:
            redirect_to = None
    latency = response.meta.get("download_latency")
    return dict(
        outcome="fetched", status=response.status, redirect_to=redirect_to,
        content_type=ctype, bytes=size,
        response_ms=round(latency * 1000, 1) if latency is not None else None,
        x_robots_tag=(b", ".join(headers.getlist(b"X-Robots-Tag")).decode("latin-1") or None),
        error=None if redirect_to or not (300 <= response.status < 400) else "redirect without a valid Location",
    )


def _utf8_or_none(body: bytes) -> str | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "utf-8"


def decode_html(content_type: str | None, body: bytes) -> tuple[str, str]:
    """(text, encoding): BOM, then the header's charset, then <meta>, then UTF-8 if the bytes
    are valid UTF-8, else windows-1252, the web's default for undeclared pages (WHATWG)."""
    encoding, text = html_to_unicode(content_type, body, default_encoding="cp1252",
                                     auto_detect_fun=_utf8_or_none)
    return text, encoding


def is_binary(body: bytes) -> bool:
    return b"\x00" in body[:4096]
