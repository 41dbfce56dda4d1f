"""`pipeline.py recheck URL`: the verdicts (still there, fixed, new, not rechecked) as a table of
cases, and an editor's fix on a small two-host site checked end to end in a subprocess."""

from __future__ import annotations

import pytest

from conftest import run_cli
from crawler.config import Options
from demo.server import HostSpec, Route, SiteServer
from analysis.recheck import Verdict, compare, with_stored_analysis_options

WIDE = {"COLUMNS": "220"}   # rich wraps at the terminal width; keep one finding per line


def f(kind, target="", severity="error", detail=""):
    return {"kind": kind, "target": target, "severity": severity, "detail": detail}


@pytest.mark.parametrize("old, now, rechecked, expected", [
    ([], [], {"broken_link"}, []),
    ([f("broken_link", "u1")], [f("broken_link", "u1")], {"broken_link"},
     [("broken_link", "u1", "still there")]),
    ([f("broken_link", "u1")], [], {"broken_link"}, [("broken_link", "u1", "fixed")]),
    ([], [f("broken_link", "u2")], {"broken_link"}, [("broken_link", "u2", "new")]),
    ([f("broken_link", "u1")], [f("broken_link", "u2")], {"broken_link"},
     [("broken_link", "u1", "fixed"), ("broken_link", "u2", "new")]),
    ([f("orphan_page", severity="warning")], [], {"broken_link"},
     [("orphan_page", "", "not rechecked")]),
    # Same kind, other target: a different finding. Same target, other kind: different too.
    ([f("redirect_chain", "u1", "warning")], [f("broken_link", "u1")], {"broken_link", "redirect_chain"},
     [("redirect_chain", "u1", "fixed"), ("broken_link", "u1", "new")]),
    # Errors first, then by kind.
    ([f("hard_to_read", severity="warning"), f("broken_link", "u1")],
     [f("hard_to_read", severity="warning"), f("broken_link", "u1")], {"broken_link", "hard_to_read"},
     [("broken_link", "u1", "still there"), ("hard_to_read", "", "still there")]),
])
def test_compare(old, now, rechecked, expected):
    assert [(v.kind, v.target, v.verdict) for v in compare(old, now, rechecked)] == expected


def test_compare_reports_the_current_detail_and_severity():
    [v] = compare([f("hard_to_read", severity="warning", detail="grade 14")],
                  [f("hard_to_read", severity="error", detail="grade 11")], {"hard_to_read"})
    assert v == Verdict("hard_to_read", "error", "", "grade 11", "still there")


def test_stored_analysis_options_win_but_crawl_options_stay():
    stored = {"readability": {"target_grade": 6.0, "removed_option": 1}, "severity": {"broken_link": "warning"},
              "timeout": 99}
    opts = with_stored_analysis_options(Options(timeout=5, severity={"missing_alt": "notice"}), stored)
    assert opts.readability.target_grade == 6.0 and opts.timeout == 5
    assert opts.severity == {"broken_link": "warning", "missing_alt": "notice"}
    assert with_stored_analysis_options(Options(), None) == Options()


# --- end to end --------------------------------------------------------------------------------

HARD = ("The comprehensive rehabilitation of persistent lumbar discomfort frequently necessitates an "
        "individualised assessment of the biomechanical, neurological and psychological factors that "
        "contribute to the perpetuation of symptoms, and it is therefore recommended that the therapeutic "
        "programme incorporates progressively graduated loading alongside education about the physiological "
        "mechanisms underlying the experience of pain. Considerable interindividual variability in the "
        "presentation of these conditions means that standardised protocols are, in the majority of "
        "circumstances, insufficiently responsive to the particular requirements of the individual patient, "
        "whose expectations, occupational demands and previous experiences of healthcare substantially "
        "influence the eventual outcome of treatment. ")
EASY = ("Back pain is common. Most back pain gets better in a few weeks. Keep moving as much as you can. "
        "A short walk each day helps. Heat can ease stiff muscles. Sleep on your side with a pillow between "
        "your knees. Lift with your legs, not your back. If the pain is bad, or you feel numb, call us. ")
TOPICS = {
    "home": "Our physiotherapists treat back pain, neck pain and sports injuries with exercise and advice.",
    "contact": "Call the clinic to book a physiotherapy visit for your back, neck or knee pain.",
    "treatments": "Treatments include exercise therapy, manual therapy and massage for painful joints.",
    "blog": "The blog explains back pain, neck pain and exercise in plain words for our patients.",
    "neck": "Neck pain at the desk often eases with small changes to your chair, screen and posture.",
    "running": "Running injuries of the knee and ankle heal best with rest, strength exercise and patience.",
    "post": "Physiotherapy for back pain uses exercise and advice to help you move again.",
}


