"""Tests of analysis/links.py: its plain rules as tables, then each kind over real temporary DuckDB
crawls filled row by row (no crawler needed); the end-to-end crawl is in test_links_e2e.py."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

import duckdb

from analysis import link_rules, links
from crawler import relations, store
from crawler.config import ConfigError, LinksOptions, Options, load_config
from crawler.urls import host_key, resolve
from conftest import StoredCrawl

C = "http://clinic.test"
B = "http://blog.clinic.test"
X = "http://other.example"
HOSTS = {host_key(C + "/"), host_key(B + "/")}


# --- plain rules --------------------------------------------------------------------------------

@pytest.mark.parametrize("outcome, status, error, redirect_to, expected", [
    ("fetched", 200, None, None, None),
    ("fetched", 204, None, None, None),
    ("fetched", 404, None, None, "404 Not Found"),
    ("fetched", 410, None, None, "410 Gone"),
    ("fetched", 503, None, None, "503 Service Unavailable"),
    ("fetched", 599, None, None, "599"),
    ("cached", 404, None, None, "404 Not Found"),
    ("cached", None, "DNS lookup failed", None, "DNS lookup failed"),
    ("error", None, "timeout", None, "timeout"),
    ("error", None, "connection refused", None, "connection refused"),
    ("too_large", 200, "too large", None, None),
    ("too_large", None, "too large (over the 1,000-byte limit)", None, None),
    ("not_fetched", None, "not fetched: declined", None, None),
    ("fetched", 200, "binary content served as HTML", None, None),
    ("fetched", 301, "redirect without a valid Location", None, "301 Moved Permanently without a valid Location"),
    ("fetched", 301, None, C + "/b", None),
    ("fetched", 302, None, None, "302 Found without a valid Location"),
    ("fetched", 304, None, None, None),
    ("blocked_by_robots", None, None, None, None),
    ("trap", None, "http://clinic.test/cal/{n}", None, None),
    (None, None, None, None, None),
])
def test_broken_and_its_text(outcome, status, error, redirect_to, expected):
    """relations.broken_sql (the one rule of "broken") and the text an editor reads of it."""
    broken = duckdb.connect().execute(
        f"SELECT {relations.broken_sql('t')} FROM (SELECT ?::VARCHAR AS outcome, ?::INTEGER AS status, "
        "?::VARCHAR AS error, ?::VARCHAR AS redirect_to) t", [outcome, status, error, redirect_to]).fetchone()[0]
    assert bool(broken) == (expected is not None)
    if broken:
        assert link_rules.failure_text(status, error) == expected


@pytest.mark.parametrize("status, error, internal, expected", [
    (404, None, True, "internal_4xx"),
    (403, None, True, "internal_4xx"),
    (500, None, True, "internal_5xx"),
    (None, "timeout", True, "internal_unreachable"),
    (None, "DNS lookup failed", True, "internal_unreachable"),
    (404, None, False, "external_4xx"),
    (410, None, False, "external_4xx"),
    (401, None, False, "external_auth"),
    (403, None, False, "external_auth"),
    (503, None, False, "external_5xx"),
    (302, None, False, "external_5xx"),
    (None, "timeout", False, "external_unreachable"),
    (None, "connection refused", False, "external_unreachable"),
    (None, "TLS error", False, "external_unreachable"),
    (None, "DNS lookup failed", False, "external_dns"),
    (429, None, False, "rate_limited"),
    (429, None, True, "rate_limited"),
])
def test_broken_rule(status, error, internal, expected):
    assert link_rules.broken_rule(status, error, internal) == expected


@pytest.mark.parametrize("scheme, expected", [
    ("htps", "https"), ("htp", "http"), ("hhtp", "http"), ("httpss", "https"), ("ttps", "https"),
    ("mailto", None), ("tel", None), ("javascript", None), ("data", None), ("ftp", None),
    ("spotify", None), ("zoommtg", None), ("itms", None), ("ssh", None), ("", None), (None, None),
])
def test_scheme_typo(scheme, expected):
    assert link_rules.scheme_typo(scheme) == expected


@pytest.mark.parametrize("fragment, anchors, expected", [
    ("faq", ["faq", "intro"], True),
    ("FAQ", ["faq"], False),          # ids are case-sensitive
    ("missing", ["faq"], False),
    ("", [], True),
    ("top", [], True),
    ("Top", [], True),
    ("caf%C3%A9", ["café"], True),
    ("café", ["café"], True),
    ("a%20b", ["a b"], True),
    (":~:text=hello", [], True),
    ("/settings", [], True),
    ("!/route", [], True),
    ("faq:~:text=x", ["faq"], True),
    ("%zz", [], False),
])
def test_anchor_defined(fragment, anchors, expected):
    assert link_rules.anchor_defined(fragment, anchors) is expected


@pytest.mark.parametrize("row, expected", [
    ({"element": "a", "text": "Book now", "n": 1}, 'link text "Book now"'),
    ({"element": "a", "text": None, "n": 1}, "no link text"),
    ({"element": "a", "text": "  Book \n now ", "n": 3}, 'link text "Book now" (3 links on this page)'),
    ({"element": "img", "text": "Our team", "n": 1}, 'image, alt text "Our team"'),
    ({"element": "img", "text": "", "n": 1}, "image, no alt text"),
    ({"element": "link", "rel": "canonical", "n": 1}, "canonical link"),
    ({"element": "link", "rel": "Stylesheet", "n": 1}, "stylesheet"),
    ({"element": "link", "rel": "alternate", "n": 1}, "<link rel=alternate>"),
    ({"element": "iframe", "n": 1}, "embedded frame"),
    ({"element": "a", "text": "x" * 150, "n": 1}, 'link text "' + "x" * 99 + '…"'),
])
def test_describe(row, expected):
    assert link_rules.describe(row) == expected


def test_rule_severities_follow_the_config():
    opts = Options()
    assert link_rules.severity("internal_4xx", opts) == "error"
    assert link_rules.severity("external_unreachable", opts) == "warning"
    assert link_rules.severity("external_auth", opts) == "warning"
    opts = replace(opts, severity={"broken_link": "notice"})
    assert link_rules.severity("internal_4xx", opts) == "notice"
    assert link_rules.severity("external_auth", opts) == "warning"       # its own option wins
    opts = replace(opts, links=LinksOptions(severity={"internal_5xx": "warning"}, external_auth_severity="error"))
    assert link_rules.severity("internal_5xx", opts) == "warning"
    assert link_rules.severity("internal_4xx", opts) == "notice"
    assert link_rules.severity("external_auth", opts) == "error"


def test_rules_config_and_docs_agree():
    assert {kind for kind, _ in link_rules.RULES.values()} == set(links.KINDS)
    docs = (Path(__file__).parent.parent / "docs" / "links.md").read_text(encoding="utf-8")
    for rule, (kind, default) in link_rules.RULES.items():
        row = re.search(rf"^\| `{rule}` \| `{kind}` \| (\w+) \|", docs, re.MULTILINE)
        assert row, f"docs/links.md has no severity table row for {rule}"
        if rule != "external_auth":
            assert row.group(1) == default


@pytest.mark.parametrize("toml, message", [
    ('[links.severity]\nextrnal_5xx = "notice"\n', "did you mean external_5xx"),
    ('[links.severity]\nexternal_5xx = "loud"\n', "use one of error, warning, notice"),
    ("[links]\nexternal_cache_days = -1\n", "external_cache_days"),
    ('[links]\nexternal_auth_severity = "high"\n', "external_auth_severity"),
])
def test_bad_config_says_what_to_fix(tmp_path, toml, message):
    path = tmp_path / "audit.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_config_sets_a_rule(tmp_path):
    path = tmp_path / "audit.toml"
    path.write_text('[links]\nexternal_cache_days = 3\n[links.severity]\nexternal_timeout = "notice"\n'
                    .replace("external_timeout", "external_unreachable"), encoding="utf-8")
    options = load_config(path)
    assert options.links.severity == {"external_unreachable": "notice"}
    assert options.links.external_cache_days == 3.0


# --- a crawl built row by row ---------------------------------------------------------------------

class Crawl(StoredCrawl):
    """A stored crawl of clinic.test + blog.clinic.test written straight into a temporary DuckDB."""

    def __init__(self, path: Path, status: str = "finished", start_urls=(C + "/", B + "/")):
        super().__init__(store.open_store(path), "clinic.test", start_urls, hosts=HOSTS, status=status)

    def page(self, url: str, anchors=(), links_to=(), status: int = 200):
        """A parsed HTML page of the site with its links: (href[, text[, element[, rel]]])."""
        super().page(url, status=status, anchors=list(anchors) if anchors is not None else None)
        for link in links_to:
            self.link(url, *((link,) if isinstance(link, str) else link))
        return self

    def analyse(self, options: Options | None = None) -> dict[str, int]:
        return links.analyse(self.con, self.id, options or Options())

    def flags(self) -> list[dict]:
        cur = self.con.execute(
            "SELECT kind, page_url, target, severity, detail, suggestion FROM flags WHERE crawl_id = ? "
            "ORDER BY kind, page_url, target", [self.id])
        return [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]

    def found(self) -> set[tuple[str, str, str]]:
        return {(f["kind"], f["page_url"], f["target"]) for f in self.flags()}

    def one(self, kind: str, target: str) -> dict:
        hits = [f for f in self.flags() if f["kind"] == kind and f["target"] == target]
        assert len(hits) == 1, (kind, target, self.flags())
        return hits[0]


@pytest.fixture
def crawl(tmp_path):
    c = Crawl(tmp_path / "audit.duckdb")
    yield c
    c.con.close()


HOME = C + "/"


def test_broken_links_inside_across_and_beyond_the_site(crawl):
    crawl.page(HOME, links_to=[
        ("/services/ketamine-therapy", "Ketamine therapy"),
        ("/services/ketamine-theraphy", "Ketamine (typo)"),
        (B + "/artcles/what-to-expect", "What to expect"),
        ("/old-page", "Old"), ("/crash", "Crash"), ("/slow", "Slow"),
        (X + "/gone", "Study"), (X + "/busy", "Busy"), (X + "/login", "Members"),
        ("http://nxdomain.invalid/", "Dead domain"), ("http://127.0.0.1:9/", "Refused"),
        (X + "/timeout", "Slow site"), (X + "/limit", "Limited"),
        ("/team.jpg", "Our team", "img"),
    ])
    crawl.page(C + "/services/ketamine-therapy")
    crawl.page(B + "/articles/what-to-expect")
    crawl.response(C + "/services/ketamine-theraphy", 404)
    crawl.response(B + "/artcles/what-to-expect", 404)
    crawl.response(C + "/old-page", 410)
    crawl.response(C + "/crash", 500)
    crawl.response(C + "/slow", None, "error", "timeout", attempts=3)
    crawl.response(X + "/gone", 404)
    crawl.response(X + "/busy", 503, attempts=3)
    crawl.response(X + "/login", 403)
    crawl.response("http://nxdomain.invalid/", None, "error", "DNS lookup failed")
    crawl.response("http://127.0.0.1:9/", None, "error", "connection refused")
    crawl.response(X + "/timeout", None, "error", "timeout", attempts=3)
    crawl.response(X + "/limit", 429)
    crawl.response(C + "/team.jpg", 404)
    counts = crawl.analyse()
    expected = {
        (C + "/services/ketamine-theraphy", "error", "404 Not Found", "Did you mean " + C + "/services/ketamine-therapy?"),
        (B + "/artcles/what-to-expect", "error", "404 Not Found", "Did you mean " + B + "/articles/what-to-expect?"),
        (C + "/old-page", "error", "410 Gone", "removed on purpose"),
        (C + "/crash", "error", "500 Internal Server Error", "ask your developer"),
        (C + "/slow", "error", "timeout after 3 attempts", "did not answer"),
        (X + "/gone", "error", "404 Not Found", "page is gone"),
        (X + "/busy", "warning", "503 Service Unavailable after 3 attempts", "may be temporary"),
        (X + "/login", "warning", "403 Forbidden", "login or bot wall"),
        ("http://nxdomain.invalid/", "error", "DNS lookup failed", "host name does not exist"),
        ("http://127.0.0.1:9/", "warning", "connection refused", "may be temporary"),
        (X + "/timeout", "warning", "timeout after 3 attempts", "may be temporary"),
        (X + "/limit", "notice", "429 Too Many Requests", "slow down"),
        (C + "/team.jpg", "error", "image, alt text \"Our team\"", "Upload the image again"),
    }
    got = {(f["target"], f["severity"]) for f in crawl.flags()}
    assert got == {(t, s) for t, s, _, _ in expected}
    for target, _, detail, suggestion in expected:
        flag = crawl.one("broken_link", target)
        assert detail in flag["detail"] and suggestion in flag["suggestion"], flag
        assert flag["page_url"] == HOME
    assert 'link text "Ketamine (typo)"' in crawl.one("broken_link", C + "/services/ketamine-theraphy")["detail"]
    assert counts == {**dict.fromkeys(links.KINDS, 0), "broken_link": 13}


def test_cached_external_results_count_like_fresh_ones(crawl):
    crawl.page(HOME, links_to=[X + "/gone", X + "/fine", X + "/moved"])
    crawl.response(X + "/gone", 404, "cached")
    crawl.response(X + "/fine", 200, "cached")
    crawl.response(X + "/moved", 301, "cached", redirect_to=X + "/moved/")
    crawl.response(X + "/moved/", 301, "cached", redirect_to=X + "/final")
    crawl.response(X + "/final", None, "cached", "connection refused")
    crawl.analyse()
    assert crawl.found() == {("broken_link", HOME, X + "/gone"), ("broken_link", HOME, X + "/moved")}
    assert "connection refused after 2 redirects" in crawl.one("broken_link", X + "/moved")["detail"]


@pytest.mark.parametrize("chain, kind, severity, detail", [
    ([C + "/a", C + "/b", C + "/c", C + "/d"], "redirect_chain", "warning", "3 redirects: "),
    ([C + "/a", B + "/a"], "redirected_link", "notice", "redirects once: "),
    ([C + "/a", X + "/partner"], "redirected_link", "notice", "redirects once: "),
    ([X + "/a", X + "/b", X + "/c"], "redirect_chain", "notice", "2 redirects: "),
    (["https://clinic.test/a", C + "/a"], "redirected_link", "notice", "redirects once: "),
])
def test_redirects_list_every_hop_and_the_final_url(crawl, chain, kind, severity, detail):
    crawl.page(HOME, links_to=[(chain[0], "Read more")])
    for here, there in zip(chain, chain[1:]):
        crawl.response(here, 301, redirect_to=there)
    crawl.page(chain[-1]) if host_key(chain[-1]) in HOSTS else crawl.response(chain[-1], 200)
    crawl.analyse()
    assert crawl.found() == {(kind, HOME, chain[0])}
    flag = crawl.one(kind, chain[0])
    assert flag["severity"] == severity
    assert flag["detail"].startswith(detail)
    hops = " → ".join(f"{u} (301)" for u in chain[:-1]) + f" → {chain[-1]} (200)"
    assert hops in flag["detail"]
    assert 'link text "Read more"' in flag["detail"]
    assert flag["suggestion"] == f"Link to {chain[-1]} directly."


def test_single_external_redirect_is_not_a_finding(crawl):
    crawl.page(HOME, links_to=["http://other.example/"]).response(X + "/", 301, redirect_to="https://other.example/")
    crawl.response("https://other.example/", 200)
    assert crawl.analyse()["redirected_link"] == 0


@pytest.mark.parametrize("hops", [
    [C + "/loop", C + "/loop"],
    [C + "/loop", C + "/b", C + "/loop"],
    [C + "/loop", C + "/b", C + "/c", C + "/b"],
])
def test_redirect_loops(crawl, hops):
    crawl.page(HOME, links_to=["/loop"])
    for here, there in dict(zip(hops, hops[1:])).items():
        crawl.response(here, 302, redirect_to=there + "#frag")
    crawl.analyse()
    assert crawl.found() == {("redirect_loop", HOME, C + "/loop")}
    flag = crawl.one("redirect_loop", C + "/loop")
    assert flag["severity"] == "error"
    assert flag["detail"].startswith("redirects in a loop: " + C + "/loop (302)")


def test_too_many_redirects(crawl):
    crawl.page(HOME, links_to=["/r0"])
    for i in range(30):
        crawl.response(f"{C}/r{i}", 301, redirect_to=f"{C}/r{i + 1}")
    crawl.page(f"{C}/r30")
    crawl.analyse()
    assert crawl.one("redirect_chain", C + "/r0")["severity"] == "error"
    assert "more than 20 redirects" in crawl.one("redirect_chain", C + "/r0")["detail"]


def test_chain_to_a_broken_page_is_one_broken_link(crawl):
    crawl.page(HOME, links_to=["/a", "/x"])
    crawl.response(C + "/a", 301, redirect_to=C + "/b").response(C + "/b", 302, redirect_to=C + "/c")
    crawl.response(C + "/c", 404)
    crawl.response(C + "/x", 301, redirect_to=C + "/y").response(C + "/y", 301, redirect_to=C + "/private")
    crawl.response(C + "/private", None, "blocked_by_robots")
    crawl.analyse()
    assert crawl.found() == {("broken_link", HOME, C + "/a"), ("redirect_chain", HOME, C + "/x")}
    assert crawl.one("broken_link", C + "/a")["detail"].startswith(
        f"404 Not Found after 2 redirects: {C}/a (301) → {C}/b (302) → {C}/c (404 Not Found)")
    assert "blocked by robots.txt, not checked" in crawl.one("redirect_chain", C + "/x")["detail"]


def test_chain_whose_last_hop_was_not_fetched(crawl):
    crawl.page(HOME, links_to=["/a"])
    crawl.response(C + "/a", 301, redirect_to=C + "/b").response(C + "/b", 301, redirect_to=C + "/c")
    crawl.analyse()
    assert crawl.one("redirect_chain", C + "/a")["detail"].startswith(
        f"2 redirects: {C}/a (301) → {C}/b (301) → {C}/c (not checked)")


def test_not_findings(crawl):
    crawl.page(HOME, links_to=[
        "mailto:info@clinic.test", "MAILTO:x@y", "tel:+15550100", "javascript:void(0)", "data:text/plain,hi",
        "sms:+1555", "spotify:track:1", "#", "", " ", "/fine", "/beyond-limits", X + "/fine",
        "/calendar/2031/01", "/huge.pdf", (None, "placeholder"), ("/fine", "nofollow", "a", "nofollow"),
    ])
    crawl.page(C + "/fine")
    crawl.response(X + "/fine", 204)
    crawl.response(C + "/calendar/2031/01", None, "trap", error=C + "/calendar/{n}/{n}")
    crawl.response(C + "/huge.pdf", 200, "too_large", "too large")
    assert crawl.analyse() == dict.fromkeys(links.KINDS, 0)
    assert crawl.flags() == []


def test_nofollow_links_are_checked(crawl):
    crawl.page(HOME, links_to=[("/sponsored", "Partner", "a", "nofollow sponsored")]).response(C + "/sponsored", 404)
    crawl.analyse()
    assert crawl.found() == {("broken_link", HOME, C + "/sponsored")}


def test_canonical_and_stylesheet_links(crawl):
    crawl.page(HOME, links_to=[("/home-old", None, "link", "canonical"), ("/site.css", None, "link", "stylesheet")])
    crawl.response(C + "/home-old", 404).response(C + "/site.css", 404)
    crawl.analyse()
    assert crawl.one("broken_link", C + "/home-old")["detail"] == "404 Not Found; canonical link"
    assert crawl.one("broken_link", C + "/site.css")["severity"] == "error"


def test_blocked_by_robots_is_a_notice_not_broken(crawl):
    crawl.page(HOME, links_to=["/private/intake", X + "/private"])
    crawl.response(C + "/private/intake", None, "blocked_by_robots")
    crawl.response(X + "/private", None, "blocked_by_robots")
    counts = crawl.analyse()
    assert counts["blocked_by_robots"] == 2 and counts["broken_link"] == 0
    assert {f["severity"] for f in crawl.flags()} == {"notice"}


BAD_HREFS = [
    # href, expected finding target (None: no finding), severity, start of its detail
    ("/a b.html", "http://clinic.test/a%20b.html", "warning", 'the href "/a b.html" contains a space'),
    ("/café", None, None, None),
    ("HTTP://CLINIC.TEST/upper", None, None, None),
    ("../../../../past-root", None, None, None),
    ("//blog.clinic.test/protocol-relative", None, None, None),
    ("http://clinic.test:8080/other-port", None, None, None),
    ("http://bücher.example/", None, None, None),
    ("http://x:99999/", "http://x:99999/", "error", "invalid URL: "),
    ("http://", "http://", "error", "invalid URL: "),
    ("http://a b/", "http://a b/", "error", "invalid URL: "),
    ("htps://clinic.test/x", "htps://clinic.test/x", "error", "invalid URL: "),
    ("  /trimmed  ", None, None, None),
    ("/a%20b.html", None, None, None),                  # encoded: fine
    ("file:///C:/Users/anna/Desktop/leaflet.pdf", "file:///C:/Users/anna/Desktop/leaflet.pdf", "error",
     "a file on the author's computer"),
    ("FILE://server/share/form.docx", "FILE://server/share/form.docx", "error", "a file on the author's computer"),
    ("mailto:care@clinic.test", None, None, None),
    ("tel:+1 555 0100", None, None, None),             # spaces in a phone number are fine
]


def test_bad_hrefs_get_a_verdict_never_a_crash(crawl):
    crawl.page(HOME, links_to=[(href, f"bad {i}") for i, (href, *_) in enumerate(BAD_HREFS)])
    for href, *_ in BAD_HREFS:
        r = resolve(href, HOME, HOSTS)
        if r.url:
            crawl.response(r.url, 200)
    crawl.analyse()
    expected = {("broken_link", HOME, target) for _, target, *_ in BAD_HREFS if target}
    assert crawl.found() == expected
    for _, target, sev, detail in BAD_HREFS:
        if target:
            flag = crawl.one("broken_link", target)
            assert flag["detail"].startswith(detail) and flag["severity"] == sev, flag
    assert "did you mean https:?" in crawl.one("broken_link", "htps://clinic.test/x")["detail"]


def test_a_space_in_an_href_to_a_broken_page_is_one_broken_link(crawl):
    crawl.page(HOME, links_to=["/contact us"])
    crawl.response(C + "/contact%20us", 404)
    crawl.analyse()
    assert crawl.found() == {("broken_link", HOME, C + "/contact%20us")}
    assert crawl.one("broken_link", C + "/contact%20us")["severity"] == "error"


@pytest.mark.parametrize("override, expected", [
    ({}, "notice"),
    ({"broken_link": "error"}, "warning"),        # rate limiting is never an error
    ({"broken_link": "notice"}, "notice"),
])
def test_rate_limiting_is_a_warning_at_most(crawl, override, expected):
    crawl.page(HOME, links_to=[X + "/busy"])
    crawl.response(X + "/busy", 429, attempts=3)
    crawl.analyse(replace(Options(), severity=override))
    flag = crawl.one("broken_link", X + "/busy")
    assert flag["severity"] == expected and "429" in flag["detail"] and "3 attempts" in flag["detail"]


def test_missing_anchors(crawl):
    crawl.page(HOME, anchors=["contact"], links_to=[
        ("#contact", "Contact"), ("#nope", "Nope"), ("#top", "Top"), "#", ("#:~:text=hi", "hl"),
        ("/faq#dosing", "Dosing"), ("/faq#dosnig", "Typo"), ("/faq#caf%C3%A9", "Decoded"),
        ("/old-faq#dosing", "Via redirect"), ("/old-faq#gone", "Via redirect, missing"),
        (B + "/post#comments", "Blog comments"), (X + "/paper#section-2", "External"),
        ("/faq.pdf#page=3", "PDF"), ("/broken#x", "Broken"), ("/unparsed#x", "Unparsed"),
        ("/faq#Dosing", "Wrong case"),
    ])
    crawl.page(C + "/faq", anchors=["dosing", "café", "side-effects"])
    crawl.response(C + "/old-faq", 301, redirect_to=C + "/faq")
    crawl.page(B + "/post", anchors=[])
    crawl.response(X + "/paper", 200).response(C + "/faq.pdf", 200).response(C + "/broken", 404)
    crawl.page(C + "/unparsed", anchors=None)
    crawl.analyse()
    missing = {t for k, _, t in crawl.found() if k == "missing_anchor"}
    assert missing == {HOME + "#nope", C + "/faq#dosnig", C + "/old-faq#gone", B + "/post#comments",
                       C + "/faq#Dosing"}
    flag = crawl.one("missing_anchor", C + "/faq#dosnig")
    assert flag["severity"] == "warning"
    assert flag["detail"] == f'#dosnig is not an id or <a name> on {C}/faq; link text "Typo"'
    assert flag["suggestion"].startswith("Did you mean #dosing?")
    assert f"on {C}/faq;" in crawl.one("missing_anchor", C + "/old-faq#gone")["detail"]


def test_orphan_pages(crawl):
    crawl.page(HOME, links_to=["/linked", "/old-url", "/lost"])
    crawl.page(C + "/linked").page(C + "/renamed").page(C + "/orphan", links_to=["/orphan", "/linked"])
    crawl.page(B + "/").page(B + "/sitemap-only")
    crawl.response(C + "/old-url", 301, redirect_to=C + "/renamed")
    crawl.response(C + "/lost", 404)
    crawl.response(C + "/missing", 404)
    crawl.sitemap(HOME, B + "/", C + "/linked", C + "/renamed", C + "/orphan", B + "/sitemap-only", C + "/missing")
    counts = crawl.analyse()
    orphans = {(p, t) for k, p, t in crawl.found() if k == "orphan_page"}
    assert orphans == {(C + "/orphan", ""), (B + "/sitemap-only", "")}
    assert counts["orphan_page"] == 2
    flag = next(f for f in crawl.flags() if f["page_url"] == B + "/sitemap-only")
    assert flag["detail"] == f"listed in the sitemap {C}/sitemap.xml; no crawled page links to it"


@pytest.mark.parametrize("self_links, canonical, orphan", [
    # links the orphan page holds to itself, its canonical: never an inlink
    (["#content"], None, True),                                  # a "Skip to content" link
    (["#top", "/orphan#main", C + "/orphan"], None, True),
    (["/orphan?replytocom=12#respond"], None, True),              # reply link, canonical to the page
    (["/orphan/"], C + "/orphan", True),                          # its own URL in another form
    ([], None, True),
])
def test_a_page_linking_to_itself_is_still_an_orphan(crawl, self_links, canonical, orphan):
    crawl.page(HOME, links_to=["/linked"]).page(C + "/linked")
    crawl.page(C + "/orphan", links_to=self_links + ["/linked"])
    crawl.con.execute("UPDATE pages SET canonical = ? WHERE url = ?", [canonical or C + "/orphan", C + "/orphan"])
    for link in self_links:
        r = resolve(link, C + "/orphan", HOSTS)
        if r.url != C + "/orphan":
            crawl.page(r.url)
            crawl.con.execute("UPDATE pages SET canonical = ? WHERE url = ?", [C + "/orphan", r.url])
    crawl.sitemap(HOME, C + "/linked", C + "/orphan")
    crawl.analyse()
    assert (("orphan_page", C + "/orphan", "") in crawl.found()) == orphan


def test_a_link_from_another_page_through_its_canonical_is_an_inlink(crawl):
    crawl.page(HOME, links_to=["/post?replytocom=3"]).page(C + "/post?replytocom=3").page(C + "/post")
    crawl.con.execute("UPDATE pages SET canonical = ? WHERE url LIKE '%/post%'", [C + "/post"])
    crawl.sitemap(HOME, C + "/post")
    crawl.analyse()
    assert not [f for f in crawl.found() if f[0] == "orphan_page"]


@pytest.mark.parametrize("status, stats, beyond, orphans", [
    ("interrupted", None, False, 0),
    ("finished", None, True, 0),                  # a linked page of the site has no response row
    ("finished", None, False, 1),
    ("finished", {"max_pages_reached": True, "past_max_depth": 0}, False, 0),
    ("finished", {"max_pages_reached": False, "past_max_depth": 3}, False, 0),
    ("finished", {"max_pages_reached": False, "past_max_depth": 0}, True, 1),  # the stats say all
])
def test_orphans_need_a_complete_crawl(tmp_path, status, stats, beyond, orphans):
    crawl = Crawl(tmp_path / "audit.duckdb", status=status)
    crawl.con.execute("UPDATE crawls SET stats = ? WHERE crawl_id = ?", [json.dumps(stats), crawl.id])
    crawl.page(HOME, links_to=["/next"] if beyond else []).page(C + "/orphan").sitemap(C + "/orphan")
    assert crawl.analyse()["orphan_page"] == orphans
    crawl.con.close()


def test_one_finding_per_page_for_a_link_on_forty_pages(crawl):
    crawl.page(HOME, links_to=[f"/p{i}" for i in range(40)])
    for i in range(40):
        crawl.page(f"{C}/p{i}", links_to=[(X + "/dead", "Reference"), (X + "/dead", "Again"), "/"])
    crawl.response(X + "/dead", 404)
    counts = crawl.analyse()
    assert counts["broken_link"] == 40
    assert {f["page_url"] for f in crawl.flags()} == {f"{C}/p{i}" for i in range(40)}
    assert all(f["detail"] == '404 Not Found; link text "Reference" (2 links on this page)' for f in crawl.flags())


def test_idempotent_and_replaces_its_own_kinds_only(crawl):
    crawl.page(HOME, links_to=["/gone", "/a#x"]).response(C + "/gone", 404).page(C + "/a", anchors=[])
    store.write_flags(crawl.con, crawl.id, "onpage", [
        {"kind": "missing_h1", "page_url": HOME, "severity": "warning"}], ["missing_h1"])
    first = crawl.analyse()
    flags = crawl.flags()
    assert crawl.analyse() == first and crawl.flags() == flags
    assert {f["kind"] for f in flags} == {"broken_link", "missing_anchor", "missing_h1"}


def test_severity_overrides_reach_the_flags(crawl):
    crawl.page(HOME, links_to=["/gone", X + "/login", X + "/busy"])
    crawl.response(C + "/gone", 404).response(X + "/login", 401).response(X + "/busy", 502)
    options = Options(severity={"broken_link": "warning"},
                      links=LinksOptions(external_auth_severity="error", severity={"external_5xx": "notice"}))
    crawl.analyse(options)
    assert {f["target"]: f["severity"] for f in crawl.flags()} == {
        C + "/gone": "warning", X + "/login": "error", X + "/busy": "notice"}


def test_empty_crawl(crawl):
    assert crawl.analyse() == dict.fromkeys(links.KINDS, 0)


def test_internal_link_not_reached_is_not_checked(crawl):
    crawl.page(HOME, links_to=["/deep/page", X + "/unchecked"])
    assert crawl.analyse() == dict.fromkeys(links.KINDS, 0)


def test_relative_url_mistake_suggests_the_page_meant(crawl):
    crawl.page(B + "/posts/ketamine", links_to=[("services/ketamine-therapy", "our service")])
    crawl.page(C + "/services/ketamine-therapy")
    crawl.response(B + "/posts/services/ketamine-therapy", 404)
    crawl.analyse()
    flag = crawl.one("broken_link", B + "/posts/services/ketamine-therapy")
    assert flag["suggestion"].startswith(f"Did you mean {C}/services/ketamine-therapy?")


def test_misspelt_link_suggests_the_page_of_the_same_folder_spelt_nearly_alike(crawl):
    crawl.page(HOME, links_to=["/services/ketamine-theraphy"])
    crawl.page(C + "/services/ketamine-therapy").page(C + "/services/tms-therapy")
    crawl.page(C + "/services/ketamine-therapy-faq-for-new-patients")   # same folder, far longer
    crawl.response(C + "/services/ketamine-theraphy", 404)
    crawl.analyse()
    flag = crawl.one("broken_link", C + "/services/ketamine-theraphy")
    assert flag["suggestion"].startswith(f"Did you mean {C}/services/ketamine-therapy?")


def test_dead_external_page_is_not_matched_to_a_site_page(crawl):
    crawl.page(HOME, links_to=[X + "/about", "http://clinic.tset/about"]).page(C + "/about")
    crawl.response(X + "/about", 404).response("http://clinic.tset/about", None, "error", "DNS lookup failed")
    crawl.analyse()
    assert "Did you mean" not in crawl.one("broken_link", X + "/about")["suggestion"]
    assert crawl.one("broken_link", "http://clinic.tset/about")["suggestion"].startswith(
        f"Did you mean {C}/about?")


def test_page_with_ten_thousand_links(crawl):
    crawl.page(HOME)
    crawl.rows("links", [{
        "crawl_id": crawl.id, "source_url": HOME, "position": i, "element": "a", "rel": None,
        "href": f"/item/{i % 2500}", "url": f"{C}/item/{i % 2500}", "fragment": None,
        "target_type": "internal", "invalid_reason": None, "nofollow": False, "anchor_text": f"Item {i}",
        "alt": None} for i in range(10_000)])
    crawl.rows("responses", [{
        "crawl_id": crawl.id, "url": f"{C}/item/{i}", "host": host_key(C), "is_internal": True,
        "purpose": "crawl", "outcome": "fetched", "status": 404 if i % 500 == 0 else 200}
        for i in range(2500)])
    counts = crawl.analyse()
    assert counts["broken_link"] == 5
    assert crawl.one("broken_link", C + "/item/0")["detail"] == '404 Not Found; link text "Item 0" (4 links on this page)'


# --- end to end: a two-host counselling practice the project has never seen ------------------------

from conftest import free_port, run_cli  # noqa: E402
from demo.server import HostSpec, Route, SiteServer  # noqa: E402

P, J, W = "{{host:practice}}", "{{host:journal}}", "{{host:web}}"
NAV = (f'<nav><a href="{P}/">Harbor Mind Counseling</a> <a href="{P}/services/">Services</a> '
       f'<a href="{P}/team">Team</a> <a href="{P}/about">About</a> <a href="{P}/contact">Contact</a> '
       f'<a href="{J}/">Journal</a></nav>')
ARCHIVE = 40


def html(title: str, body: str) -> Route:
    return Route.html(f"<!doctype html><html lang='en'><head><title>{title}</title></head><body id='top'>"
                      f"<header>{NAV}</header><main><h1>{title}</h1>{body}</main>"
                      f"<footer><a href='mailto:hello@harbormind.test'>Email us</a> "
                      f"<a href='tel:+15550142'>Call</a> <a href='javascript:window.print()'>Print</a> "
                      f"<a href='{W}/crisis-line'>Crisis line</a></footer></body></html>")


def flaky(info) -> Route:
    """503 the first time, then fine: a transient failure the crawler must retry."""
    return Route.html("busy", status=503) if info.count == 1 else Route.html("<p>ok</p>")


def rate_limited(info) -> Route:
    return (Route.text("slow down", status=429, headers={"Retry-After": "1"}) if info.count == 1
            else Route.html("<p>ok</p>"))


def journal_host(info) -> str:
    """'127.0.0.1:PORT' of the journal, for hrefs written without the placeholder's scheme."""
    return info.server.base_url("journal").split("//", 1)[1]


