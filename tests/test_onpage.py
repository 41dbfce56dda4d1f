"""Tests of analysis/onpage.py: the plain rules as tables, then analyse() on real temporary databases."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from analysis import near_duplicates, onpage, pagetypes
from conftest import StoredCrawl
from crawler import store
from crawler.config import OnpageOptions, Options, load_config
from crawler.errors import ConfigError
from crawler.urls import normalize
from demo.server import HostSpec, Route, SiteServer

H = "http://clinic.test"
B = "http://blog.test:8080"


# --- plain rules ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (None, False),
    ("", False),
    ("index, follow", False),
    ("noindex", True),
    ("noindex,nofollow", True),
    ("NOINDEX, NOFOLLOW", True),
    ("none", True),
    ("noindex nofollow", True),                # space-separated, as some CMSs write it
    ("nofollow", False),
    ("googlebot: noindex", True),
    ("bingbot: noindex, nofollow", True),
    ("otherbot: noindex", False),              # scoped to a bot we do not report for
    ("otherbot: noindex, googlebot: nofollow", False),
    ("max-snippet:-1, noindex", True),
    ("unavailable_after: 25 Jun 2030 15:00:00 PST", False),
    ("noimageindex", False),
])
def test_says_noindex(value, expected):
    assert onpage.says_noindex(value) is expected


@pytest.mark.parametrize("text, blank, collapsed", [
    (None, True, None),
    ("", True, ""),
    ("   ", True, ""),
    ("\u00a0\u00a0", True, ""),                 # &nbsp;&nbsp; decoded
    ("\u200b", True, "\u200b"),                 # zero-width space: invisible, still text
    (" \t Home \n  page ", False, "Home page"),
    ("&nbsp;", False, "&nbsp;"),                # double-escaped: browsers show it literally
    ("Ünïcode — title", False, "Ünïcode — title"),
])
def test_blank_and_collapse(text, blank, collapsed):
    assert onpage.is_blank(text) is blank
    assert onpage.collapse(text) == collapsed


def test_whitespace_list_covers_every_unicode_space():
    missing = [hex(c) for c in range(0x110000) if chr(c).isspace() and chr(c) not in onpage.WHITESPACE]
    assert missing == []


@pytest.mark.parametrize("url, canonical, expected", [
    (f"{H}/a", None, None),
    (f"{H}/a", "", None),
    (f"{H}/a", f"{H}/a", None),
    (f"{H}/a", "HTTP://Clinic.TEST:80/a", None),     # the same URL once normalised
    (f"{H}/a", f"{H}/b", f"{H}/b"),
    (f"{H}/a", f"{H}/a?x=1", f"{H}/a?x=1"),
    (f"{H}/a", "https://clinic.test/a", "https://clinic.test/a"),
    (f"{H}/a", "not a url", None),                   # unusable: ignored, as search engines do
])
def test_canonical_elsewhere(url, canonical, expected):
    assert onpage.canonical_elsewhere(url, canonical) == expected


def page(**kw):
    base = {"url": f"{H}/p", "status": 200, "title": "A title of a good length for the page here",
            "title_count": 1, "meta_description": "x" * 100, "meta_robots": None,
            "x_robots_tag": None, "canonical": None, "canonical_status": None,
            "h1": ["Heading"], "main_words": 500}
    base.update(kw)
    return base


def kinds_of(p, opts=OnpageOptions()):
    return sorted((f["kind"], f["target"]) for f in onpage.page_findings(p, opts))


GOOD_TITLE = "A title of a good length for the page here"


@pytest.mark.parametrize("changes, expected", [
    ({}, []),
    ({"title": None}, [("missing_title", "")]),
    ({"title": ""}, [("missing_title", "")]),
    ({"title": "   "}, [("missing_title", "")]),
    ({"title": "\u00a0\u200b"}, [("missing_title", "")]),
    ({"title": "Short"}, [("title_length", "Short")]),
    ({"title": "L" * 61}, [("title_length", "L" * 61)]),
    ({"title": "  " + GOOD_TITLE + "  "}, []),
    ({"title_count": 2}, [("multiple_titles", "")]),
    ({"title": None, "title_count": 0}, [("missing_title", "")]),
    ({"meta_description": None}, [("missing_meta_description", "")]),
    ({"meta_description": ""}, [("missing_meta_description", "")]),  # <meta name=description> without content
    ({"meta_description": "Too short."}, [("meta_description_length", "Too short.")]),
    ({"h1": []}, [("missing_h1", "")]),
    ({"h1": None}, [("missing_h1", "")]),
    ({"h1": ["", " "]}, [("missing_h1", "")]),
    ({"h1": ["One", "Two"]}, [("multiple_h1", "")]),
    ({"h1": ["One", ""]}, []),                 # an empty second h1 is not a second heading
    ({"main_words": 199}, [("thin_content", "")]),
    ({"main_words": 200}, []),
    ({"main_words": 0}, [("thin_content", "")]),
    ({"meta_robots": "noindex, follow", "title": None, "main_words": 3}, [("noindex", "")]),
    ({"x_robots_tag": "noindex", "h1": []}, [("noindex", "")]),
    ({"canonical": f"{H}/other", "title": None}, [("canonicalized", f"{H}/other")]),
    ({"canonical": f"{H}/p", "title": None}, [("missing_title", "")]),   # self-canonical: indexable
    ({"status": 203, "title": None}, []),      # not 200: not indexable, not checked
])
def test_page_findings(changes, expected):
    assert kinds_of(page(**changes)) == sorted(expected)


def test_page_findings_respect_configured_ranges():
    opts = OnpageOptions(title_min=5, title_max=10, thin_words=10)
    assert kinds_of(page(title="Short", main_words=10), opts) == []
    assert kinds_of(page(title="Eleven char", main_words=9), opts) == [("thin_content", ""), ("title_length", "Eleven char")]


def test_long_title_target_is_cut_at_200_characters():
    [f] = onpage.page_findings(page(title="word " * 100), OnpageOptions())
    assert f["kind"] == "title_length" and len(f["target"]) == 200 and "500" not in f["detail"]


def test_canonical_detail_names_the_target_status():
    [f] = onpage.page_findings(page(canonical=f"{H}/gone", canonical_status=404), OnpageOptions())
    assert "404" in f["detail"]


# --- near-duplicates ------------------------------------------------------------------------

VOCAB = [f"word{i}" for i in range(3000)]


def text_of(rng, n):
    return " ".join(rng.choices(VOCAB, k=n))


def edit(text, rng, changes):
    words = text.split()
    for i in rng.sample(range(len(words)), changes):
        words[i] = "changed"
    return " ".join(words)


def templated_from(text, rng, name, places=6):
    """The text with a place name put in at `places` spots: a city landing page."""
    words = text.split()
    for i in sorted(rng.sample(range(len(words)), places)):
        words[i] = name
    return " ".join(words)


def phrases_text(rng, phrases, n):
    """A page on one subject: stock phrases of that subject in its own order."""
    return " ".join(rng.choice(phrases) for _ in range(n))


def test_near_duplicate_pairs_finds_planted_pairs_only():
    rng = random.Random(7)
    texts = {f"u{i:03d}": text_of(rng, 300) for i in range(200)}
    phrases = [text_of(rng, 5) for _ in range(40)]
    cases = [  # (page, how it was made from another, a near-duplicate?)
        ("u000-copy", edit(texts["u000"], rng, 2), True),                # ~0.94 similar
        ("u001-copy", texts["u001"], True),                              # identical
        ("u002-edited", edit(texts["u002"], rng, 20), True),             # 93% of its words, in order
        ("u003-riverton", templated_from(texts["u003"], rng, "riverton"), True),
        ("u004-shuffled", " ".join(rng.sample(texts["u004"].split(), 300)), False),  # same words, other order
        ("u005-subject", phrases_text(rng, phrases, 60), False),         # same subject, its own text
        ("u006-half", texts["u006"][: len(texts["u006"]) // 2] + " " + text_of(rng, 150), False),
    ]
    texts["u005"] = phrases_text(rng, phrases, 60)
    for name, text, _ in cases:
        texts[name] = text
    pairs = {(a, b) for a, b, _ in near_duplicates.near_duplicate_pairs(texts, 0.9)}
    assert pairs == {(name.split("-")[0], name) for name, _, dup in cases if dup}


@pytest.mark.parametrize("words_a, words_b, expected", [
    ("a b c d e f g h i j k l", "a b c d e f g h i j k l", 1.0),
    ("a b c d e f g h i j x y", "a b c d e f g h i j k l", 10 / 12),   # a 10-word run shared
    ("a b c d e f g h i x y z", "a b c d e f g h i j k l", 0.0),       # 9 words: no long run
    ("", "a b c", 0.0),
])
def test_shared_run_coverage(words_a, words_b, expected):
    assert near_duplicates.shared_run_coverage(words_a, words_b) == pytest.approx(expected)


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9, 0.95, 1.0])
def test_lsh_shape_keeps_recall_at_the_threshold(threshold):
    bands, rows = near_duplicates.lsh_shape(threshold)
    assert bands * rows == near_duplicates.NUM_PERM
    assert 1 - (1 - threshold ** rows) ** bands >= 0.999


def test_shingles_are_stable_and_case_blind():
    a, _ = near_duplicates.shingles(["One two three four five six"])
    b, _ = near_duplicates.shingles(["one TWO three, four five; six!"])
    assert list(a) == list(b) and len(a) == 6 - near_duplicates.SHINGLE_WORDS + 1
    _, counts = near_duplicates.shingles(["too", "", "one two three four five"], k=3)
    assert list(counts) == [0, 0, 3]
    c, _ = near_duplicates.shingles(["one two three four five six"], k=3)
    assert len(set(c)) == 4 and not set(c) & set(near_duplicates.shingles(["six five four three two one"], k=3)[0])


def test_jaccard():
    import numpy as np
    a, b = np.array([1, 2, 3, 4], dtype=np.uint64), np.array([3, 4, 5], dtype=np.uint64)
    assert near_duplicates.jaccard(a, b) == pytest.approx(2 / 5)
    assert near_duplicates.jaccard(a, a) == 1.0


# --- on a real database -----------------------------------------------------------------------

class Crawl(StoredCrawl):
    """A crawl of clinic.test and blog.test, with on-page defaults: a fine title, description, H1."""

    def __init__(self, con):
        super().__init__(con, "clinic.test", [H + "/"], hosts=["clinic.test:80", "blog.test:8080"])

    def response(self, url, status=200, content_type="text/html; charset=utf-8", outcome="fetched", **kw):
        return super().response(url, status, outcome, **{"content_type": content_type, "bytes": 20_000,
                                                           "method": "GET", **kw})

    def page(self, url, main="", status=200, x_robots_tag=None, nav="Home About Blog Contact", **kw):
        self.response(url, status=status, x_robots_tag=x_robots_tag)
        columns = {"title": f"Title of {url} for the clinic site", "title_count": 1,
                   "meta_description": "A description " * 7, "h1": ["Heading"],
                   "main_words": len(main.split()), "word_count": len(main.split()), **kw}
        return super().page(url, [(role, text) for role, text in (("nav", nav), ("main", main)) if text],
                            response=False, **columns)

    def link(self, source, url, element="a", alt=None, href=None, target_type="internal"):
        """A link already resolved to `url` (href as written defaults to it)."""
        position = self._next_link.get(source, 0)
        self._next_link[source] = position + 1
        self._add("links", {"crawl_id": self.crawl_id, "source_url": source, "position": position,
                            "element": element, "href": href or url, "url": url, "target_type": target_type,
                            "nofollow": False, "alt": alt})


@pytest.fixture
def con(tmp_path):
    c = store.open_store(tmp_path / "audit.duckdb")
    yield c
    c.close()


def flags(con, crawl_id):
    return sorted(con.execute(
        "SELECT kind, page_url, target FROM flags WHERE crawl_id = ? AND analysis = 'onpage'", [crawl_id]
    ).fetchall())


def long_text(seed, n=300):
    return text_of(random.Random(seed), n)


def build_site(con):
    c = Crawl(con)
    for i in range(6):
        c.page(f"{H}/ok{i}", main=long_text(i))
    c.page(f"{H}/same-a", main=long_text(10), title="Shared title for two clinic pages here")
    c.page(f"{H}/same-b", main=long_text(11), title="Shared  title for two clinic pages here")  # collapses
    c.page(f"{H}/same-noindex", main=long_text(12), title="Shared title for two clinic pages here",
           meta_robots="noindex")
    c.page(f"{H}/copy", main=edit(long_text(0), random.Random(1), 2))          # near-duplicate of ok0
    c.page(f"{H}/print", main=long_text(1), canonical=f"{H}/ok1")              # canonicalized copy of ok1
    c.page(f"{B}/thin", main="Just a few words here.")
    c.page(f"{B}/empty-title", main=long_text(20), title="  ", h1=[])
    c.page(f"{B}/two-h1", main=long_text(21), h1=["First", "Second"], meta_description=None)
    c.page(f"{B}/xrobots", main=long_text(22), x_robots_tag="noindex", title=None)
    c.link(f"{H}/ok2", f"{H}/img/a.png", element="img")                  # missing alt
    c.link(f"{H}/ok2", f"{H}/img/b.png", element="img", alt="")          # decorative: fine
    c.link(f"{H}/ok2", f"{H}/img/c.png", element="img", alt="A chart", href="c.png 1x, c2.png 2x")
    c.link(f"{H}/ok3", f"{H}/ok4?sessionid=abc123", href="/ok4?sessionid=abc123")
    c.link(f"{H}/ok3", f"{H}/ok5?utm_source=news&utm_medium=email")
    c.link(f"{H}/ok3", f"{H}/ok5?page=2")                                 # a real parameter: fine
    c.link(f"{H}/ok3", f"{H}/never?sid=1")                                 # bare URL never fetched: skip
    c.sitemap(f"{H}/ok0?utm_campaign=spring")
    c.link(f"{H}/ok4", f"{H}/calendar?month=2031-01")
    for m in range(1, 4):
        c.response(f"{H}/calendar?month=2031-0{m}", outcome="trap", status=None, content_type=None,
                   error=f"{H}/calendar?month=*", depth=5 + m)
    c.response(f"{H}/huge", bytes=5_200_000)
    c.response(f"{H}/huge.pdf", content_type="application/pdf", bytes=9_000_000, x_robots_tag="noindex")
    c.link(f"{H}/ok1", f"{H}/huge.pdf")                                  # a document people open
    for endpoint, ctype in ((f"{H}/wp-json/wp/v2/pages/7", "application/json"),
                            (f"{H}/wp-json/oembed/1.0/embed?format=xml", "text/xml+oembed"),
                            (f"{H}/feed/", "application/rss+xml")):      # machine endpoints: no notice
        c.response(endpoint, content_type=ctype, bytes=900, x_robots_tag="noindex")
        c.link(f"{H}/ok1", endpoint, element="link", href=endpoint)
    c.response(f"{H}/missing", status=404)
    c.response(f"{H}/enormous", outcome="too_large", status=None, content_type=None, bytes=None, error="too large")
    c.response(f"{H}/timeout", outcome="error", status=None, content_type=None, bytes=None, error="timeout")
    c.response(f"{H}/video.mp4", content_type="video/mp4", bytes=80_000_000)   # stopped at headers
    return c.save()


EXPECTED = sorted([
    ("duplicate_title", f"{H}/same-a", "Shared title for two clinic pages here"),
    ("duplicate_title", f"{H}/same-b", "Shared title for two clinic pages here"),
    ("noindex", f"{H}/same-noindex", ""),
    ("near_duplicate", f"{H}/copy", f"{H}/ok0"),
    ("near_duplicate", f"{H}/ok0", f"{H}/copy"),
    ("canonicalized", f"{H}/print", f"{H}/ok1"),
    ("thin_content", f"{B}/thin", ""),
    ("missing_title", f"{B}/empty-title", ""),
    ("missing_h1", f"{B}/empty-title", ""),
    ("multiple_h1", f"{B}/two-h1", ""),
    ("missing_meta_description", f"{B}/two-h1", ""),
    ("noindex", f"{B}/xrobots", ""),
    ("noindex", f"{H}/huge.pdf", ""),
    ("missing_alt", f"{H}/ok2", f"{H}/img/a.png"),
    ("duplicate_url", f"{H}/ok4?sessionid=abc123", f"{H}/ok4"),
    ("duplicate_url", f"{H}/ok5?utm_source=news&utm_medium=email", f"{H}/ok5"),
    ("duplicate_url", f"{H}/ok0?utm_campaign=spring", f"{H}/ok0"),
    ("crawler_trap", f"{H}/ok4", f"{H}/calendar?month=*"),
    ("large_page", f"{H}/huge", ""),
    ("large_page", f"{H}/enormous", ""),
])


def test_analyse_finds_each_planted_problem_and_nothing_else(con):
    crawl_id = build_site(con)
    counts = onpage.analyse(con, crawl_id, Options())
    assert flags(con, crawl_id) == EXPECTED
    assert set(counts) == set(onpage.KINDS)
    assert sum(counts.values()) == len(EXPECTED) and counts["noindex"] == 3 and counts["missing_alt"] == 1


def test_a_recheck_leaves_out_the_checks_that_need_the_whole_site(con):
    crawl_id = build_site(con)
    onpage.analyse(con, crawl_id, Options(), page=f"{H}/same-a")
    site_wide = {"duplicate_title", "near_duplicate", "duplicate_url", "crawler_trap"}
    assert flags(con, crawl_id) == [f for f in EXPECTED if f[0] not in site_wide]


def test_findings_say_where_to_look(con):
    crawl_id = build_site(con)
    onpage.analyse(con, crawl_id, Options())
    detail = dict(con.execute("SELECT kind || ' ' || page_url, detail FROM flags WHERE crawl_id = ?", [crawl_id]).fetchall())
    assert detail[f"duplicate_url {H}/ok0?utm_campaign=spring"].endswith(f"listed in the sitemap {H}/sitemap.xml")
    assert detail[f"duplicate_url {H}/ok4?sessionid=abc123"].endswith(f"linked from {H}/ok3")
    assert detail[f"crawler_trap {H}/ok4"].startswith(f"first URL not followed: {H}/calendar?month=2031-01; ")
    assert detail[f"duplicate_title {H}/same-a"] == f"2 pages share this title, also: {H}/same-b"
    assert detail[f"large_page {H}/huge"] == "5.2 MB of HTML, more than 2.0 MB"
    assert "too large" in detail[f"large_page {H}/enormous"]
    assert detail[f"near_duplicate {H}/copy"].startswith("main text 9")


def test_analyse_is_idempotent_and_keeps_other_analyses_findings(con):
    crawl_id = build_site(con)
    store.write_flags(con, crawl_id, "links", [{"kind": "broken_link", "page_url": f"{H}/ok0",
                                                "severity": "error", "target": f"{H}/missing"}], ["broken_link"])
    onpage.analyse(con, crawl_id, Options())
    first = con.execute("SELECT * FROM flags ORDER BY ALL").fetchall()
    onpage.analyse(con, crawl_id, Options())
    assert con.execute("SELECT * FROM flags ORDER BY ALL").fetchall() == first
    assert ("broken_link",) in con.execute("SELECT DISTINCT kind FROM flags").fetchall()


def test_every_finding_has_severity_detail_and_suggestion(con):
    crawl_id = build_site(con)
    onpage.analyse(con, crawl_id, Options())
    rows = con.execute("SELECT kind, severity, detail, suggestion FROM flags WHERE crawl_id = ?", [crawl_id]).fetchall()
    for kind, severity, detail, suggestion in rows:
        assert severity == onpage.KINDS[kind] and detail and suggestion == onpage.SUGGESTIONS[kind]


def test_severity_and_suggestion_overrides(con):
    crawl_id = build_site(con)
    options = replace(Options(), severity={"noindex": "warning"},
                      onpage=OnpageOptions(suggestions={"thin_content": "Merge it into the guide."}))
    onpage.analyse(con, crawl_id, options)
    got = dict(con.execute("SELECT kind, any_value(severity || '|' || suggestion) FROM flags "
                           "WHERE kind IN ('noindex', 'thin_content') GROUP BY kind").fetchall())
    assert got["noindex"].startswith("warning|")
    assert got["thin_content"] == "warning|Merge it into the guide."


def test_unknown_suggestion_kind_is_a_config_error_naming_the_kinds(con):
    crawl_id = build_site(con)
    with pytest.raises(ConfigError, match="thin_contnet.*thin_content"):
        onpage.analyse(con, crawl_id, replace(Options(), onpage=OnpageOptions(suggestions={"thin_contnet": "x"})))


def test_thresholds_from_config_change_the_findings(con, tmp_path):
    crawl_id = build_site(con)
    cfg = tmp_path / "audit.toml"
    cfg.write_text("[onpage]\nthin_words = 5\nlarge_page_bytes = 6_000_000\n"
                   "near_duplicate_similarity = 0.99\nnear_duplicate_template = 1.0\n", encoding="utf-8")
    counts = onpage.analyse(con, crawl_id, load_config(cfg))
    assert counts["thin_content"] == 0 and counts["near_duplicate"] == 0
    assert counts["large_page"] == 1     # /enormous went over max_bytes: large whatever the limit


@pytest.mark.parametrize("toml, message", [
    ("[onpage]\ntitle_min = 70\n", "title_min"),
    ("[onpage]\nnear_duplicate_similarity = 1.5\n", "near_duplicate_similarity"),
    ("[onpage]\nlarge_page_bytes = 0\n", "large_page_bytes"),
    ("[onpage.suggestions]\nthin_content = \"\"\n", "suggestions.thin_content"),
])
def test_bad_onpage_config(tmp_path, toml, message):
    cfg = tmp_path / "audit.toml"
    cfg.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(cfg)


def test_empty_crawl_gives_zero_counts(con):
    crawl_id = Crawl(con).save()
    assert onpage.analyse(con, crawl_id, Options()) == dict.fromkeys(onpage.KINDS, 0)


def test_identical_cluster_is_capped_per_page(con):
    c = Crawl(con)
    text = long_text(99)
    for i in range(8):
        c.page(f"{H}/tag{i}", main=text + f" extra{i}" if i % 2 else text)
    crawl_id = c.save()
    onpage.analyse(con, crawl_id, replace(Options(), onpage=OnpageOptions(near_duplicate_max_per_page=3)))
    per_page = con.execute("SELECT page_url, count(*), any_value(detail) FROM flags WHERE kind = 'near_duplicate' "
                           "GROUP BY page_url ORDER BY page_url").fetchall()
    assert [n for _, n, _ in per_page] == [3] * 8
    assert all("4 more similar pages" in d for _, _, d in per_page)


def test_page_copied_under_three_urls_is_a_near_duplicate_not_just_thin(con):
    # Its text repeats on 3 pages, so main_text_sql treats it as furniture: thin_content says
    # why, and near_duplicate (which compares every main block) still names the copies.
    c = Crawl(con)
    text = long_text(7, 400)
    for path in ("/guide", "/guide-copy", "/old/guide"):
        c.page(f"{H}{path}", main=text)
    crawl_id = c.save()
    onpage.analyse(con, crawl_id, Options())
    rows = con.execute("SELECT kind, page_url, target, detail FROM flags WHERE crawl_id = ?", [crawl_id]).fetchall()
    near = sorted((p, t) for k, p, t, _ in rows if k == "near_duplicate")
    assert near == sorted((f"{H}{a}", f"{H}{b}") for a in ("/guide", "/guide-copy", "/old/guide")
                          for b in ("/guide", "/guide-copy", "/old/guide") if a != b)
    assert {d for k, _, _, d in rows if k == "near_duplicate"} == {"identical main text"}
    thin = [d for k, _, _, d in rows if k == "thin_content"]
    assert len(thin) == 3 and all("400 more words" in d and "repeat on 3 or more pages" in d for d in thin)


def test_boilerplate_main_blocks_do_not_make_pages_near_duplicates(con):
    # A long disclaimer inside <main> on every page is site furniture: main_text_sql drops it.
    c = Crawl(con)
    disclaimer = long_text(500, 400)
    for i in range(4):
        c.page(f"{H}/article{i}", main=disclaimer)
        c.block(f"{H}/article{i}", "main", long_text(600 + i))
    crawl_id = c.save()
    assert onpage.analyse(con, crawl_id, Options())["near_duplicate"] == 0


# --- end to end: a two-host site the project has never seen, crawled by pipeline.py ---------

BRAND = "Harbor Light Counseling"
SUBJECTS = ["Many clients", "Our counselors", "Parents of teenagers", "People living with worry",
            "Couples in conflict", "Students under pressure", "Adults new to therapy", "Veterans",
            "New parents", "Family caregivers", "Night-shift workers", "Retired teachers"]
VERBS = ["often notice", "can learn", "tend to discover", "gradually build", "usually describe",
         "may find", "work toward", "slowly regain", "practise", "talk through", "plan", "track"]
OBJECTS = ["better sleep routines", "clearer boundaries at work", "calmer mornings",
           "small daily habits that last", "ways to ride out panic", "honest talks at home",
           "gentler self-talk", "a steadier appetite", "time outdoors each week",
           "fewer arguments about chores", "a plan for hard anniversaries", "room to rest"]
QUALIFIERS = ["after a few weekly sessions", "with steady support", "once goals are written down",
              "when progress is reviewed together", "between appointments", "over a season",
              "with a trusted friend nearby", "without rushing", "at their own pace",
              "as confidence returns", "in small steps", "before the holidays"]


def prose(seed: str, words: int) -> list[str]:
    """Paragraphs of plausible, page-specific text (no paragraph repeats on another page)."""
    rng = random.Random(seed)
    own = [f"{seed.split('/')[-1].replace('-', ' ')}", rng.choice(["spring", "autumn", "weekday", "evening"])]
    paragraphs, count = [], 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(3, 5)):
            s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(QUALIFIERS)}"
            if rng.random() < 0.5:
                s += f", especially around {rng.choice(own)} {rng.randint(2, 99)}"
            sentences.append(s + ".")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    return paragraphs


def html_page(title, description, h1s, paragraphs, head="", body_top="", extra_main=""):
    t = "" if title is None else f"<title>{title}</title>"
    d = "" if description is None else f'<meta name="description" content="{description}">'
    headings = "".join(f"<h1>{h}</h1>" for h in h1s)
    text = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{t}{d}{head}</head><body>{body_top}"
            "<header><nav><a href='{{host:clinic}}/'>Home</a> <a href='{{host:clinic}}/about'>About</a> "
            "<a href='{{host:clinic}}/services/therapy'>Services</a> <a href='{{host:blog}}/'>Journal</a></nav></header>"
            f"<main>{headings}{text}{extra_main}</main>"
            f"<footer>{BRAND}, 12 Quay Road. Call us on weekdays from nine to five.</footer></body></html>")


def good(name, words=320, **kw):
    """A clean page: title and description in range, one h1, enough text; kw plants problems."""
    topic = name.replace("-", " ").title()
    title = kw.pop("title", f"{topic} | {BRAND}")
    description = kw.pop("description", f"{topic}: how {BRAND} helps, what a first visit looks like and how to book.")
    h1s = kw.pop("h1s", [topic])
    paragraphs = kw.pop("paragraphs", None) or prose(name, words)
    return html_page(title, description, h1s, paragraphs, **kw)


def calendar_page(info) -> Route:
    month = int(info.param("month", "1"))
    body = good(f"events-month-{month}", title=f"Events for Month {month} | {BRAND}",
                extra_main=f"<a href='/events/calendar?month={month + 1}'>Next month</a>")
    return Route.html(body)


def unseen_site():
    therapy = prose("services/therapy", 360)
    online = [p.replace("in small steps", "in short video calls", 1) if i == 1 else p for i, p in enumerate(therapy)]
    online[3] = online[3].replace("Many clients", "Remote clients", 1)
    group = prose("services/group", 330)
    clinic_pages = {
        "/": good("home", extra_main=(
            "<p><a href='/about?sessionid=ABC123'>About us</a> <a href='/fees;jsessionid=XYZ9'>Fees</a> "
            + " ".join(f"<a href='{p}'>{p}</a>" for p in [
                "/services/therapy", "/services/therapy-online", "/services/group", "/services/group/print",
                "/services/couples", "/team", "/insurance", "/contact", "/careers", "/thank-you",
                "/staff-portal", "/locations/north", "/locations/south", "/faq", "/privacy", "/fees",
                "/forms", "/anxiety", "/depression", "/gallery", "/annual-report", "/events/calendar?month=1"])
            + "</p>")),
        "/about": good("about"),
        "/services/therapy": good("individual-therapy", paragraphs=therapy),
        "/services/therapy-online": good("online-therapy", paragraphs=online),
        "/services/group": good("group-sessions", paragraphs=group),
        "/services/group/print": html_page("Group Sessions (print) | " + BRAND, None, ["Group Sessions"], group,
                                           head="<link rel='canonical' href='/services/group'>"),
        "/services/couples": good("couples", title="Couples Counseling for Partners Who Want to Argue Less and "
                                                   f"Listen More | {BRAND}"),
        "/team": good("team", h1s=["Our Team", "Meet the Counselors"]),
        "/insurance": good("insurance", h1s=[]),
        "/contact": good("contact", words=60),
        "/careers": good("careers", words=40),
        "/thank-you": html_page("Thank You | " + BRAND, None, ["Thanks"], ["We will call you back soon."],
                                head='<META NAME="ROBOTS" CONTENT="NOINDEX, FOLLOW">'),
        "/staff-portal": Route.html(html_page("Staff | " + BRAND, None, [], ["Sign in."]),
                                    headers={"X-Robots-Tag": "noindex, nofollow"}),
        "/locations/north": good("north-office", title=f"Visit Our Offices | {BRAND}"),
        "/locations/south": good("south-office", title=f"Visit Our Offices | {BRAND}"),
        "/faq": good("faq", title=None),
        "/privacy": good("privacy", title="&nbsp; &#160;\u200b "),
        "/fees": good("fees", description=None),
        "/forms": good("forms", description=None, head='<meta name="description">'),
        # a <title> in <body> only and odd-case meta names: fine, as browsers and engines read them
        "/anxiety": good("anxiety-support", title=None, head='<META NAME="Description" CONTENT="Anxiety support: '
                         'what a first visit looks like, how we help and how to book an appointment.">',
                         description=None, body_top=f"<title>Anxiety Support | {BRAND}</title>"),
        "/depression": good("depression-care", head="<title>Old depression page</title>"),
        "/gallery": good("gallery", extra_main=(
            "<img src='/img/waiting-room.jpg'> <img src='/img/garden.jpg' title='Garden'>"
            "<img srcset='/img/lobby-480.jpg 480w, /img/lobby-960.jpg 960w'>"
            "<img src='/img/divider.png' alt=''> <img src='/img/team.jpg' alt='Our team at the front desk'>")),
        "/annual-report": good("annual-report", head="<script>var chartData = \"" + "0123456789" * 500_000 + "\";</script>"),
        "/events/calendar": calendar_page,
        "/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
    }
    for name in ("waiting-room.jpg", "garden.jpg", "lobby-480.jpg", "divider.png", "team.jpg"):
        clinic_pages[f"/img/{name}"] = Route(body=b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")
    posts = ["finding-calm", "grief", "visit-us", "tips", "sleep-basics", "winter-blues", "quick-tip", "work-stress"]
    blog_pages = {
        "/": good("journal", extra_main="<p>" + " ".join(f"<a href='/posts/{p}'>{p}</a>" for p in posts)
                  + " <a href='{{host:clinic}}/contact?utm_source=newsletter&utm_medium=email'>Contact</a></p>"),
        "/posts/finding-calm": good("finding-calm"),
        "/posts/grief": good("grief-and-loss"),
        "/posts/visit-us": good("visit-us", title=f"Visit Our Offices | {BRAND}"),
        "/posts/tips": good("tips", title="Tips"),
        "/posts/sleep-basics": good("sleep-basics", description="Sleep tips."),
        "/posts/winter-blues": good("winter-blues", description=None),
        "/posts/quick-tip": good("quick-tip", words=120),
        "/posts/work-stress": good("work-stress"),
        "/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
    }
    as_routes = lambda pages: {k: Route.html(v) if isinstance(v, str) else v for k, v in pages.items()}  # noqa: E731
    return {"clinic": HostSpec(routes=as_routes(clinic_pages)), "blog": HostSpec(routes=as_routes(blog_pages))}


def planted(server):
    c = lambda path: server.url("clinic", path)  # noqa: E731
    b = lambda path: server.url("blog", path)  # noqa: E731
    offices = f"Visit Our Offices | {BRAND}"
    return {
        ("missing_title", c("/faq"), ""), ("missing_title", c("/privacy"), ""),
        ("multiple_titles", c("/depression"), ""),
        ("duplicate_title", c("/locations/north"), offices), ("duplicate_title", c("/locations/south"), offices),
        ("duplicate_title", b("/posts/visit-us"), offices),
        ("title_length", c("/services/couples"),
         f"Couples Counseling for Partners Who Want to Argue Less and Listen More | {BRAND}"),
        ("title_length", b("/posts/tips"), "Tips"),
        ("missing_meta_description", c("/fees"), ""), ("missing_meta_description", c("/forms"), ""),
        ("missing_meta_description", b("/posts/winter-blues"), ""),
        ("meta_description_length", b("/posts/sleep-basics"), "Sleep tips."),
        ("missing_h1", c("/insurance"), ""), ("multiple_h1", c("/team"), ""),
        ("thin_content", c("/contact"), ""), ("thin_content", c("/careers"), ""),
        ("thin_content", b("/posts/quick-tip"), ""),
        ("near_duplicate", c("/services/therapy"), c("/services/therapy-online")),
        ("near_duplicate", c("/services/therapy-online"), c("/services/therapy")),
        ("canonicalized", c("/services/group/print"), c("/services/group")),
        ("noindex", c("/thank-you"), ""), ("noindex", c("/staff-portal"), ""),
        ("missing_alt", c("/gallery"), c("/img/waiting-room.jpg")),
        ("missing_alt", c("/gallery"), c("/img/garden.jpg")),
        ("missing_alt", c("/gallery"), c("/img/lobby-480.jpg")),
        ("duplicate_url", c("/about?sessionid=ABC123"), c("/about")),
        ("duplicate_url", c("/fees;jsessionid=XYZ9"), c("/fees")),
        ("duplicate_url", normalize(c("/contact?utm_source=newsletter&utm_medium=email")), c("/contact")),
        ("crawler_trap", "(any calendar URL)", c("/events/calendar?month=*")),
        ("large_page", c("/annual-report"), ""),
    }


@pytest.fixture(scope="module")
def unseen_crawl(tmp_path_factory):
    from conftest import run_cli
    folder = tmp_path_factory.mktemp("onpage-e2e")
    db = folder / "audit.duckdb"
    (folder / "audit.toml").write_text("trap_chain = 5\nno_external = true\n", encoding="utf-8")
    with SiteServer(unseen_site()) as server:
        result = run_cli("crawl", server.url("clinic"), server.url("blog"), "--db", str(db),
                         "--config", str(folder / "audit.toml"), "--concurrency", "4", "-q", timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        con = store.open_store(db)
        try:
            crawl_id = store.latest_crawl(con)
            counts = onpage.analyse(con, crawl_id, Options())
            rows = con.execute("SELECT kind, page_url, target, detail FROM flags WHERE crawl_id = ? "
                               "AND analysis = 'onpage'", [crawl_id]).fetchall()
        finally:
            con.close()
        yield server, counts, rows


def test_unseen_site_every_planted_problem_found_with_precision_per_kind(unseen_crawl):
    server, counts, rows = unseen_crawl
    expected = planted(server)
    found = {(k, "(any calendar URL)" if k == "crawler_trap" else p, t) for k, p, t, _ in rows}
    recall = len(expected & found) / len(expected)
    assert recall >= 0.95, f"missed: {sorted(expected - found)}"
    for kind in {k for k, _, _ in found}:
        got = {f for f in found if f[0] == kind}
        precision = len(got & expected) / len(got)
        assert precision >= 0.9, f"{kind}: unexpected {sorted(got - expected)}"
    assert {k for k, _, _ in expected} == {k for k, _, _ in expected & found}, "a planted kind was missed"
    assert counts["missing_alt"] == 3 and sum(counts.values()) == len(found)


def test_unseen_site_decoys_are_not_flagged(unseen_crawl):
    server, _, rows = unseen_crawl
    flagged = {(k, p) for k, p, _, _ in rows}
    targets = {t for _, _, t, _ in rows}
    c = lambda path: server.url("clinic", path)  # noqa: E731
    assert server.url("clinic", "/img/divider.png") not in targets          # alt="" is decorative
    assert not {k for k, p in flagged if p == c("/anxiety")}                 # <title> in body, odd-case META
    assert not {k for k, p in flagged if p == c("/services/group/print")} - {"canonicalized"}
    assert not {k for k, p in flagged if p in (c("/thank-you"), c("/staff-portal"))} - {"noindex"}
    trap = [d for k, _, _, d in rows if k == "crawler_trap"]
    assert len(trap) == 1 and "not followed" in trap[0]


# --- what kind of page: listings and crawler-trap views get no thin_content ---------------------

@pytest.mark.parametrize("facts, listing", [
    ({"teaser_targets": 6, "teaser_words": 180, "main_words": 0}, True),         # blog home, category
    ({"teaser_targets": 4, "teaser_words": 60, "main_words": 121, "inline_teasers": 4}, True),  # services hub
    ({"teaser_targets": 3, "teaser_words": 45, "main_words": 120, "inline_teasers": 0}, False),  # related rail
    ({"teaser_targets": 1, "teaser_words": 90, "main_words": 10, "inline_teasers": 1}, False),   # one card
    ({"paginated": True, "main_words": 40}, True),                               # page 2 of a series
    ({"main_words": 50}, False),
])
def test_is_listing(facts, listing):
    assert pagetypes.is_listing(facts) is listing


@pytest.mark.parametrize("url, trap_view", [
    (f"{H}/events/?month=2026-09", True),
    (f"{H}/events/", True),                      # the calendar's start page
    (f"{H}/events/open-day", False),
    (f"{H}/news/?page=2", False),
    (f"{H}/archive/2026/11/", False),            # the pattern is /events/?month=* only
])
def test_is_trap_view(url, trap_view):
    assert pagetypes.is_trap_view(url, {f"{H}/events/?month=*"}) is trap_view


def test_a_path_pattern_has_no_start_page():
    patterns = {f"{H}/archive/{{n}}/{{n}}/"}
    assert pagetypes.is_trap_view(f"{H}/archive/2026/11/", patterns)
    assert not pagetypes.is_trap_view(f"{H}/archive/", patterns)