def para(name: str, n: int = 4) -> str:
    """Text of one page, repeated within it but on no other page (so it is not boilerplate)."""
    return " ".join(f"{TOPICS[name]}" for _ in range(n))


def physio_site(state: dict):
    """A physiotherapy practice (www) and its blog. state['fixed'] switches the blog post to its
    edited version: one broken link fixed, another one added, the text rewritten in plain words."""

    def page(title: str, body: str) -> str:
        return (f"<!DOCTYPE html><html lang='en'><head><title>{title} | Lakeside Physiotherapy</title>"
                f"<meta name='description' content='{title}: advice and treatment from the physiotherapists "
                "of Lakeside Physiotherapy, a friendly clinic for back, neck and sports injuries.'></head>"
                f"<body><main><h1>{title}</h1>{body}</main></body></html>")

    www = {
        "/": page("Physiotherapy for back pain", f"<p>{para('home')}</p><p><a href='/contact'>Contact</a> "
                  "<a href='/treatments'>Treatments</a> <a href='{{host:blog}}/'>Blog</a></p>"),
        "/contact": page("Contact the clinic", f"<p>{para('contact')}</p><p>Call 555 0100.</p>"),
        "/treatments": page("Treatments for pain and injury", f"<p>{para('treatments')}</p>"),
    }

    def post() -> str:
        if state["fixed"]:
            return page("Easing back pain", f"<p>{EASY * 3}</p><p>{para('post')}</p>"
                        "<p><a href='{{host:www}}/contact'>Book a visit</a> "
                        "<a href='{{host:www}}/price-list'>See our prices</a></p>")
        return page("Easing back pain", f"<p>{HARD}</p><p>{para('post')}</p>"
                    "<p><a href='{{host:www}}/book-online'>Book a visit</a></p>")

    blog = {
        "/": page("Blog about back pain and exercise", f"<p>{para('blog')}</p><p><a href='/posts/back-pain'>Back pain</a> "
                  "<a href='/posts/neck-pain'>Neck pain</a> <a href='/posts/running'>Running</a></p>"),
        "/posts/neck-pain": page("Neck pain at the desk", f"<p>{para('neck')}</p>"),
        "/posts/running": page("Running without injury", f"<p>{para('running')}</p>"),
    }

    def www_route(info):
        body = www.get(info.path)
        return Route.html(body) if body else Route.html("<h1>Not found</h1>", status=404)

    def blog_route(info):
        if info.path == "/posts/back-pain":
            return Route.html(post())
        body = blog.get(info.path)
        return Route.html(body) if body else Route.html("<h1>Not found</h1>", status=404)

    return {"www": HostSpec(routes={"/*": www_route}), "blog": HostSpec(routes={"/*": blog_route})}


@pytest.fixture(scope="module")
def crawled_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("recheck")
    db = tmp / "physio.duckdb"
    state = {"fixed": False}
    with SiteServer(physio_site(state)) as server:
        result = run_cli("run", server.url("www"), server.url("blog"), "--db", str(db), "--site", "physio",
                         "--no-external", "-q", "--out", str(tmp / "report"))
        assert result.returncode == 0, result.stdout + result.stderr
        yield server, db, state


def lines_of(output: str, kind: str) -> list[str]:
    return [line for line in output.splitlines() if kind in line]


def test_recheck_shows_what_the_editor_fixed(crawled_site):
    server, db, state = crawled_site
    post = server.url("blog", "/posts/back-pain")
    before = run_cli("recheck", post, "--db", str(db), env=WIDE)
    assert before.returncode == 0, before.stdout + before.stderr
    assert "book-online" in before.stdout
    for kind in ("broken_link", "hard_to_read"):
        found = lines_of(before.stdout, kind)
        assert found and all("still there" in line for line in found), before.stdout

    state["fixed"] = True
    try:
        after = run_cli("recheck", post, "--db", str(db), "--fail-on", "error", env=WIDE)
    finally:
        state["fixed"] = False
    # The new broken link is an error: --fail-on error fails.
    assert after.returncode == 1, after.stdout + after.stderr
    assert "--fail-on error: 1 findings" in after.stdout
    broken = lines_of(after.stdout, "broken_link")
    assert any("book-online" in line and "fixed" in line for line in broken), after.stdout
    assert any("price-list" in line and "new" in line for line in broken), after.stdout
    assert any("fixed" in line for line in lines_of(after.stdout, "hard_to_read")), after.stdout
    assert "Reading grade:" in after.stdout and "Topic: similarity" in after.stdout