def practice_site(refused: int) -> dict[str, HostSpec]:
    practice = {
        "/": lambda info: html("Counseling for anxiety, trauma and burnout", f"""
            <p>We offer <a href="/services/cbt">cognitive behavioral therapy</a> and
            <a href="/services/emdr">EMDR</a>. Read <a href="{J}/articles/panic-attacks">what to do
            during a panic attack</a> on our journal (<a href="HTTP://{journal_host(info)}/ARTICLES/../">all
            articles</a>), or <a href="//{journal_host(info)}/articles/burnout">our note on burnout</a>.</p>
            <img src="/img/office.jpg" alt="Our office"> <img src="/img/team%20photo.jpg" alt="The team">"""),
        "/services/": html("Services", """<ul><li><a href="/services/cbt#what-to-expect">CBT: what to expect</a>
            <li><a href="/services/emdr">EMDR</a><li><a href="/services/dbt">DBT skills group</a>
            <li><a href="/fees">Fees</a></ul>"""),
        "/services/cbt": html("Cognitive behavioral therapy", f"""<h2 id="what-to-expect">What to expect</h2>
            <p>Sessions last 50 minutes. <a href="#faq">FAQ</a> <a href="#">back</a> <a href="#top">top</a>
            <a href="{W}/guidelines/cbt-2017">the 2017 guideline</a> (moved),
            <a href="{W}/studies/cbt-outcomes">an outcome study</a>.</p><h2 id="faq">FAQ</h2>"""),
        "/services/emdr": html("EMDR therapy", f"""<p>EMDR helps people process trauma.
            <a href="{W}/members/emdr-research" rel="nofollow">members-only research</a>,
            <a href="{W}/status">the EMDR association</a>, <a href="{W}/slow-journal">a slow journal</a>,
            <a href="http://127.0.0.1:{refused}/emdr">an old partner site</a>,
            <a href="{W}/flaky">a flaky resource</a>, <a href="{W}/rate-limited">a busy resource</a>.</p>"""),
        "/team": html("Our team", """<p>Meet the clinicians. <a href="/services/emdr#how-it-works">How EMDR
            works</a>. <a href="/staff">Staff list</a>. <a href="/portal/login">Client portal</a>.
            <a href="/%C3%A9quipe">Notre équipe</a>. <a href="/files/intake form.pdf">Intake form</a>.</p>"""),
        "/about": html("About", f"""<p>Founded in 2009. <a href="{J}/articles/grounding-technique">Grounding
            techniques</a>. <img src="/img/building.jpg" alt="Our building"></p>"""),
        "/contact": html("Contact", f"""<p><a href="/book">Book a first session</a>. Or write to
            <a href="mailto:intake@harbormind.test">intake</a>. <a href="{J}/">Journal</a>.</p>"""),
        "/fees": html("Fees", """<p>We accept most plans. <a href="/insurance-2019">2019 insurance list</a>.</p>"""),
        "/schedule": html("Schedule a session", "<p>Pick a time.</p>"),
        "/careers": html("Careers", "<p>We are hiring a counselor.</p>"),
        "/équipe": html("Équipe", "<p>Notre équipe.</p>"),
        "/files/intake form.pdf": Route(body=b"%PDF-1.4 intake", content_type="application/pdf"),
        "/img/office.jpg": Route(body=b"\xff\xd8jpeg", content_type="image/jpeg"),
        "/img/team photo.jpg": Route(body=b"\xff\xd8jpeg", content_type="image/jpeg"),
        "/insurance-2019": Route.html("gone", status=410),
        "/staff": Route.redirect(P + "/team"),
        "/book": Route.redirect(P + "/booking", status=302),
        "/booking": Route.redirect(P + "/booking/"),
        "/booking/": Route.redirect(P + "/schedule"),
        "/portal/login": html("Portal", "<p>private</p>"),
        "/robots.txt": Route.text(f"User-agent: *\nDisallow: /portal/\nSitemap: {P}/sitemap.xml\n"),
        "/sitemap.xml": Route(content_type="application/xml", body=(
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{P}{p}</loc></url>" for p in ("/", "/services/", "/team", "/careers"))
            + "</urlset>")),
    }
    journal = {
        "/": html("The Harbor Mind Journal", """<ul><li><a href="/articles/panic-attacks">Panic attacks</a>
            <li><a href="/articles/grounding-techniques">Grounding techniques</a>
            <li><a href="/articles/first-session">Your first session</a>
            <li><a href="/articles/burnout">Burnout</a><li><a href="/archive/">Archive</a></ul>"""),
        "/articles/panic-attacks": html("What to do during a panic attack", f"""<p>Breathe slowly.
            If attacks keep coming, <a href="services/cbt">CBT can help</a>. See also
            <a href="{P}/servics/emdr">EMDR at the practice</a>, <a href="../../../../articles/burnout">burnout</a>
            and
            <a href="{W}/resources/breathing">a breathing exercise</a>.</p>"""),
        "/articles/grounding-techniques": html("Grounding techniques", "<p>Name five things you see.</p>"),
        "/articles/first-session": html("Your first therapy session", f"""<p>Fill in the
            <a href="{P}/intake-form">intake form</a> before you come.</p>"""),
        "/articles/burnout": html("Burnout", f"""<p><a href="/search?q=burnout">More on burnout</a>.
            <a href="{P}/services/cbt#what-to-expect">What CBT is like</a>.</p>"""),
        "/archive/": html("Archive", "".join(f'<a href="/archive/{i}">Issue {i}</a> ' for i in range(ARCHIVE))),
        "/archive/*": lambda info: html(f"Issue {info.path}", f"""<p>An older issue.
            <a href="{W}/retired-resource">a resource we recommended</a>.</p>"""),
        "/search": Route.html("error", status=500),
    }
    practice["/intake-form"] = Route.redirect(P + "/intake")
    practice["/intake"] = Route.redirect(P + "/intake-form", status=302)
    web = {
        "/crisis-line": Route.html("<p>Call anytime.</p>"),
        "/guidelines/cbt-2017": Route.redirect(W + "/guidelines/cbt"),
        "/guidelines/cbt": Route.html("<p>guideline</p>"),
        "/studies/cbt-outcomes": Route.html("gone", status=404),
        "/members/emdr-research": Route.html("login", status=403),
        "/status": Route.html("down", status=503),
        "/slow-journal": Route.html("<p>late</p>", delay=3),
        "/flaky": flaky,
        "/rate-limited": rate_limited,
        "/resources/breathing": Route.html("<p>in, out</p>"),
        "/retired-resource": Route.html("gone", status=404),
    }
    return {"practice": HostSpec(routes=practice), "journal": HostSpec(routes=journal),
            "web": HostSpec(routes=web)}


