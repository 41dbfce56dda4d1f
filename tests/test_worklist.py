"""The worklist an editor gets on two sites the analyses have never seen (tests/worklist_sites.py):
every planted problem found, no false alarm among the kinds issue 14 names, and a week 2 whose
new and fixed findings are exactly the changes made to the sites. Crawled on 127.0.0.1 with
`python pipeline.py run`, as the weekly job does."""

from __future__ import annotations

import csv
import re
from fnmatch import fnmatchcase

import pytest

from conftest import query, run_cli
from demo.server import SiteServer
from analysis.findings import rank
import worklist_sites as sites

# kinds judged exactly: every row of these kinds is planted, every planted row is found
EXACT = ("broken_link", "orphan_page", "off_topic_page", "off_topic_block", "thin_content", "noindex",
         "near_duplicate", "crawler_trap", "missing_alt", "duplicate_url", "canonicalized", "long_sentence")

CITIES = [f"/locations/{c}" for c in sites.CITIES]
BAKING_LOG_LONGEST = 3    # analysis.readability.LONG_SENTENCES_PER_PAGE

# (kind, host, page path, target): a target is "" for none, (host, path) for a URL of a test
# host, or a literal string ("~" starts a prefix of a long sentence)
PLANTED = {
    "blog": [
        ("broken_link", "wp", "/posts/rye-bread-basics/", ("wp", "/posts/old-rye-starter/")),        # 404
        ("broken_link", "wp", "/posts/rosemary-focaccia/",
         "file:///C:/Users/baker/Documents/focaccia-schedule.pdf"),                                 # a file: link
        ("broken_link", "wp", "/posts/classic-baguette/", ("wp", "/shop%20hours")),                # a space in the href
        ("broken_link", "wp", "/posts/neapolitan-pizza-dough/", ("busy", "/flour/tipo-00")),       # 429: a warning at most
        ("off_topic_page", "wp", "/posts/fixed-rate-mortgage/", ""),
        ("off_topic_block", "wp", "/posts/brioche-buns/", ("spam", "/payday-loans")),              # injected paragraph
        ("missing_alt", "wp", "/posts/bagels-at-home/", ("wp", "/wp-content/uploads/bagels.jpg")),
        ("orphan_page", "wp", "/sourdough-faq/", ""),              # its only links to itself: skip link, replies
        ("thin_content", "wp", "/posts/quick-tip-steam/", ""),     # 37 words
        ("thin_content", "wp", "/privacy-policy/", ""),            # short utility pages are reported too
        ("long_sentence", "wp", "/posts/whole-wheat-sandwich-loaf/", "~When you bake a whole wheat"),
    ] + [("long_sentence", "wp", "/baking-log/", "~")] * BAKING_LOG_LONGEST,   # 40 run-on sentences
    "clinic": [
        ("broken_link", "clinic", "/services/tms", ("clinic", "/services/tms-faq")),
        ("crawler_trap", "clinic", "/events/", ("clinic", "/events/?month=*")),
        ("noindex", "clinic", "/thank-you", ""),
        ("off_topic_page", "journal", "/news/smoked-brisket-guide", ""),
        ("off_topic_block", "clinic", "/about", ("spam", "/casino")),                               # injected paragraph
        ("off_topic_block", "clinic", "/", ("journal", "/news/smoked-brisket-guide")),             # links to drift
        ("orphan_page", "clinic", "/holiday-hours", ""),
        ("long_sentence", "clinic", "/research", "~In a cohort of 412 outpatients"),
        ("long_sentence", "clinic", "/research", "~Secondary analyses examine"),
        ("long_sentence", "clinic", "/research", "~Findings are published"),
    ] + [("near_duplicate", "clinic", a, ("clinic", b)) for a in CITIES for b in CITIES if a != b]
      + [("thin_content", "clinic", c, "") for c in CITIES]    # 71 words of their own: doorway pages
      + [("thin_content", "clinic", p, "") for p in ("/careers", "/contact", "/privacy-policy")],
}

