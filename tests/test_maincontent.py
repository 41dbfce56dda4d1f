"""Main-content detection (crawler/maincontent.py, teasers.py, markup.py): one table of small
pages per cause of foreign text in the main text, each page holding the same short article.
The main text must be the article alone, whatever surrounds it."""

import pytest

from crawler import maincontent
from crawler.extract import extract

URL = "http://clinic.test/posts/light"
HOSTS = frozenset({"clinic.test:80"})

ARTICLE = [
    "Many people feel low when the days get short, and they sleep more, eat more and find it hard "
    "to get going in the morning.",
    "A light box is a lamp that gives off bright white light, and you sit near it for about half "
    "an hour each morning while you read.",
    "Talk to your doctor before you start if you have eye problems or take medicine that makes "
    "you sensitive to light.",
]
BODY = "".join(f"<p>{p}</p>" for p in ARTICLE)
COMMENT = ("Notwithstanding the considerable methodological heterogeneity of the published trials, "
           "the evidence appears persuasive enough to recommend phototherapy to everyone.")
EXCERPT = ("Why poor sleep and low mood feed each other, what the research says about insomnia, "
           "and the evidence-based ways to sleep better tonight and every night after it.")


def page(inner: str, head: str = "") -> str:
    return (f"<!doctype html><html lang='en'><head><title>Light</title>{head}</head><body>"
            f"<header><a href='/'>Clinic</a><nav><a href='/a'>About</a> <a href='/b'>Blog</a></nav></header>"
            f"{inner}<footer><p>© Clinic</p></footer></body></html>")


def blocks(html: str) -> list[dict]:
    return extract(html, URL, HOSTS).blocks


def main_text(html: str) -> list[str]:
    return [b["text"] for b in blocks(html) if b["role"] == "main"]


def role_of(html: str, words: str) -> set[str]:
    return {b["role"] for b in blocks(html) if words in b["text"]}


COMMENTS = {
    "wordpress classic": f"""<main><article>{BODY}</article><div id="comments" class="comments-area">
        <h2 class="comments-title">2 responses</h2><ol class="comment-list"><li class="comment">
        <div class="comment-author">Ann says:</div><div class="comment-metadata">May 2, 2025 at 7:14 am</div>
        <p>{COMMENT}</p><a class="comment-reply-link" href="#respond">Reply</a></li></ol>
        <div id="respond"><h3>Leave a Reply</h3><form><p>Your email address will not be published.</p>
        <textarea></textarea><button>Post Comment</button></form></div></div></main>""",
    "block theme: thread inside the article": f"""<main><article class="post">{BODY}
        <section class="wp-block-comments"><h2>One reply</h2><ol class="wp-block-comment-template">
        <li><div class="wp-block-comment-author-name">Ann</div><div class="wp-block-comment-content"><p>{COMMENT}</p></div>
        </li></ol></section></article></main>""",
    "disqus": f"""<div class="post-body">{BODY}</div><div id="disqus_thread"><p>{COMMENT}</p></div>""",
    "comment articles inside the thread": f"""<main><article>{BODY}<div class="commentlist">
        <article class="comment-body"><footer class="comment-meta">Ann</footer><div class="content"><p>{COMMENT}</p></div>
        </article></div></article></main>""",
}


@pytest.mark.parametrize("inner", COMMENTS.values(), ids=COMMENTS.keys())
def test_comment_threads_are_comment_blocks_and_their_links_stay(inner):
    html = page(inner.replace(f"<p>{COMMENT}</p>", f"<p>{COMMENT} <a href='http://spam.test/oud'>oud</a></p>"))
    assert main_text(html) == ARTICLE
    assert role_of(html, "Notwithstanding") == {"comment"}
    spam = [link for link in extract(html, URL, HOSTS).links if link["url"] == "http://spam.test/oud"]
    assert [link["block_role"] for link in spam] == ["comment"]