def planted(server: SiteServer, refused: int) -> set[tuple[str, str, str]]:
    p, j, w = (server.base_url(h) for h in ("practice", "journal", "web"))
    return {
        ("broken_link", p + "/services/", p + "/services/dbt"),                      # internal 404
        ("broken_link", p + "/about", j + "/articles/grounding-technique"),          # cross-host typo
        ("broken_link", j + "/articles/panic-attacks", p + "/servics/emdr"),         # cross-host typo
        ("broken_link", j + "/articles/panic-attacks", j + "/articles/services/cbt"),  # relative URL
        ("broken_link", p + "/fees", p + "/insurance-2019"),                          # 410
        ("broken_link", j + "/articles/burnout", j + "/search?q=burnout"),            # 500
        ("broken_link", p + "/about", p + "/img/building.jpg"),                       # broken image
        ("broken_link", p + "/services/cbt", w + "/studies/cbt-outcomes"),            # external 404
        ("broken_link", p + "/services/emdr", w + "/members/emdr-research"),          # external 403
        ("broken_link", p + "/services/emdr", w + "/status"),                         # external 503
        ("broken_link", p + "/services/emdr", w + "/slow-journal"),                   # external timeout
        ("broken_link", p + "/services/emdr", f"http://127.0.0.1:{refused}/emdr"),    # refused
        *{("broken_link", f"{j}/archive/{i}", w + "/retired-resource") for i in range(ARCHIVE)},
        ("redirect_chain", p + "/contact", p + "/book"),                              # 3 hops
        ("redirect_loop", j + "/articles/first-session", p + "/intake-form"),
        ("redirected_link", p + "/team", p + "/staff"),
        ("missing_anchor", p + "/team", p + "/services/emdr#how-it-works"),
        ("blocked_by_robots", p + "/team", p + "/portal/login"),
        ("orphan_page", p + "/careers", ""),
    }