# What an editor would dismiss, one row per cause: (kind, host, page path or prefix*) that must
# not be a finding.
DECOYS = {
    "blog": [
        ("thin_content", "wp", "/"), ("thin_content", "wp", "/page/2/"),                  # listings
        ("thin_content", "wp", "/category/*"), ("thin_content", "wp", "/tag/*"),
        ("noindex", "wp", "/wp-json/*"),                                                 # REST and oEmbed
        ("off_topic_page", "wp", "/posts/quick-tip-steam/"),                             # too short to tell
        ("off_topic_page", "wp", "/privacy-policy/"), ("off_topic_page", "wp", "/contact/"),
        ("off_topic_block", "wp", "/page/2/"),                                           # lists the mortgage post
        ("off_topic_block", "wp", "/posts/quick-tip-steam/"),                            # one paragraph: the page
        ("off_topic_block", "wp", "/baking-log/"),                                       # a data export
        ("orphan_page", "wp", "/posts/*"),
        ("*", "wp", "/posts/*?replytocom=*"),                                            # comment-reply variants
        ("near_duplicate", "wp", "/*"),
    ],
    "clinic": [
        ("off_topic_page", "clinic", "/careers"), ("off_topic_page", "clinic", "/thank-you"),
        ("off_topic_page", "clinic", "/contact"), ("off_topic_page", "clinic", "/privacy-policy"),
        ("off_topic_page", "clinic", "/research"),                                       # academic register
        ("off_topic_page", "clinic", "/locations/*"),                                    # a template on topic
        ("off_topic_block", "clinic", "/research"),
        ("thin_content", "clinic", "/events/*"),                                         # the calendar
        ("thin_content", "clinic", "/services/"),                                        # a listing
        ("near_duplicate", "clinic", "/conditions/depression"),                          # same subject, own text
        ("near_duplicate", "journal", "/*"),
        ("orphan_page", "clinic", "/about"),                                             # linked from the footer
    ],
}

# Week 2: (status, kind, host, page path, target) of every change made to the sites
CHANGES = {
    "blog": [
        ("new", "broken_link", "wp", "/posts/whole-wheat-sandwich-loaf/", ("wp", "/posts/bran-explained/")),
        ("fixed", "broken_link", "wp", "/posts/rosemary-focaccia/",
         "file:///C:/Users/baker/Documents/focaccia-schedule.pdf"),
    ],
    "clinic": [
        ("fixed", "broken_link", "clinic", "/services/tms", ("clinic", "/services/tms-faq")),
        ("fixed", "off_topic_block", "clinic", "/about", ("spam", "/casino")),
        ("new", "off_topic_page", "journal", "/news/choosing-a-mortgage", ""),
        ("new", "hard_to_read", "journal", "/news/choosing-a-mortgage", ""),        # grade 9: a new page's finding
    ],
}

START = {"blog": ["wp"], "clinic": ["clinic", "journal"]}
BUILD = {"blog": sites.blog_site, "clinic": sites.clinic_site}


class Run:
    """Two weekly runs of one test site: the findings of each and week 2's fixed.csv."""

    def __init__(self, server: SiteServer, weeks: list[list[dict]], fixed: list[dict]):
        self.server, self.weeks, self.fixed = server, weeks, fixed

    def url(self, host: str, path: str) -> str:
        return self.server.base_url(host) + path

    def target(self, target) -> str:
        return self.url(*target) if isinstance(target, tuple) else target

    @staticmethod
    def matches(pattern: str, url: str) -> bool:
        return fnmatchcase(url, pattern)


@pytest.fixture(scope="module", params=["blog", "clinic"])
def run(request, tmp_path_factory):
    name = request.param
    folder = tmp_path_factory.mktemp(f"worklist-{name}")
    db = folder / "audit.duckdb"
    hosts = BUILD[name](1)
    weeks, fixed = [], []
    with SiteServer(hosts) as server:
        for week in (1, 2):
            if week == 2:   # the same hosts and ports, the site as it is a week later
                for host, spec in BUILD[name](2).items():
                    hosts[host].routes.clear()
                    hosts[host].routes.update(spec.routes)
            out = folder / f"report-{week}"
            result = run_cli("run", *(server.url(h, "/") for h in START[name]), "--db", str(db),
                             "--site", name, "--out", str(out), "--concurrency", "4", "-q",
                             cwd=folder, timeout=300)
            assert result.returncode == 0, result.stderr[-3000:]
            crawl = query(db, "SELECT max(crawl_id) FROM crawls")[0][0]
            cols = ("kind", "page_url", "target", "severity", "detail", "status")
            weeks.append([dict(zip(cols, r)) for r in query(
                db, f"SELECT {', '.join(cols)} FROM flags WHERE crawl_id = ? ORDER BY ALL", [crawl])])
        with open(out / "fixed.csv", newline="", encoding="utf-8") as f:
            fixed = list(csv.DictReader(f))
        yield name, Run(server, weeks, fixed)