def test_recheck_bad_input_is_one_line(crawled_site, tmp_path):
    server, db, _ = crawled_site
    unknown = run_cli("recheck", "http://127.0.0.1:9/elsewhere", "--db", str(db))
    assert unknown.returncode == 2 and "is in no stored crawl" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    other_host = run_cli("recheck", "http://127.0.0.1:9/elsewhere", "--db", str(db), "--site", "physio")
    assert other_host.returncode == 2 and "not on the hosts of site physio" in other_host.stderr
    not_url = run_cli("recheck", "not a url", "--db", str(db))
    assert not_url.returncode == 2 and "full http(s) URL" in not_url.stderr
    gone = run_cli("recheck", server.url("blog", "/posts/deleted"), "--db", str(db), "--site", "physio")
    assert gone.returncode == 2 and "answered 404" in gone.stderr, gone.stderr


def test_recheck_fetches_the_page_and_its_links_not_the_sitemaps_pages(tmp_path):
    """A sitemap of many pages the rechecked page does not link to: the recheck fetches the
    page and what it links to, no sitemap and none of the sitemap's other pages (they took its
    page budget, and the recheck then said some linked pages were not fetched)."""
    extra = [f"/listed/{i}" for i in range(80)]
    sitemap = ("<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
               + "".join(f"<url><loc>{{{{host:www}}}}{p}</loc></url>" for p in extra) + "</urlset>")

    def page(path):
        links = "".join(f"<a href='/linked/{i}'>Linked {i}</a> " for i in range(3)) if path == "/" else ""
        return Route.html(f"<!DOCTYPE html><html lang='en'><head><title>Page {path}</title></head><body>"
                          f"<main><h1>Page {path}</h1><p>{para('home')}</p><p>{links}</p></main></body></html>")

    spec = {"www": HostSpec(routes={
        "/robots.txt": Route.text("User-agent: *\nAllow: /\nSitemap: {{host:www}}/sitemap.xml\n"),
        "/sitemap.xml": Route(body=sitemap, content_type="application/xml"),
        "/*": lambda info: page(info.path)})}
    db = tmp_path / "site.duckdb"
    with SiteServer(spec) as server:
        crawl = run_cli("crawl", server.url("www"), "--db", str(db), "--no-external", "-q")
        assert crawl.returncode == 0, crawl.stdout + crawl.stderr
        assert server.count(path="/listed/5") == 1      # the crawl read the sitemap
        server.clear_requests()
        result = run_cli("recheck", server.url("www"), "--db", str(db), env=WIDE)
        assert result.returncode == 0, result.stdout + result.stderr
        paths = {r.path for r in server.requests}
    assert {"/", "/linked/0", "/linked/1", "/linked/2"} <= paths
    assert not {p for p in paths if p.startswith("/listed/") or p == "/sitemap.xml"}, sorted(paths)
    assert "page limit" not in result.stdout


def test_recheck_checks_links_to_other_sites_as_the_last_crawl_did(tmp_path):
    """A crawl made with --no-external did not check links to other sites: its recheck does not
    either (else every such link would show up as new), and says so; a crawl that checked them
    has them checked again."""
    def home(info):
        return Route.html("<!DOCTYPE html><html lang='en'><head><title>Home</title></head><body><main>"
                          f"<h1>Home</h1><p>{para('home')}</p><p><a href='{{{{host:partner}}}}/referrals'>"
                          "Our partner</a></p></main></body></html>")

    spec = {"www": HostSpec(routes={"/*": home}),
            "partner": HostSpec(routes={"/*": lambda info: Route.html("<h1>Gone</h1>", status=404)})}
    with SiteServer(spec) as server:
        for flags, checked in ((["--no-external"], False), ([], True)):
            db = tmp_path / f"site{len(flags)}.duckdb"
            crawl = run_cli("run", server.url("www"), "--db", str(db), "-q", "--out",
                            str(tmp_path / f"report{len(flags)}"), *flags)
            assert crawl.returncode == 0, crawl.stdout + crawl.stderr
            server.clear_requests()
            result = run_cli("recheck", server.url("www"), "--db", str(db), env=WIDE)
            assert result.returncode == 0, result.stdout + result.stderr
            asked = [r for r in server.requests if r.path == "/referrals"]
            assert bool(asked) is checked, (flags, [r.path for r in server.requests])
            broken = lines_of(result.stdout, "broken_link")
            if checked:
                assert broken and all("still there" in line for line in broken), result.stdout
            else:
                assert not broken and "links to other sites not checked" in result.stdout, result.stdout