CARD = '<article class="item"><a href="/posts/{0}"><h4>Sleep and mood number {0}</h4><p>{1}</p></a></article>'
RELATED = {
    # The link wraps the heading and the excerpt, inside the <main> that holds the article.
    "cards whose link wraps the heading": f"<main><article>{BODY}</article><div class='more'>"
    + "".join(CARD.format(i, EXCERPT) for i in range(3)) + "</div></main>",
    # A rail of headlines: every line a link.
    "link-dense rail of headlines": f"<main><div class='story'>{BODY}</div><div class='rail'>"
    + "".join(f"<div><a href='/n{i}'>Headline number {i} about winter sleep and mood today</a></div>"
              for i in range(6)) + "</div></main>",
    # Excerpts of other posts as nested articles, no heading, no link in the text.
    "nested article excerpts": f"<main><article>{BODY}<h3>You may also like</h3>"
    + "".join(f"<article class='excerpt'><p>{EXCERPT} ({i})</p></article>" for i in range(3))
    + "</article></main>",
    # More excerpt prose in the sidebar than in the article: the sidebar stays a sidebar.
    "sidebar holding more prose than the article": f"<main><div class='entry'>{BODY}</div>"
    "<div class='widget-area'>" + "".join(f"<article><h3><a href='/p{i}'>Post {i}</a></h3><p>{EXCERPT}</p></article>"
                                          for i in range(6)) + "</div></main>",
}


@pytest.mark.parametrize("inner", RELATED.values(), ids=RELATED.keys())
def test_related_cards_and_rails_are_not_main(inner):
    html = page(inner)
    assert main_text(html) == ARTICLE


def test_cards_whose_link_wraps_the_heading_are_teasers_of_their_posts():
    html = page(RELATED["cards whose link wraps the heading"])
    teasers = [b for b in blocks(html) if b["role"] == "teaser"]
    assert [b["link_url"] for b in teasers] == [f"http://clinic.test/posts/{i}" for i in range(3)]


HIDDEN = {
    "display:none copy": f"<main>{BODY}<div style='display: none' itemprop='articleBody'>{' '.join(ARTICLE)}</div></main>",
    "hidden attribute": f"<main>{BODY}<section hidden><p>{' '.join(ARTICLE)}</p></section></main>",
    "visibility:hidden": f"<main>{BODY}<div style='color:red;visibility:hidden'>{' '.join(ARTICLE)}</div></main>",
    "screen-reader class": f"<main><a class='skip-link screen-reader-text' href='#c'>Skip to content</a>{BODY}"
    f"<span class='sr-only'>opens in a new window</span></main>",
}


@pytest.mark.parametrize("inner", HIDDEN.values(), ids=HIDDEN.keys())
def test_hidden_text_is_in_no_block_and_no_count(inner):
    page_ = extract(page(inner), URL, HOSTS)
    assert [b["text"] for b in page_.blocks if b["role"] == "main"] == ARTICLE
    assert page_.main_words == sum(len(p.split()) for p in ARTICLE)
    assert page_.word_count == page_.main_words + 4   # header and footer: Clinic About Blog © Clinic


def test_links_in_hidden_text_are_kept_without_a_block():
    html = page(f"<main>{BODY}<div hidden><a href='/secret'>secret</a></div></main>")
    (link,) = [link for link in extract(html, URL, HOSTS).links if link["href"] == "/secret"]
    assert link["block_index"] is None and link["url"] == "http://clinic.test/secret"


