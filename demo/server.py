"""A loopback web server for several named hosts, one 127.0.0.1 port each: static files and
scripted routes (statuses, headers, delays, callables), with ``{{host:NAME}}`` placeholders
filled in with each host's base URL. Standard library only; used by the demo and the tests."""

from __future__ import annotations

import errno
import html
import mimetypes
import posixpath
import re
import socketserver
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple, Union
from urllib.parse import parse_qs, unquote, urlsplit

LOOPBACK = "127.0.0.1"
PLACEHOLDER = re.compile(r"\{\{host:([A-Za-z0-9_.-]+)\}\}")
PLACEHOLDER_BYTES = re.compile(rb"\{\{host:([A-Za-z0-9_.-]+)\}\}")
# Files whose placeholders are filled in; anything else (images, archives) is sent byte for byte.
TEMPLATED_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".xml", ".txt", ".css", ".js",
                                ".json", ".md", ".svg", ".csv"})
TEXT_TYPES = ("text/", "application/xml", "application/json", "application/javascript",
              "image/svg+xml", "application/xhtml+xml")
MAX_HANDLER_CHAIN = 20   # a callable may return a Route with its own handler; stop runaway chains
NO_BODY_STATUSES = frozenset({204, 304})


class Request(NamedTuple):
    """One request as served: compares equal to a plain (host, method, path) tuple."""
    host: str
    method: str
    path: str  # as requested, with the query string


