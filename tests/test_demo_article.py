"""Acceptance: the demo's WordPress-like post, crawled over HTTP, is graded on the article alone.

The post (demo/site/blog/posts/light-for-winter-blues.html) carries what a WordPress theme
puts around an article: a dateline and byline, a captioned figure, a hidden schema.org copy of
the article, post-footer taxonomies and share links, a related-posts rail whose cards' links
wrap the heading, and a comment thread in hard academic prose plus a reply form. The stored
main text must be the article's own paragraphs and list items, and the reading grade that of
the article text alone.
"""

from __future__ import annotations

import html
import re

import pytest

from analysis import readability
from conftest import query, run_cli
from demo.site import SITE_DIR, start_demo_server

POST = "/posts/light-for-winter-blues"
SOURCE = SITE_DIR / "blog" / "posts" / "light-for-winter-blues.html"


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def article_prose() -> list[str]:
    """The article's paragraphs and list items, read from the post's source by hand: the
    <p> and <li> elements of .entry-content up to the hidden copy."""
    source = SOURCE.read_text(encoding="utf-8")
    body = source.split('<div class="entry-content">', 1)[1].split('<div class="schema-article-body"', 1)[0]
    return [_text(m.group(2)) for m in re.finditer(r"<(p|li)>(.*?)</\1>", body, re.S)]


def around_the_article() -> list[str]:
    """Text on the page that is not the article: comments, related cards, furniture, captions."""
    source = SOURCE.read_text(encoding="utf-8")
    comments = [_text(m.group(1)) for m in re.finditer(r'<div class="comment-content">(.*?)</div>', source, re.S)]
    cards = [_text(m.group(1)) for m in re.finditer(r'<article class="item">(.*?)</article>', source, re.S)]
    assert len(comments) == 3 and len(cards) == 3, "the demo post changed: update this test"
    return comments + cards + ["January 9, 2025", "clinical team", "Photo: Brightwater",
                               "Categorized as", "Share this", "Leave a comment", "3 comments"]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("article")
    server = start_demo_server({"clinic": 0, "blog": 0, "partner": 0})
    try:
        db = tmp / "audit.duckdb"
        result = run_cli("run", server.url("clinic"), server.url("blog"), "--db", str(db),
                         "--out", str(tmp / "report"), "--no-external", "-q")
        assert result.returncode == 0, result.stdout + result.stderr
        return db, server.url("blog", POST)
    finally:
        server.stop()


def main_text(db, url: str) -> str:
    rows = query(db, "SELECT text FROM blocks WHERE page_url = ? AND role = 'main' ORDER BY block_index", [url])
    return "\n".join(t for (t,) in rows)


def test_the_posts_main_text_is_the_article_alone(crawled):
    db, url = crawled
    text = " ".join(main_text(db, url).split())
    prose = article_prose()
    assert len(prose) == 8
    for paragraph in prose:
        assert paragraph in text, paragraph
    for other in around_the_article():
        assert other not in text, other
    # the hidden copy repeats the first paragraphs: each is in the main text once
    assert text.count("Many people feel low when the days get short") == 1


def test_the_posts_grade_is_the_grade_of_the_article_alone(crawled):
    db, url = crawled
    [(grade, words)] = query(db, "SELECT reading_grade, words FROM readability WHERE url = ?", [url])
    alone = readability.score_page("\n".join(article_prose()), "en")
    assert words == alone["words"]
    assert grade == pytest.approx(alone["flesch_kincaid_grade"], abs=0.01)
    # the comments are far harder than the article: had they been graded, the grade would show it
    with_comments = readability.score_page("\n".join(article_prose() + around_the_article()[:3]), "en")
    assert with_comments["flesch_kincaid_grade"] > alone["flesch_kincaid_grade"] + 2
