"""The loopback site server (demo/server.py) and the bundled demo site, over real HTTP."""

from __future__ import annotations

import http.client
import re
import socket
import time
import urllib.error
import urllib.request
import urllib.robotparser
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from demo.server import HostSpec, PortBusyError, Request, Route, SiteServer
from demo.site import ARTICLE, DEMO_PORTS, OFF_TOPIC_POSTS, PLANTED, SITE_DIR, demo_hosts, start_demo_server


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


NO_REDIRECT = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, method: str = "GET", timeout: float = 5, follow: bool = True):
    """(status, headers, body) of a request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(url, method=method)
    opener = urllib.request.build_opener() if follow else NO_REDIRECT
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- generic server --------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    root = tmp_path / "a"
    (root / "docs").mkdir(parents=True)
    (root / "index.html").write_text('<a href="{{host:b}}/page">to b</a> <a href="{{host:nope}}/x">?</a>')
    (root / "about.html").write_text("<h1>About</h1>")
    (root / "docs" / "index.html").write_text("<h1>Docs</h1>")
    (root / "robots.txt").write_text("Sitemap: {{host:a}}/sitemap.xml\n")
    (root / "logo.png").write_bytes(b"\x89PNG{{host:b}}")
    (tmp_path / "secret.txt").write_text("outside the root")
    return root


def calendar(info):
    month = int(info.param("month", "0"))
    return Route.html(f'<a href="/calendar?month={month + 1}">next</a>')


def flaky(info):
    return Route(status=503, headers={"Retry-After": "1"}) if info.count == 1 else Route.html("ok now")


def broken(info):
    raise ValueError("fixture bug")


@pytest.fixture
def server(files):
    routes = {
        "/teapot": Route(status=418, body="short and stout", content_type="text/plain",
                         headers={"X-Robots-Tag": "noindex", "Retry-After": "7"}),
        "/cp1252": Route(body="<p>caf\xe9 \u2013 na\xefve</p>".encode("cp1252"), content_type="text/html"),
        "/cp1252-str": Route(body="<p>caf\xe9</p>", content_type="text/html; charset=windows-1252"),
        "/no-type": Route(body=b"\x00\x01binary", content_type=None),
        "/slow": Route(body="finally", delay=0.5),
        "/calendar": calendar,
        "/flaky": flaky,
        "/broken": broken,
        "/to-b": Route.redirect("{{host:b}}/page", status=302),
        "/big": Route(body=b"<p>" + b"x" * (5 * 1024 * 1024) + b"</p>"),
        "/about": Route.html("route wins over about.html"),
        "/search?q=1": Route.html("query route"),
        "/trap/*": Route.dynamic(lambda info: Route.html(f'<a href="{info.path}a/">deeper</a>')),
        "/empty": Route(status=204),
        "/post": lambda info: Route.text(f"got {info.body.decode()}"),
    }
    hosts = {"a": HostSpec(root=files, routes=routes),
             "b": HostSpec(routes={"/page": Route.html("<p>page on b, {{host:a}}</p>")})}
    with SiteServer(hosts) as running:
        yield running


def test_serves_files_with_placeholders_filled(server):
    status, headers, body = fetch(server.url("a"))
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body.decode() == (f'<a href="{server.base_url("b")}/page">to b</a> '
                             '<a href="{{host:nope}}/x">?</a>')  # unknown hosts stay as written
    assert server.base_url("b") == f"http://127.0.0.1:{server.ports['b']}"
    _, headers, body = fetch(server.url("a", "/robots.txt"))
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body.decode() == f"Sitemap: {server.url('a', '/sitemap.xml')}\n"


def test_binary_files_are_sent_byte_for_byte(server):
    _, headers, body = fetch(server.url("a", "/logo.png"))
    assert headers["Content-Type"] == "image/png"
    assert body == b"\x89PNG{{host:b}}"


@pytest.mark.parametrize("path, status, expected", [
    ("/docs/", 200, b"<h1>Docs</h1>"),
    ("/docs", 200, b"<h1>Docs</h1>"),          # after a 301 to /docs/
    ("/about.html", 200, b"<h1>About</h1>"),
    ("/missing", 404, b"Not Found"),
    ("/docs/missing.html", 404, b"Not Found"),
    ("/../secret.txt", 404, b"Not Found"),
    ("/%2e%2e/secret.txt", 404, b"Not Found"),
])
def test_file_paths(server, path, status, expected):
    got_status, headers, body = fetch(server.url("a", path))
    assert got_status == status
    assert expected in body
    if status == 404:
        assert headers["Content-Type"].startswith("text/html")
        assert body.lstrip().lower().startswith(b"<!doctype html>")


def test_directory_without_slash_redirects_once(server):
    status, headers, _ = fetch(server.url("a", "/docs"), follow=False)
    assert (status, headers["Location"]) == (301, "/docs/")


def test_head_has_headers_but_no_body(server):
    _, get_headers, get_body = fetch(server.url("a", "/big"))
    status, headers, body = fetch(server.url("a", "/big"), method="HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == len(get_body) == int(get_headers["Content-Length"])
    assert fetch(server.url("a", "/nowhere"), method="HEAD")[:3:2] == (404, b"")


def test_route_status_headers_and_content_type(server):
    status, headers, body = fetch(server.url("a", "/teapot"))
    assert (status, body) == (418, b"short and stout")
    assert headers["Content-Type"] == "text/plain"
    assert headers["X-Robots-Tag"] == "noindex" and headers["Retry-After"] == "7"


def test_route_bodies_bytes_exact_and_str_encoded_by_charset(server):
    _, headers, body = fetch(server.url("a", "/cp1252"))
    assert headers["Content-Type"] == "text/html"  # no charset, as hostile fixtures need
    assert body == "<p>caf\xe9 \u2013 na\xefve</p>".encode("cp1252")
    assert fetch(server.url("a", "/cp1252-str"))[2] == b"<p>caf\xe9</p>"
    _, headers, body = fetch(server.url("a", "/no-type"))
    assert "Content-Type" not in headers and body == b"\x00\x01binary"
    assert fetch(server.url("b", "/page"))[2].decode() == f"<p>page on b, {server.base_url('a')}</p>"


def test_routes_win_over_files_and_match_query_and_prefix(server):
    assert fetch(server.url("a", "/about"))[2] == b"route wins over about.html"
    assert fetch(server.url("a", "/search?q=1"))[2] == b"query route"
    assert fetch(server.url("a", "/search?q=2"))[0] == 404
    assert fetch(server.url("a", "/trap/a/a/"))[2] == b'<a href="/trap/a/a/a/">deeper</a>'


def test_redirect_location_gets_placeholders(server):
    status, headers, _ = fetch(server.url("a", "/to-b"), follow=False)
    assert (status, headers["Location"]) == (302, server.url("b", "/page"))
    assert headers["Content-Length"] == "0"


def test_delay(server):
    started = time.monotonic()
    assert fetch(server.url("a", "/slow"))[2] == b"finally"
    assert time.monotonic() - started >= 0.45
    with pytest.raises(OSError):  # socket timeout, however urllib wraps it
        fetch(server.url("a", "/slow"), timeout=0.1)
    assert fetch(server.url("a", "/"))[0] == 200  # still serving


def test_stop_does_not_wait_for_delayed_answers():
    running = SiteServer({"a": HostSpec(routes={"/very-slow": Route(body="x", delay=30)})}).start()
    with ThreadPoolExecutor(2) as pool:
        pending = pool.submit(fetch, running.url("a", "/very-slow"), timeout=20)
        time.sleep(0.2)
        started = time.monotonic()
        running.stop()
        assert time.monotonic() - started < 3
        with pytest.raises(Exception):  # connection closed without an answer
            pending.result(timeout=10)


def test_callables_calendar_trap(server):
    assert fetch(server.url("a", "/calendar?month=41"))[2] == b'<a href="/calendar?month=42">next</a>'
    assert fetch(server.url("a", "/calendar"))[2] == b'<a href="/calendar?month=1">next</a>'


def test_callables_503_then_200_and_count_per_url(server):
    status, headers, _ = fetch(server.url("a", "/flaky"))
    assert status == 503 and headers["Retry-After"] == "1"
    assert fetch(server.url("a", "/flaky"))[:3:2] == (200, b"ok now")
    assert fetch(server.url("a", "/flaky?x=1"))[0] == 503   # another URL, counted on its own


def test_failing_callable_answers_500_and_is_recorded(server):
    status, _, body = fetch(server.url("a", "/broken"))
    assert status == 500 and b"fixture bug" in body
    assert [type(e) for e in server.errors] == [ValueError]


def test_post_body_reaches_callable(server):
    request = urllib.request.Request(server.url("a", "/post"), data=b"hello", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.read() == b"got hello"


def test_no_content_status(server):
    status, headers, body = fetch(server.url("a", "/empty"))
    assert (status, body) == (204, b"")


def test_large_page(server):
    status, headers, body = fetch(server.url("a", "/big"), timeout=20)
    assert status == 200 and len(body) == 5 * 1024 * 1024 + 7


def test_requests_are_recorded(server):
    fetch(server.url("a", "/docs"))
    fetch(server.url("a", "/calendar?month=3"), method="HEAD")
    fetch(server.url("b", "/page"))
    assert server.requests == [("a", "GET", "/docs"), ("a", "GET", "/docs/"),
                               ("a", "HEAD", "/calendar?month=3"), ("b", "GET", "/page")]
    assert isinstance(server.requests[0], Request) and server.requests[0].path == "/docs"
    assert server.count("a", "/docs/") == 1 and server.count(path="/never") == 0
    assert server.count(method="HEAD") == 1
    server.clear_requests()
    assert server.requests == []


def test_many_concurrent_connections(server):
    paths = [f"/calendar?month={n}" for n in range(200)]
    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(lambda p: fetch(server.url("a", p), timeout=10)[0], paths))
    assert statuses == [200] * 200
    assert sorted(r.path for r in server.requests) == sorted(paths)


def test_keep_alive_connection_serves_several_requests(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["a"], timeout=5)
    try:
        for path in ("/", "/about", "/missing", "/teapot"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
        assert response.status == 418
    finally:
        conn.close()


def test_client_disconnects_are_harmless_and_quiet(server, capfd):
    with socket.create_connection(("127.0.0.1", server.ports["a"])) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")   # leaves before the answer
    with socket.create_connection(("127.0.0.1", server.ports["a"])) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")    # leaves mid-body
        sock.recv(100)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with socket.create_connection(("127.0.0.1", server.ports["a"])) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")                          # not HTTP at all
        sock.recv(1000)
    time.sleep(0.8)
    assert fetch(server.url("a", "/"))[0] == 200
    assert server.errors == []
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_binds_loopback_only(server):
    for name in ("a", "b"):
        assert server.url(name, "x").startswith(f"http://127.0.0.1:{server.ports[name]}/x")
        assert server._servers[name].server_address[0] == "127.0.0.1"


def test_busy_port_is_named_and_nothing_stays_bound():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        first = free_port()
        site = SiteServer({"first": HostSpec(), "second": HostSpec()}, ports={"first": first, "second": busy})
        with pytest.raises(OSError, match=str(busy)) as info:
            site.start()
        assert isinstance(info.value, PortBusyError) and info.value.host == "second"
        assert not site.running
    with socket.socket() as again:  # the first host's port was released
        again.bind(("127.0.0.1", first))


def test_usage_errors():
    with pytest.raises(ValueError, match="unknown hosts"):
        SiteServer({"a": HostSpec()}, ports={"b": 1})
    with pytest.raises(ValueError, match="not a directory"):
        SiteServer({"a": HostSpec(root="/no/such/folder")})
    idle = SiteServer({"a": HostSpec()})
    with pytest.raises(RuntimeError, match="start"):
        idle.url("a")
    with idle:
        with pytest.raises(KeyError):
            idle.url("nope")
    assert not idle.running


# -- the demo site -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo():
    # Free ports, so tests never collide with a demo someone is running on DEMO_PORTS.
    with SiteServer(demo_hosts()) as running:
        yield running


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])

    def handle_data(self, data):
        self.text.append(data)


def parse(body: bytes) -> PageParser:
    parser = PageParser()
    parser.feed(body.decode("utf-8"))
    return parser


def test_demo_ports_are_fixed():
    assert DEMO_PORTS == {"clinic": 8461, "blog": 8462, "partner": 8463}


def test_demo_pages_are_served_without_leftover_placeholders(demo):
    for host in ("clinic", "blog", "partner"):
        for path in sorted((SITE_DIR / host).rglob("*")):
            if path.is_file():
                rel = "/" + path.relative_to(SITE_DIR / host).as_posix()
                status, _, body = fetch(demo.url(host, rel))
                assert status == 200, rel
                assert b"{{" not in body, rel


def test_demo_robots_and_sitemaps(demo):
    for host, disallowed in (("clinic", "/admin/"), ("blog", "/drafts/")):
        status, headers, body = fetch(demo.url(host, "/robots.txt"))
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        text = body.decode()
        assert f"Disallow: {disallowed}" in text
        assert f"Sitemap: {demo.url(host, '/sitemap.xml')}" in text
        status, _, sitemap = fetch(demo.url(host, "/sitemap.xml"))
        assert status == 200
        locs = re.findall(r"<loc>(.*?)</loc>", sitemap.decode())
        assert len(locs) >= 12
        for loc in locs:
            assert loc.startswith(demo.base_url(host) + "/")
            assert fetch(loc, follow=False)[0] == 200, loc


def test_demo_article_shape(demo):
    status, _, body = fetch(demo.url("clinic", ARTICLE))
    assert status == 200
    html = body.decode()
    before, article, after = re.split(r"<article>|</article>", html)
    blog = demo.base_url("blog")
    teaser = r'<p class="teaser">[^<]*\.\.\.<a href="([^"]+)">Read More</a></p>'
    assert re.findall(teaser, before) == [blog + p for p in OFF_TOPIC_POSTS[:2]]
    assert re.findall(teaser, after) == [blog + p for p in OFF_TOPIC_POSTS[2:]]
    prose = re.sub(r"<nav.*?</nav>|<h1.*?</h1>|<h2.*?</h2>|<p class=\"byline\">.*?</p>", " ", article, flags=re.S)
    words = re.sub(r"<[^>]+>", " ", prose).split()
    assert 900 <= len(words) <= 1100
    for term in ("glutamate", "neuroplasticity", "AMPA", "BDNF"):
        assert term in article
    sentences = [s.split() for s in re.split(r"(?<=[.!?])\s+", re.sub(r"<[^>]+>", " ", prose)) if s.strip()]
    assert sum(1 for s in sentences if 30 <= len(s) <= 46) >= 15


def test_demo_cross_host_link_resolves_to_blog_server(demo):
    _, _, body = fetch(demo.url("clinic", ARTICLE))
    page = parse(body)
    to_blog = [href for href in page.links if href.startswith(demo.base_url("blog") + "/posts/")]
    assert demo.url("blog", "/posts/oud-perfume-guide") in to_blog
    demo.clear_requests()
    status, _, post = fetch(demo.url("blog", "/posts/oud-perfume-guide"))
    assert status == 200 and b"<h1>Oud perfume" in post
    assert demo.requests == [("blog", "GET", "/posts/oud-perfume-guide")]


def test_demo_off_topic_posts_are_long_enough(demo):
    for path in OFF_TOPIC_POSTS:
        _, _, body = fetch(demo.url("blog", path))
        article = re.search(r"<article>(.*)</article>", body.decode(), re.S).group(1)
        assert 300 <= len(re.sub(r"<[^>]+>", " ", article).split()) <= 500, path


def test_demo_pages_have_realistic_structure(demo):
    for host in ("clinic", "blog"):
        for path in sorted((SITE_DIR / host).rglob("*.html")):
            html = fetch(demo.url(host, "/" + path.relative_to(SITE_DIR / host).as_posix()))[2].decode()
            assert '<html lang="en">' in html and "<title>" in html
            assert html.count("<h1") == 1 and "<main" in html
            for tag in ("<header", "<nav", "<footer"):
                assert tag in html, (path, tag)


def crawl_demo(demo: SiteServer) -> set[tuple[str, str, str]]:
    """A small link checker over the demo's own hosts: (kind, page, target) of link problems."""
    own = {urlsplit(demo.base_url(h)).netloc for h in ("clinic", "blog")}
    robots = {}
    for host in ("clinic", "blog"):
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(fetch(demo.url(host, "/robots.txt"))[2].decode().splitlines())
        robots[urlsplit(demo.base_url(host)).netloc] = parser
    checked: dict[str, tuple[int, list[str], str]] = {}   # url -> (final status, hops, final url)
    parsed: dict[str, PageParser] = {}

    def check(url):
        if url not in checked:
            hops, current = [], url
            for _ in range(10):
                status, headers, body = fetch(current, follow=False)
                if status in (301, 302, 303, 307, 308):
                    hops.append(current)
                    current = urljoin(current, headers["Location"])
                    continue
                break
            checked[url] = (status, hops, current)
            if status == 200 and urlsplit(current).netloc in own and current not in parsed:
                parsed[current] = parse(body)
        return checked[url]

    findings: set[tuple[str, str, str]] = set()
    linked: set[str] = set()
    queue = deque([demo.url("clinic", "/"), demo.url("blog", "/")])
    seen = set(queue)
    while queue:
        page = queue.popleft()
        check(page)
        for href in parsed[page].links:
            absolute, fragment = urldefrag(urljoin(page, href))
            if urlsplit(absolute).scheme not in ("http", "https"):
                continue
            link = absolute + (f"#{fragment}" if fragment else "")
            netloc = urlsplit(absolute).netloc
            if netloc in robots and not robots[netloc].can_fetch("*", absolute):
                findings.add(("blocked_by_robots", page, link))
                continue
            linked.add(absolute)
            status, hops, final = check(absolute)
            if status >= 400:
                findings.add(("broken_link", page, link))
            elif len(hops) >= 2:
                findings.add(("redirect_chain", page, link))
            elif len(hops) == 1:
                findings.add(("redirected_link", page, link))
            if fragment and status == 200 and final in parsed and fragment not in parsed[final].ids:
                findings.add(("missing_anchor", page, link))
            if status == 200 and final in parsed and final not in seen:
                seen.add(final)
                queue.append(final)
    for host in ("clinic", "blog"):
        for loc in re.findall(r"<loc>(.*?)</loc>", fetch(demo.url(host, "/sitemap.xml"))[2].decode()):
            if loc not in linked and loc != demo.url(host, "/"):
                findings.add(("orphan_page", loc, ""))
    return findings


