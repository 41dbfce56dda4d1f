"""Tests of analysis/onpage.py: the plain rules as tables, then analyse() on real temporary databases."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace

import pytest

from analysis import onpage
from crawler import store
from crawler.config import OnpageOptions, Options, load_config
from crawler.errors import ConfigError

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


def test_near_duplicate_pairs_finds_planted_pairs_only():
    rng = random.Random(7)
    texts = {f"u{i:03d}": text_of(rng, 300) for i in range(200)}
    texts["u000-copy"] = edit(texts["u000"], rng, 2)       # ~0.94 similar
    texts["u001-copy"] = texts["u001"]                      # identical
    texts["u002-far"] = edit(texts["u002"], rng, 20)        # ~0.5 similar: not a near-duplicate
    pairs = {(a, b) for a, b, _ in onpage.near_duplicate_pairs(texts, 0.9)}
    assert pairs == {("u000", "u000-copy"), ("u001", "u001-copy")}


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9, 0.95, 1.0])
def test_lsh_shape_keeps_recall_at_the_threshold(threshold):
    bands, rows = onpage.lsh_shape(threshold)
    assert bands * rows == onpage.NUM_PERM
    assert 1 - (1 - threshold ** rows) ** bands >= 0.999


def test_shingles_are_stable_and_case_blind():
    a, _ = onpage.shingles(["One two three four five six"])
    b, _ = onpage.shingles(["one TWO three, four five; six!"])
    assert list(a) == list(b) and len(a) == 6 - onpage.SHINGLE_WORDS + 1
    _, counts = onpage.shingles(["too", "", "one two three four five"], k=3)
    assert list(counts) == [0, 0, 3]
    c, _ = onpage.shingles(["one two three four five six"], k=3)
    assert len(set(c)) == 4 and not set(c) & set(onpage.shingles(["six five four three two one"], k=3)[0])


def test_jaccard():
    import numpy as np
    a, b = np.array([1, 2, 3, 4], dtype=np.uint64), np.array([3, 4, 5], dtype=np.uint64)
    assert onpage.jaccard(a, b) == pytest.approx(2 / 5)
    assert onpage.jaccard(a, a) == 1.0


# --- on a real database -----------------------------------------------------------------------

def _hash(text):
    return int(hashlib.md5(text.encode()).hexdigest()[:15], 16)


class Crawl:
    """A crawl written straight into a temporary DuckDB file, the way the crawler stores it."""

    def __init__(self, con):
        self.con = con
        self.crawl_id = store.create_crawl(con, "clinic.test", [H + "/"], ["clinic.test:80", "blog.test:8080"], {})
        self.responses, self.pages, self.blocks, self.links, self.sitemap = [], [], [], [], []

    def response(self, url, status=200, content_type="text/html; charset=utf-8", outcome="fetched", **kw):
        row = {"crawl_id": self.crawl_id, "url": url, "host": url.split("/")[2], "is_internal": True,
               "purpose": "crawl", "depth": 1, "found_by": "link", "outcome": outcome, "status": status,
               "content_type": content_type, "bytes": 20_000, "method": "GET"}
        row.update(kw)
        self.responses.append(row)

    def page(self, url, main="", status=200, x_robots_tag=None, nav="Home About Blog Contact", **kw):
        self.response(url, status=status, x_robots_tag=x_robots_tag)
        row = {"crawl_id": self.crawl_id, "url": url, "title": f"Title of {url} for the clinic site",
               "title_count": 1, "meta_description": "A description " * 7, "h1": ["Heading"],
               "main_words": len(main.split()), "word_count": len(main.split())}
        row.update(kw)
        self.pages.append(row)
        for i, (role, text) in enumerate([("nav", nav), ("main", main)]):
            if text:
                self.blocks.append({"crawl_id": self.crawl_id, "page_url": url, "block_index": i, "role": role,
                                    "text": text, "word_count": len(text.split()), "text_hash": _hash(text)})

    def link(self, source, url, element="a", alt=None, href=None, target_type="internal"):
        self.links.append({"crawl_id": self.crawl_id, "source_url": source, "position": len(self.links),
                           "element": element, "href": href or url, "url": url, "target_type": target_type,
                           "nofollow": False, "alt": alt})

    def save(self):
        for table, rows in [("responses", self.responses), ("pages", self.pages), ("blocks", self.blocks),
                            ("links", self.links), ("sitemap_urls", self.sitemap)]:
            if rows:
                store.insert_rows(self.con, table, rows)
        return self.crawl_id


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
    c.link(f"{H}/ok4", f"{H}/calendar?month=2031-01")
    for m in range(1, 4):
        c.response(f"{H}/calendar?month=2031-0{m}", outcome="trap", status=None, content_type=None,
                   error=f"{H}/calendar?month=*", depth=5 + m)
    c.response(f"{H}/huge", bytes=5_200_000)
    c.response(f"{H}/huge.pdf", content_type="application/pdf", bytes=9_000_000, x_robots_tag="noindex")
    c.response(f"{H}/missing", status=404)
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
    ("crawler_trap", f"{H}/calendar?month=2031-01", f"{H}/calendar?month=*"),
    ("large_page", f"{H}/huge", ""),
])


def test_analyse_finds_each_planted_problem_and_nothing_else(con):
    crawl_id = build_site(con)
    counts = onpage.analyse(con, crawl_id, Options())
    assert flags(con, crawl_id) == EXPECTED
    assert set(counts) == set(onpage.KINDS)
    assert sum(counts.values()) == len(EXPECTED) and counts["noindex"] == 3 and counts["missing_alt"] == 1


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
                   "near_duplicate_similarity = 0.99\n", encoding="utf-8")
    counts = onpage.analyse(con, crawl_id, load_config(cfg))
    assert counts["thin_content"] == 0 and counts["large_page"] == 0 and counts["near_duplicate"] == 0


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


def test_boilerplate_main_blocks_do_not_make_pages_near_duplicates(con):
    # A long disclaimer inside <main> on every page is site furniture: main_text_sql drops it.
    c = Crawl(con)
    disclaimer = long_text(500, 400)
    for i in range(4):
        c.page(f"{H}/article{i}", main=disclaimer)
        c.blocks.append({"crawl_id": c.crawl_id, "page_url": f"{H}/article{i}", "block_index": 5, "role": "main",
                         "text": long_text(600 + i), "word_count": 300, "text_hash": _hash(long_text(600 + i))})
    crawl_id = c.save()
    assert onpage.analyse(con, crawl_id, Options())["near_duplicate"] == 0