@dataclass(frozen=True)
class RequestInfo:
    """What a route callable is told about the request it answers."""
    host: str                        # host name in the SiteServer ('clinic')
    method: str
    path: str                        # path without the query, still percent-encoded
    query: str                       # raw query string, '' when none
    params: dict[str, list[str]]     # parsed query (parse_qs, blank values kept)
    headers: Message                 # request headers, case-insensitive .get()
    body: bytes                      # request body (POST), b'' otherwise
    count: int                       # times this host + path + query was requested, this one included
    server: "SiteServer"

    def param(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.params.get(name)
        return values[0] if values else default

    @property
    def url(self) -> str:
        return self.server.url(self.host, self.path + (f"?{self.query}" if self.query else ""))


@dataclass
class Route:
    """A scripted answer. With ``handler`` set, the handler's Route answers instead.

    ``body`` as str is encoded with the charset of ``content_type`` (utf-8 when it names none)
    after its placeholders are filled in; bytes are sent exactly. ``content_type=None`` sends
    no Content-Type header. ``headers`` (a mapping or a list of pairs, for repeated names)
    override the defaults, Content-Length included; their values get placeholders filled in.
    ``delay`` seconds pass before the answer (cut short when the server stops)."""
    status: int = 200
    body: bytes | str = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    delay: float = 0.0
    handler: Callable[[RequestInfo], "Route"] | None = None

    @classmethod
    def html(cls, body: str, status: int = 200, **kwargs) -> "Route":
        return cls(status=status, body=body, **kwargs)

    @classmethod
    def text(cls, body: str, status: int = 200, **kwargs) -> "Route":
        return cls(status=status, body=body, content_type="text/plain; charset=utf-8", **kwargs)

    @classmethod
    def redirect(cls, location: str, status: int = 301, **kwargs) -> "Route":
        headers = [("Location", location), *_header_pairs(kwargs.pop("headers", ()))]
        return cls(status=status, body=b"", headers=headers, **kwargs)

    @classmethod
    def dynamic(cls, handler: Callable[[RequestInfo], "Route"]) -> "Route":
        return cls(handler=handler)


RouteLike = Union[Route, Callable[[RequestInfo], Route]]


@dataclass
class HostSpec:
    """One host: files under ``root`` (index.html for a directory; '/about' also finds
    about.html) and ``routes`` by path, which win over files. A route key is an exact path
    ('/calendar'), a path with its query ('/page?a=1', tried first), or a prefix ending in
    '*' ('/trap/*'; the longest prefix wins). A value is a Route or a callable taking a
    RequestInfo and returning one. ``charset`` is added to text file types; None leaves it off."""
    root: str | Path | None = None
    routes: dict[str, RouteLike] = field(default_factory=dict)
    charset: str | None = "utf-8"


class PortBusyError(OSError):
    """A host's fixed port could not be bound."""

    def __init__(self, host: str, port: int, reason: str, fix: str | None = None):
        fix = fix or f"Stop the program using port {port}, or pass port 0 to pick a free one"
        super().__init__(errno.EADDRINUSE, f"cannot serve host {host!r} on {LOOPBACK}:{port}: {reason}. {fix}")
        self.host = host
        self.port = port


class SiteServer:
    """Serves one or more 'hosts' on 127.0.0.1, each on its own port (port 0 = pick a free one)."""

    def __init__(self, hosts: dict[str, HostSpec], ports: dict[str, int] | None = None):
        if not hosts:
            raise ValueError("SiteServer needs at least one host, e.g. {'site': HostSpec(root='site/')}")
        unknown = set(ports or {}) - set(hosts)
        if unknown:
            raise ValueError(f"ports given for unknown hosts: {sorted(unknown)}; hosts are {sorted(hosts)}")
        for name, spec in hosts.items():
            if not PLACEHOLDER.fullmatch("{{host:%s}}" % name):
                raise ValueError(f"host name {name!r} must be letters, digits, '_', '-' or '.'")
            if spec.root is not None and not Path(spec.root).is_dir():
                raise ValueError(f"root of host {name!r} is not a directory: {spec.root}")
        self.hosts = dict(hosts)
        self._wanted_ports = {name: int((ports or {}).get(name, 0)) for name in hosts}
        self._servers: dict[str, _HostServer] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._errors: list[BaseException] = []
        self._stopping = threading.Event()

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> "SiteServer":
        """Bind every host (all or none), serve each in a daemon thread, return self."""
        if self._servers:
            return self
        self._stopping.clear()
        servers: dict[str, _HostServer] = {}
        for name in self.hosts:
            port = self._wanted_ports[name]
            try:
                servers[name] = _HostServer(port, self, name)
            except OSError as exc:
                for bound in servers.values():
                    bound.server_close()
                if port and exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    raise PortBusyError(name, port, exc.strerror or str(exc)) from exc
                raise
        self._servers = servers
        for name, server in servers.items():
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"site-server-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving and free the ports; requests still waiting on a delay end early."""
        self._stopping.set()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers = {}
        self._threads = []

    def __enter__(self) -> "SiteServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    # -- addresses ----------------------------------------------------------------------------
    @property
    def ports(self) -> dict[str, int]:
        """Port of each host, as bound."""
        self._require_started()
        return {name: server.server_address[1] for name, server in self._servers.items()}

    def base_url(self, host_name: str) -> str:
        """'http://127.0.0.1:PORT', no trailing slash: what {{host:NAME}} becomes."""
        self._require_started()
        if host_name not in self._servers:
            raise KeyError(f"no host {host_name!r}; hosts are {sorted(self._servers)}")
        return f"http://{LOOPBACK}:{self._servers[host_name].server_address[1]}"

    def url(self, host_name: str, path: str = "/") -> str:
        """Absolute URL of a path on a host, e.g. http://127.0.0.1:43123/path."""
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url(host_name) + path

    def fill_placeholders(self, text: str) -> str:
        """Replace {{host:NAME}} with that host's base URL; unknown names are left as written."""
        return PLACEHOLDER.sub(lambda m: self._base_or_same(m.group(1), m.group(0)), text)

    def _fill_bytes(self, data: bytes) -> bytes:
        return PLACEHOLDER_BYTES.sub(
            lambda m: self._base_or_same(m.group(1).decode(), m.group(0).decode()).encode(), data)

    def _base_or_same(self, name: str, written: str) -> str:
        server = self._servers.get(name)
        return f"http://{LOOPBACK}:{server.server_address[1]}" if server else written

    def _require_started(self) -> None:
        if not self._servers:
            raise RuntimeError("SiteServer is not running: call start() or use it in a with block")

    # -- request log ----------------------------------------------------------------------------
    @property
    def requests(self) -> list[Request]:
        """Snapshot of the (host, method, path-with-query) requests so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def count(self, host: str | None = None, path: str | None = None, method: str | None = None) -> int:
        """How many requests matched every given field."""
        return sum(1 for r in self.requests
                   if (host is None or r.host == host) and (path is None or r.path == path)
                   and (method is None or r.method == method))

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._counts.clear()

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while answering (a failing route callable gives a 500 and lands here)."""
        with self._lock:
            return list(self._errors)

    def _record(self, host: str, method: str, path: str) -> int:
        with self._lock:
            self._requests.append(Request(host, method, path))
            self._counts[(host, path)] += 1
            return self._counts[(host, path)]

    def _note_error(self, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(exc)

    # -- answering --------------------------------------------------------------------------------
    def _answer(self, info: RequestInfo) -> tuple[int, list[tuple[str, str]], bytes, float]:
        """Status, headers, body and delay for a request, placeholders filled in."""
        spec = self.hosts[info.host]
        route = _find_route(spec.routes, info.path, info.query)
        if route is None:
            found = _find_file(spec, info.path)
            if isinstance(found, Route):
                route = found
            elif found is not None:
                return self._file_answer(spec, found)
            else:
                route = not_found_route(info.path)
        delay = 0.0
        for _ in range(MAX_HANDLER_CHAIN):
            delay += route.delay
            if route.handler is None:
                break
            route = route.handler(info)
            if not isinstance(route, Route):
                raise TypeError(f"route callable for {info.path} returned {type(route).__name__}, "
                                "not a Route")
        else:
            raise RuntimeError(f"route callables for {info.path} chained more than {MAX_HANDLER_CHAIN} times")
        return self._route_answer(route) + (delay,)

    def _route_answer(self, route: Route) -> tuple[int, list[tuple[str, str]], bytes]:
        body = route.body
        if isinstance(body, str):
            body = self.fill_placeholders(body).encode(_charset_of(route.content_type) or "utf-8")
        defaults = [("Content-Type", route.content_type)] if route.content_type is not None else []
        extra = [(k, self.fill_placeholders(str(v))) for k, v in _header_pairs(route.headers)]
        overridden = {k.lower() for k, _ in extra}
        headers = [(k, v) for k, v in defaults if k.lower() not in overridden] + extra
        return route.status, headers, bytes(body)

    def _file_answer(self, spec: HostSpec, path: Path) -> tuple[int, list[tuple[str, str]], bytes, float]:
        data = path.read_bytes()
        if path.suffix.lower() in TEMPLATED_SUFFIXES:
            data = self._fill_bytes(data)
        ctype = _guess_type(path)
        if spec.charset and ctype.startswith(TEXT_TYPES):
            ctype += f"; charset={spec.charset}"
        return 200, [("Content-Type", ctype)], data, 0.0


def not_found_route(path: str) -> Route:
    """The default 404: a small HTML page."""
    shown = html.escape(unquote(path))
    return Route(status=404, body=(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>404 Not Found</title>'
        f'</head><body><h1>Not Found</h1><p>Nothing is served at {shown} on this host.</p></body></html>\n'))


def _find_route(routes: Mapping[str, RouteLike], path: str, query: str) -> Route | None:
    candidates = ([f"{path}?{query}"] if query else []) + [path]
    decoded = unquote(path)
    if decoded != path:
        candidates.append(decoded)
    for key in candidates:
        if key in routes:
            return _as_route(routes[key])
    prefixes = [k for k in routes if k.endswith("*") and (path.startswith(k[:-1]) or decoded.startswith(k[:-1]))]
    if prefixes:
        return _as_route(routes[max(prefixes, key=len)])
    return None


def _as_route(value: RouteLike) -> Route:
    if isinstance(value, Route):
        return value
    if callable(value):
        return Route(handler=value)
    raise TypeError(f"a route must be a Route or a callable, not {type(value).__name__}")


def _find_file(spec: HostSpec, url_path: str) -> Path | Route | None:
    """The file a path names, a Route redirecting a directory to its slash form, or None."""
    if spec.root is None:
        return None
    root = Path(spec.root).resolve()
    decoded = unquote(url_path)
    if "\x00" in decoded:
        return None
    clean = posixpath.normpath("/" + decoded.lstrip("/")).lstrip("/")
    target = (root / clean).resolve() if clean not in ("", ".") else root
    if target != root and root not in target.parents:
        return None  # ../ escaping the root
    if decoded.endswith("/") or target == root:
        index = target / "index.html"
        return index if target.is_dir() and index.is_file() else None
    if target.is_file():
        return target
    with_html = target.with_name(target.name + ".html")
    if with_html.is_file():
        return with_html
    if target.is_dir() and (target / "index.html").is_file():
        return Route.redirect(url_path + "/", status=301)
    return None


def _guess_type(path: Path) -> str:
    ctype, _ = mimetypes.guess_type(path.name)
    if path.suffix.lower() == ".md":
        return "text/markdown"
    return ctype or "application/octet-stream"


def _charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = re.search(r"charset=\"?([A-Za-z0-9_.:-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


def _header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        return list(headers.items())
    return [(k, v) for k, v in headers]


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False       # stop() must not wait for a client that keeps a connection open
    request_queue_size = 128     # a crawler opens many connections at once
    allow_reuse_address = True   # rebind the fixed demo ports right after the last run
    allow_reuse_port = False     # a busy port must fail, not be shared

    def __init__(self, port: int, site: SiteServer, host_name: str):
        self.site = site
        self.host_name = host_name
        super().__init__((LOOPBACK, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the machine's name, which can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):  # disconnects are the client's business
            self.site._note_error(exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as crawlers expect; every answer has a length
    server_version = "ContentAuditDemo/1.0"
    sys_version = ""
    timeout = 30                    # an idle keep-alive connection frees its thread eventually
    server: _HostServer

    def log_message(self, format: str, *args) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_POST(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, send_body: bool) -> None:
        site, host = self.server.site, self.server.host_name
        parts = urlsplit(self.path)
        path = parts.path or "/"
        full = path + (f"?{parts.query}" if parts.query else "")
        length = int(self.headers.get("Content-Length") or 0)
        body_in = self.rfile.read(length) if length > 0 else b""
        info = RequestInfo(host=host, method=self.command, path=path, query=parts.query,
                           params=parse_qs(parts.query, keep_blank_values=True), headers=self.headers,
                           body=body_in, count=site._record(host, self.command, full), server=site)
        try:
            status, headers, body, delay = site._answer(info)
        except Exception as exc:  # a broken fixture answers 500 and is reported in site.errors
            site._note_error(exc)
            status, headers, body = 500, [("Content-Type", "text/plain; charset=utf-8")], (
                f"500 route error: {type(exc).__name__}: {exc}\n".encode())
            delay = 0.0
        if delay > 0 and site._stopping.wait(delay):
            self.close_connection = True
            return
        self._write(status, headers, body, send_body)

    def _write(self, status: int, headers: list[tuple[str, str]], body: bytes, send_body: bool) -> None:
        no_body = status in NO_BODY_STATUSES or status < 200
        self.send_response(status)
        names = {k.lower() for k, _ in headers}
        for name, value in headers:
            self.send_header(name, value)
        if "content-length" not in names and not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and not no_body and body:
            self.wfile.write(body)