def test_demo_link_problems_are_exactly_the_planted_ones(demo):
    link_kinds = {"broken_link", "redirect_chain", "redirected_link", "missing_anchor",
                  "blocked_by_robots", "orphan_page"}
    expected = {(p.kind, p.page, p.target) for p in (q.resolved(demo) for q in PLANTED) if p.kind in link_kinds}
    assert crawl_demo(demo) == expected
    assert demo.count("clinic", "/admin/") == 0


def test_demo_planted_list_is_consistent_with_readme():
    readme = (SITE_DIR / "README.md").read_text()
    for planted in PLANTED:
        assert f"`{planted.kind}`" in readme
        for url in (planted.page, planted.target):
            path = re.sub(r"^\{\{host:\w+\}\}", "", url)
            if path:
                assert f"`{path}`" in readme, path


def test_start_demo_server_uses_given_ports_and_names_a_busy_one():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        with pytest.raises(OSError, match=f"port {busy}") as info:
            start_demo_server({"clinic": busy, "blog": 0, "partner": 0})
        assert "fallback=True" in str(info.value)
        running = start_demo_server({"clinic": busy, "blog": 0, "partner": 0}, fallback=True)
        try:
            assert running.ports["clinic"] != busy
            assert fetch(running.url("clinic", "/"))[0] == 200
        finally:
            running.stop()
    ports = {"clinic": free_port(), "blog": free_port(), "partner": free_port()}
    running = start_demo_server(ports)
    try:
        assert running.ports == ports
        status, _, body = fetch(running.url("clinic", "/"))
        assert status == 200 and f"http://127.0.0.1:{ports['blog']}/".encode() in body
    finally:
        running.stop()