FURNITURE = {
    "byline and date": f"<main><article><h1>Light</h1><p class='byline'>By Ann Lee</p>"
    f"<div class='posted-on'>March 14, 2025</div>{BODY}</article></main>",
    "a bare dateline": f"<main><article><div>Posted on November 19, 2019, 6:21 AM EST</div>{BODY}</article></main>",
    "posted in, tags, share bar": f"<main><article>{BODY}<footer class='entry-meta'>Posted in <a href='/c'>Mood</a> by Ann</footer>"
    "<div class='tags'>Tags: <a href='/t'>light</a></div><div class='share-buttons'><a href='/s'>Share</a>"
    " <a href='/t2'>Tweet</a></div></article></main>",
    "newsletter box": f"<main><article>{BODY}<div class='newsletter-signup'><p>Get our weekly letter about mood, sleep "
    "and the seasons, with tips from our clinicians in your inbox.</p></div></article></main>",
    "caption and credit": f"<main><article><p>{ARTICLE[0]}</p><figure><img src='/l.png' alt='lamp'>"
    f"<figcaption>A light box on a table. Photo: Clinic</figcaption></figure><p>{ARTICLE[1]}</p>"
    f"<div class='wp-caption'><p class='wp-caption-text'>Credit: Ann Lee for the clinic archive</p></div>"
    f"<p>{ARTICLE[2]}</p></article></main>",
}


@pytest.mark.parametrize("inner", FURNITURE.values(), ids=FURNITURE.keys())
def test_post_furniture_is_not_main(inner):
    assert [t for t in main_text(page(inner)) if t != "Light"] == ARTICLE


MISFIRES = {
    # A page builder's widget class on the post body itself.
    "widget class on the post body": f"<main><div class='elementor-widget elementor-widget-theme-post-content'>"
    f"<div class='elementor-widget-container'>{BODY}</div></div><div class='elementor-widget'>Share</div></main>",
    "pagination class on the body": f"<div class='article-body pagination-first'>{BODY}</div>"
    "<div class='pagination'><a href='/2'>1</a> <a href='/3'>2</a></div>",
    "a main container around the whole page": f"<div id='mainContainer'><div class='sidebar'><ul>"
    "<li><a href='/x'>Our clinics</a></li><li><a href='/y'>Opening hours</a></li></ul></div>"
    f"<div class='story'>{BODY}</div><div class='promo-box'>Book a visit today</div></div>",
}


@pytest.mark.parametrize("inner", MISFIRES.values(), ids=MISFIRES.keys())
def test_class_hints_that_misfire_on_the_body(inner):
    assert main_text(page(inner)) == ARTICLE


PARSES = {
    # libxml2 would nest the article inside the header (the branding div is never closed).
    "unclosed div in the page header": "<header><div class='site-branding'><a href='/'>Clinic</a>"
    f"<nav><a href='/a'>About</a></nav></header><main><article>{BODY}</article></main>",
    # ...or inside the paragraph a header opens after.
    "header after an open paragraph": f"<p>Call us today<header><a href='/'>Clinic</a></header><main>{BODY}</main>",
}


@pytest.mark.parametrize("inner", PARSES.values(), ids=PARSES.keys())
def test_the_page_is_parsed_as_a_browser_does(inner):
    html = f"<!doctype html><html lang='en'><head><title>Light</title></head><body>{inner}</body></html>"
    assert main_text(html)[-3:] == ARTICLE
    assert role_of(html, "Clinic") == {"header"}


CLEANUP = [
    ("<p>photo\u00adtherapy and zero\u200bwidth</p>", "phototherapy and zerowidth"),
    ("<p>cafe\u0301 au lait</p>", "caf\u00e9 au lait"),                     # NFC
    ("<p><ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>字 text</p>", "漢字 text"),
    ("<p>The area is <math><mi>π</mi><msup><mi>r</mi><mn>2</mn></msup></math> here</p>", "The area is here"),
]


@pytest.mark.parametrize("html, expected", CLEANUP)
def test_text_is_cleaned_as_a_reader_sees_it(html, expected):
    assert [b["text"] for b in blocks(html)] == [expected]


def test_a_short_page_keeps_the_landmark_rules():
    # Too little prose for a content root: text outside landmarks is main, as before.
    html = page("<div><h1>Contact</h1><p>Call us on 555 0142.</p></div>")
    assert main_text(html) == ["Contact", "Call us on 555 0142."]


def test_roles_are_the_documented_ones():
    assert "comment" in maincontent.ROLES
    for inner in (*COMMENTS.values(), *RELATED.values(), *FURNITURE.values()):
        assert {b["role"] for b in blocks(page(inner))} <= set(maincontent.ROLES)