LINK_KINDS_SQL = "SELECT kind, page_url, target, severity, detail FROM flags WHERE crawl_id = ? AND analysis = 'links'"


def crawl_and_analyse(server: SiteServer, db: Path) -> tuple[int, list[tuple]]:
    result = run_cli("crawl", server.url("practice", "/"), server.url("journal", "/"), "--db", str(db),
                     "--timeout", "1", "--concurrency", "4", "-q")
    assert result.returncode == 0, result.stderr[-2000:]
    con = store.open_store(db)
    try:
        crawl_id = store.latest_crawl(con)
        links.analyse(con, crawl_id, Options())
        return crawl_id, con.execute(LINK_KINDS_SQL, [crawl_id]).fetchall()
    finally:
        con.close()


def test_end_to_end_on_an_unseen_two_host_site(tmp_path):
    refused = free_port()
    with SiteServer(practice_site(refused)) as server:
        expected = planted(server, refused)
        _, rows = crawl_and_analyse(server, tmp_path / "audit.duckdb")
        found = {(k, p, t) for k, p, t, _, _ in rows}
        assert expected - found == set(), "missed planted problems"                    # recall 1.0
        assert len(found & expected) / len(found) >= 0.95, sorted(found - expected)  # precision
        severity = {(k, p, t): s for k, p, t, s, _ in rows}
        detail = {(k, p, t): d for k, p, t, _, d in rows}
        w = server.base_url("web")
        p = server.base_url("practice")
        emdr = p + "/services/emdr"
        assert severity[("broken_link", emdr, w + "/members/emdr-research")] == "warning"
        assert severity[("broken_link", emdr, w + "/slow-journal")] == "warning"
        assert severity[("broken_link", p + "/services/", p + "/services/dbt")] == "error"
        assert "timeout after 3 attempts" in detail[("broken_link", emdr, w + "/slow-journal")]
        hops = detail[("redirect_chain", p + "/contact", p + "/book")]
        assert hops.startswith(f"3 redirects: {p}/book (302) → {p}/booking (301) → {p}/booking/ (301) → "
                               f"{p}/schedule (200)")
        # one fetch for a link on 40 pages, a transient 503 retried, a 429 waited for
        assert server.count("web", "/retired-resource") == 1
        assert server.count("web", "/flaky") == 2
        assert server.count("web", "/rate-limited") == 2
        assert server.count("practice", "/portal/login") == 0

        # A second crawl within links.external_cache_days reuses the external results.
        server.clear_requests()
        crawl_id, rows = crawl_and_analyse(server, tmp_path / "audit.duckdb")
        assert crawl_id == 2
        assert expected - {(k, p, t) for k, p, t, _, _ in rows} == set()
        assert server.count("web", "/retired-resource") == 0
        assert server.count("web", "/studies/cbt-outcomes") == 0
        assert server.count("web", "/status") >= 1          # a 5xx is never reused: checked again