def keys(run: Run, rows) -> set[tuple[str, str, str]]:
    return {(kind, run.url(host, path), run.target(target)) for kind, host, path, target in rows}


def found(run: Run, week: int, kind: str) -> list[tuple[str, str, str]]:
    return [(f["kind"], f["page_url"], f["target"]) for f in run.weeks[week - 1] if f["kind"] == kind]


def expected_rows(run: Run, name: str, kind: str) -> list[tuple[str, str, str]]:
    return [(k, run.url(h, p), run.target(t)) for k, h, p, t in PLANTED[name] if k == kind]


@pytest.mark.parametrize("kind", EXACT)
def test_every_planted_problem_is_found_and_nothing_else(run, kind):
    name, r = run
    want, got = expected_rows(r, name, kind), found(r, 1, kind)
    exact = {w for w in want if not w[2].startswith("~")}
    prefixed = [w for w in want if w[2].startswith("~")]
    assert exact <= set(got), f"{name}: missed {sorted(exact - set(got))}"
    rest = [g for g in got if g not in exact]
    for k, page, prefix in prefixed:       # long sentences: quoted from the page, the planted ones
        match = next((g for g in rest if g[1] == page and g[2].startswith(prefix[1:])), None)
        assert match, f"{name}: no {k} on {page} starting {prefix[1:]!r}"
        rest.remove(match)
    assert not rest, f"{name}: false alarms {rest}"


def test_decoys_are_not_findings(run):
    name, r = run
    flagged = [(f["kind"], f["page_url"]) for f in r.weeks[0]]
    for kind, host, path in DECOYS[name]:
        pattern = r.url(host, path)
        hits = [(k, u) for k, u in flagged if (kind == "*" or k == kind) and r.matches(pattern, u)]
        assert not hits, f"{name}: {kind} on {path}: {hits}"


def test_rate_limiting_is_a_warning_at_most_and_long_sentences_are_bounded(run):
    name, r = run
    rows = r.weeks[0]
    for f in rows:
        if f["kind"] == "broken_link" and "429" in f["detail"]:
            assert rank(f["severity"]) >= rank("warning"), f
    per_page: dict[str, int] = {}
    for f in rows:
        if f["kind"] == "long_sentence":
            per_page[f["page_url"]] = per_page.get(f["page_url"], 0) + 1
    assert per_page and max(per_page.values()) <= BAKING_LOG_LONGEST
    if name == "blog":
        log = [f for f in rows if f["kind"] == "long_sentence" and f["page_url"] == r.url("wp", "/baking-log/")]
        assert len(log) == BAKING_LOG_LONGEST, log
        counts = {int(re.search(r"one of the page's (\d+) sentences over the limit", f["detail"]).group(1))
                  for f in log}
        assert len(counts) == 1 and counts.pop() > 3 * BAKING_LOG_LONGEST    # the rest are counted
        words = [int(f["detail"].split()[0]) for f in log]
        assert min(words) >= 31       # the longest of them
    else:
        trap = [f for f in rows if f["kind"] == "crawler_trap"]
        assert len(trap) == 1 and "not followed" in trap[0]["detail"]


def test_off_topic_page_detail_names_the_page_own_words(run):
    name, r = run
    details = [f["detail"] for f in r.weeks[0] if f["kind"] == "off_topic_page"]
    own = {"blog": ("lender", "borrowing", "rate", "repayments"), "clinic": ("bark", "brisket", "smoker", "grill")}[name]
    assert details and all(any(w in d.split(";")[0] for w in own) for d in details), details


def test_week_two_new_and_fixed_are_exactly_the_changes(run):
    name, r = run
    new = {(f["kind"], f["page_url"], f["target"]) for f in r.weeks[1] if f["status"] == "new"}
    fixed = {(f["kind"], f["page_url"], f["target"]) for f in r.fixed}
    want = {status: {(k, r.url(h, p), r.target(t)) for s, k, h, p, t in CHANGES[name] if s == status}
            for status in ("new", "fixed")}
    assert new == want["new"], f"{name}: new {sorted(new ^ want['new'])}"
    assert fixed == want["fixed"], f"{name}: fixed {sorted(fixed ^ want['fixed'])}"
    # every other finding of week 1 is still there and marked recurring
    week1 = {(f["kind"], f["page_url"], f["target"]) for f in r.weeks[0]}
    recurring = {(f["kind"], f["page_url"], f["target"]) for f in r.weeks[1] if f["status"] == "recurring"}
    assert recurring == week1 - fixed

