"""Tests of crawler/extract.py: tables of (html, expected) over small pages."""

import os
import subprocess
import sys

import pytest
from lxml import etree
from selectolax.lexbor import LexborHTMLParser

from crawler.extract import ROLES, Extracted, count_words, extract, text_hash

HOSTS = frozenset({"clinic.test:80"})
URL = "http://clinic.test/ketamine"
BLOG = "http://blog.test"


def run(html: str, url: str = URL) -> Extracted:
    return extract(html, url, HOSTS)


def roles(html: str) -> list[tuple[str, str]]:
    return [(b["role"], b["text"]) for b in run(html).blocks]


def teaser(excerpt: str, href: str, tag: str = "p") -> str:
    return f'<{tag}>{excerpt}...<a href="{href}">Read More</a></{tag}>'


# The seed: a clinic's ketamine article with link-network teasers above and below it.
SEED = f"""<!doctype html><html lang="en"><head><title>Ketamine Therapy</title></head><body>
<header><a href="/"><img src="/logo.png" alt="Village Clinic"></a>
<nav><ul><li><a href="/">Home</a></li><li><a href="/services">Services</a></li></ul></nav></header>
{teaser("Few fragrance ingredients carry the mystique, depth, and global prestige", BLOG + "/oud-fragrance")}
{teaser("Oud perfume has become one of the most sought-after fragrance", BLOG + "/oud-perfume", "div")}
<article><h1>Ketamine therapy for depression</h1>
<p>Depression can be overwhelming, especially for individuals who have tried multiple medications,
lifestyle changes, or therapy without meaningful progress.</p>
<h2>How ketamine works</h2>
<p>Ketamine works differently from antidepressants, which typically target serotonin or dopamine.
Instead, ketamine affects glutamate, the brain's most abundant neurotransmitter.</p>
<p>For patients and families exploring new treatment options, resources that help them
<a href="/learn">learn more about emerging therapies</a> can offer clarity and direction.</p>
</article>
<div class="posts">
{teaser("As building designs become more ambitious and city skylines continue", BLOG + "/skyscrapers")}
{teaser("As buildings grow taller, denser, and more complex, effective vertical-transportation",
        BLOG + "/elevators#intro", "div")}
</div>
<footer><p>&copy; Village Clinic</p></footer></body></html>"""

# Small pages of every shape, for the properties that must hold on any page.
CORPUS = {
    "empty": "",
    "whitespace": "   ",
    "only text": "just some text",
    "unclosed inline": "<p>unclosed <b>bold <i>both</b> italic</i> end",
    "misnested blocks": "<div><p>one<div>two</span></p>three</div>four</body>five</html>six",
    "only a comment": "<!-- only a comment -->",
    "processing instruction": "<?php echo 1 ?><p>after a processing instruction</p>",
    "xml declaration": '<?xml version="1.0" encoding="latin-1"?><p>café</p>',
    "nul and controls": "<p>NUL\x00byte and \x01control\x0b chars</p>",
    "table without end tags": "<table><tr><td>a<td>b<tr><td><p>c</p><td>d<br>e</table>",
    "lists without end tags": "<ul><li>one<li>two<ul><li>nested</ul></ul><dl><dt>term<dd>definition</dl>",
    "block inside a link": '<a href="/1"><div>Card title</div><p>card text</p></a><p>Text <a href="/2">link</a> tail</p>',
    "entities": "<p>Caf&eacute; &amp; cr&egrave;me &#8212; na&#xEF;ve &nbsp; &bogus; entities</p>",
    "invisible content": "<html><head><title>t</title><style>p{}</style></head><body><script>var x = '<p>no</p>';"
    "</script><noscript>enable js</noscript><template><p>inert</p></template><svg><text>icon</text></svg>"
    "<iframe src='/f'>fallback</iframe><p>visible</p></body></html>",
    "deep nesting": "<div>" * 3000 + "deep text" + "</div>" * 3000,
    "bad hrefs": '<p><a href="http://[::1">v6</a> <a href="https://[a]/">bracket</a> <a href="http://]@[x">odd</a></p>',
    "landmarks and a teaser": "<header><nav><a href='/'>Home</a></nav>Call us</header><main><p>Text "
    "<a href='/x'>x</a></p><aside><p>Side " + teaser("An excerpt that is long enough", "/post") + "</p></aside></main>",
    "seed": SEED,
}


@pytest.mark.parametrize("html", CORPUS.values(), ids=CORPUS.keys())
def test_never_raises_and_counts_each_word_once(html):
    page = run(html)
    assert page.word_count == sum(b["word_count"] for b in page.blocks)
    assert page.main_words == sum(b["word_count"] for b in page.blocks if b["role"] == "main")
    assert [b["block_index"] for b in page.blocks] == list(range(len(page.blocks)))
    assert all(b["text"] and b["text"] == " ".join(b["text"].split()) for b in page.blocks)
    assert {b["role"] for b in page.blocks} <= set(ROLES)
    if html.strip():
        # Every visible word is in exactly one block: compare with lxml's own text of <body>,
        # of the tree an HTML5 parser builds (as extract reads it).
        browser = LexborHTMLParser(html).html
        root = etree.fromstring(browser.encode(), etree.HTMLParser(encoding="utf-8", remove_comments=True,
                                                                    remove_pis=True))
        if root is not None and root.find("body") is not None:
            etree.strip_elements(root, "script", "style", "noscript", "template", "svg", "iframe",
                                 "title", "head", with_tail=False)
            visible = " ".join(root.find("body").itertext()) if "</html>six" not in html else None
            if visible is not None:
                assert page.word_count == count_words(visible)


@pytest.mark.parametrize("html", CORPUS.values(), ids=CORPUS.keys())
def test_a_link_points_at_the_block_that_holds_its_text(html):
    page = run(html)
    for position, link in enumerate(page.links):
        assert link["position"] == position
        if link["block_index"] is not None:
            block = page.blocks[link["block_index"]]
            assert link["block_role"] == block["role"]
            image_only = any(other["element"] == "img" and other["alt"] == link["anchor_text"] for other in page.links)
            if link["element"] == "a" and link["anchor_text"] and not image_only:
                assert link["anchor_text"].split()[0] in block["text"]


@pytest.mark.parametrize("html", ["", "   ", "<!-- only a comment -->", "\n\t"])
def test_unparseable_or_empty_gives_empty_fields(html):
    assert run(html) == Extracted(None, 0, None, None, None, None, [], [], [], 0, 0, [], [])


# --- title, meta, lang, canonical -----------------------------------------------------------

@pytest.mark.parametrize("html, title, count", [
    ("", None, 0),
    ("<p>no title</p>", None, 0),
    ("<title>Ketamine Therapy</title>", "Ketamine Therapy", 1),
    ("<title>  \n Ketamine \t Therapy  </title>", "Ketamine Therapy", 1),
    ("<title>   </title>", "", 1),
    ("<title></title>", "", 1),
    ("<title>Ketamine &amp; TMS &#8211; Clinic</title>", "Ketamine & TMS – Clinic", 1),
    ("<title>First</title><title>Second</title>", "First", 2),
    ("<body><p>text</p><title>In the body</title></body>", "In the body", 1),
    ("<title>Page</title><body><svg><title>Icon</title></svg></body>", "Page", 1),
    ("<title>A <b>bold</b> title</title>", "A <b>bold</b> title", 1),
])
def test_title(html, title, count):
    page = run(html)
    assert (page.title, page.title_count) == (title, count)


@pytest.mark.parametrize("html, expected", [
    ("", None),
    ("<p>x</p>", None),
    ('<meta name="description" content="Ketamine therapy explained">', "Ketamine therapy explained"),
    ('<meta name="DESCRIPTION" content="Odd case">', "Odd case"),
    ('<meta NAME=" Description " CONTENT="  spaced \n out ">', "spaced out"),
    ('<meta name="description">', None),
    ('<meta name="description" content="">', ""),
    ('<meta name="description"><meta name="description" content="Second">', "Second"),
    ('<meta property="og:description" content="Open Graph">', None),
])
def test_meta_description(html, expected):
    assert run(html).meta_description == expected


@pytest.mark.parametrize("html, expected", [
    ("<p>x</p>", None),
    ('<meta name="robots" content="NoIndex, NoFollow">', "noindex, nofollow"),
    ('<meta name="ROBOTS" content="noarchive"><meta name="googlebot" content="NOINDEX">', "noarchive, noindex"),
    ('<meta name="robots">', None),
    ('<meta name="bingbot" content="noindex">', None),
    ('<meta name="robots" content=""><meta name="robots" content="noindex">', "noindex"),
    ('<meta name="robots" content=" ">', ""),
])
def test_meta_robots(html, expected):
    assert run(html).meta_robots == expected


@pytest.mark.parametrize("html, expected", [
    ("<p>x</p>", None),
    ('<html lang="en"><p>x</p></html>', "en"),
    ('<html lang=" EN-us "><p>x</p></html>', "en-us"),
    ('<html lang=""><p>x</p></html>', ""),
])
def test_lang(html, expected):
    assert run(html).lang == expected


@pytest.mark.parametrize("html, expected", [
    ("<p>x</p>", None),
    ('<link rel="canonical" href="/ketamine">', "http://clinic.test/ketamine"),
    ('<link rel="Canonical" href="HTTP://Clinic.TEST:80/a#frag">', "http://clinic.test/a"),
    ('<link rel="alternate canonical" href="b">', "http://clinic.test/b"),
    ('<base href="/dir/"><link rel="canonical" href="c">', "http://clinic.test/dir/c"),
    ('<link rel="canonical" href="mailto:x@clinic.test">', None),
    ('<link rel="canonical" href="http://">', None),
    ('<link rel="canonical" href="http://other.test/x"><link rel="canonical" href="/y">', "http://other.test/x"),
    ('<link rel="canonicalish" href="/z">', None),
])
def test_canonical(html, expected):
    assert run(html).canonical == expected


# --- headings and anchors ---------------------------------------------------------------------

@pytest.mark.parametrize("html, h1, headings", [
    ("", [], []),
    ("<h1>Ketamine</h1><h2>How it <em>works</em></h2><h3>Risks</h3>",
     ["Ketamine"], ["h1 Ketamine", "h2 How it works", "h3 Risks"]),
    ("<h1>One</h1><h1> Two\n lines </h1>", ["One", "Two lines"], ["h1 One", "h1 Two lines"]),
    ("<h1></h1><h2> </h2>", [""], ["h1", "h2"]),
    ("<h2>Title<br>Subtitle</h2>", [], ["h2 Title Subtitle"]),
    ("<h1>A &amp; B</h1>", ["A & B"], ["h1 A & B"]),
])
def test_headings(html, h1, headings):
    page = run(html)
    assert (page.h1, page.headings) == (h1, headings)


@pytest.mark.parametrize("html, expected", [
    ("", []),
    ('<h2 id="risks">Risks</h2><a name="top"></a><div id="x"><span id="y"></span></div>', ["risks", "top", "x", "y"]),
    ('<a name="dup" id="dup"></a><p id="dup">again</p>', ["dup"]),
    ('<div id="">empty</div><div name="not-a">x</div>', []),
    ('<html id="root"><head><meta id="m"></head><body id="b"></body></html>', ["root", "m", "b"]),
])
def test_anchors(html, expected):
    assert run(html).anchors == expected


# --- links ------------------------------------------------------------------------------------

def link_rows(html: str, *keys: str) -> list[tuple]:
    return [tuple(link[k] for k in keys) for link in run(html).links]


@pytest.mark.parametrize("html, expected", [
    ("", []),
    ('<a href="/services">Services</a>', [("a", "/services", "http://clinic.test/services", "internal")]),
    ('<a>no href</a><a name="x">anchor</a>', []),
    ('<map><area href="/map" alt="Map"></map>', [("area", "/map", "http://clinic.test/map", "internal")]),
    ('<link rel="canonical" href="/c"><link rel="alternate" hreflang="de" href="/de/">'
     '<link rel="prev" href="/p1"><link rel="next" href="/p3"><link rel="amphtml" href="/amp">',
     [("link", "/c", "http://clinic.test/c", "internal"), ("link", "/de/", "http://clinic.test/de/", "internal"),
      ("link", "/p1", "http://clinic.test/p1", "internal"), ("link", "/p3", "http://clinic.test/p3", "internal"),
      ("link", "/amp", "http://clinic.test/amp", "internal")]),
    ('<link rel="stylesheet" href="/s.css"><link rel="alternate stylesheet" href="/t.css">'
     '<link rel="icon" href="/f.ico"><link href="/no-rel">', []),
    ('<img src="/a.png" alt="A">', [("img", "/a.png", "http://clinic.test/a.png", "internal")]),
    ('<img srcset="/small.jpg 480w, /large.jpg 1080w">', [("img", "/small.jpg", "http://clinic.test/small.jpg", "internal")]),
    ('<img srcset=" ,/c,d.jpg 1x, /e.jpg 2x">', [("img", "/c,d.jpg", "http://clinic.test/c,d.jpg", "internal")]),
    ('<img src="" srcset="/s.jpg 2x">', [("img", "/s.jpg", "http://clinic.test/s.jpg", "internal")]),
    ('<img src="">', [("img", "", None, "invalid")]),
    ('<img alt="no source">', []),
    ('<iframe src="https://video.test/embed/1"></iframe>', [("iframe", "https://video.test/embed/1", "https://video.test/embed/1", "external")]),
    ('<a href="mailto:info@clinic.test">Mail</a><a href="tel:+15551234">Call</a><a href="javascript:void(0)">JS</a>',
     [("a", "mailto:info@clinic.test", None, "unfetchable"), ("a", "tel:+15551234", None, "unfetchable"),
      ("a", "javascript:void(0)", None, "unfetchable")]),
    ('<a href="http://">bad</a>', [("a", "http://", None, "invalid")]),
    # urls.resolve raises on these; the page keeps them as invalid links.
    ('<a href="http://[::1">v6</a><a href="https://[a]/">bracket</a>',
     [("a", "http://[::1", None, "invalid"), ("a", "https://[a]/", None, "invalid")]),
    ('<a href="#top">Top</a>', [("a", "#top", URL, "internal")]),
    ('<a href="">Self</a>', [("a", "", URL, "internal")]),
    ('<a href="  /spaced  ">x</a>', [("a", "  /spaced  ", "http://clinic.test/spaced", "internal")]),
    ('<template><a href="/inert">x</a></template><noscript><a href="/ns">y</a></noscript>',
     [("a", "/ns", "http://clinic.test/ns", "internal")]),
])
def test_link_elements(html, expected):
    assert link_rows(html, "element", "href", "url", "target_type") == expected


def test_every_link_type_in_page_order():
    html = ('<html><head><link rel="canonical" href="/k"></head><body><a href="/a">A</a>'
            '<img src="/i.png"><iframe src="/f"></iframe><map><area href="/m"></map><a href="/b">B</a></body></html>')
    assert link_rows(html, "position", "element") == [
        (0, "link"), (1, "a"), (2, "img"), (3, "iframe"), (4, "area"), (5, "a")]


def test_link_fragment_and_invalid_reason():
    rows = link_rows('<a href="/ketamine#risks">Risks</a><a href="fax:123">Fax</a>', "url", "fragment", "invalid_reason")
    assert rows == [("http://clinic.test/ketamine", "risks", None), (None, None, "fax")]


@pytest.mark.parametrize("html, base_url", [
    ('<base href="http://cdn.test/dir/"><a href="page">x</a>', "http://cdn.test/dir/page"),
    ('<base href="/sub/"><a href="page">x</a>', "http://clinic.test/sub/page"),
    ('<base target="_blank"><base href="/second/"><a href="page">x</a>', "http://clinic.test/second/page"),
    ('<base href="/first/"><base href="/second/"><a href="page">x</a>', "http://clinic.test/first/page"),
    ('<base href="javascript:void(0)"><a href="page">x</a>', "http://clinic.test/a/page"),
    ('<a href="page">x</a>', "http://clinic.test/a/page"),
    ('<base href="../up/"><a href="/rooted">x</a>', "http://clinic.test/rooted"),
])
def test_base_href(html, base_url):
    assert run(html, "http://clinic.test/a/b").links[-1]["url"] == base_url


@pytest.mark.parametrize("html, expected", [
    ('<img src="/a.png">', (None, None)),
    ('<img src="/a.png" alt="">', ("", "")),
    ('<img src="/a.png" alt=" Ketamine  clinic ">', (" Ketamine  clinic ", "Ketamine clinic")),
])
def test_img_alt(html, expected):
    assert link_rows(html, "alt", "anchor_text") == [expected]


@pytest.mark.parametrize("html, expected", [
    ('<a href="/x">  Ketamine \n therapy </a>', "Ketamine therapy"),
    ('<a href="/x">Ke<em>tam</em>ine</a>', "Ketamine"),
    ('<a href="/x"><img src="/i.png" alt="Clinic logo"></a>', "Clinic logo"),
    ('<a href="/x"><img src="/i.png" alt=""><img src="/j.png" alt="Second"></a>', "Second"),
    ('<a href="/x" title="Home page"><img src="/i.png"></a>', "Home page"),
    ('<a href="/x" aria-label="Menu" title="t"><svg></svg></a>', "Menu"),
    ('<a href="/x"></a>', ""),
    ('<a href="/x"><div>Card title</div><p>card text</p></a>', "Card title card text"),
    ('<map><area href="/m" alt="Region"></map>', "Region"),
    ('<link rel="next" href="/p2">', None),
    ('<iframe src="/f" title="Booking form"></iframe>', "Booking form"),
])
def test_anchor_text(html, expected):
    assert link_rows(html, "anchor_text")[0] == (expected,)


@pytest.mark.parametrize("html, expected", [
    ('<a href="/x">x</a>', [False]),
    ('<a href="/x" rel="nofollow">x</a>', [True]),
    ('<a href="/x" rel="noopener NoFollow">x</a>', [True]),
    ('<a href="/x" rel="ugc">x</a><a href="/y" rel="sponsored">y</a><a href="/z" rel="noopener">z</a>', [True, True, False]),
    ('<meta name="robots" content="noindex, nofollow"><a href="/x">x</a><img src="/i.png">', [True, True]),
    ('<meta name="robots" content="none"><a href="/x">x</a>', [True]),
    ('<meta name="robots" content="noindex"><a href="/x">x</a>', [False]),
])
def test_nofollow(html, expected):
    assert [link["nofollow"] for link in run(html).links] == expected


def test_rel_is_kept_as_written():
    assert link_rows('<a href="/x" rel="NoFollow  noopener">x</a><a href="/y">y</a>', "rel") == [
        ("NoFollow  noopener",), (None,)]


@pytest.mark.parametrize("html, expected", [
    # (link element, block text or None)
    ('<p>See <a href="/x">the guide</a> now.</p>', [("a", "See the guide now.")]),
    ('<head><link rel="next" href="/2"></head><p>x</p>', [("link", None)]),
    ('<div><a href="/x"><img src="/i.png"></a></div><p>Later text</p>', [("a", None), ("img", None)]),
    ('<p>Text <img src="/i.png" alt="i"> more</p>', [("img", "Text more")]),
    ('<a href="/1"><div>Card title</div><p>card text</p></a>', [("a", "Card title")]),
    ('<nav><a href="/">Home</a> <a href="/b">Blog</a></nav>', [("a", "Home Blog"), ("a", "Home Blog")]),
    # (In <body>: a <noscript> opening the document is read as part of <head>, as browsers do.)
    ('<body><noscript><a href="/ns">y</a></noscript><p>z</p>', [("a", None)]),
])
def test_link_block(html, expected):
    page = run(html)
    got = [(link["element"], page.blocks[link["block_index"]]["text"] if link["block_index"] is not None else None)
           for link in page.links]
    assert got == expected


def test_ten_thousand_links():
    items = "".join(f'<li><a href="/page-{i}">Page {i}</a></li>' for i in range(10_000))
    page = run(f"<html><body><main><p>List of pages</p><ul>{items}</ul></main></body></html>")
    assert len(page.links) == 10_000
    assert [link["position"] for link in page.links] == list(range(10_000))
    assert page.links[-1]["url"] == "http://clinic.test/page-9999"
    assert all(link["block_index"] is not None for link in page.links)


# --- blocks and roles -------------------------------------------------------------------------

@pytest.mark.parametrize("html, expected", [
    ("", []),
    ("just some text", [("main", "just some text")]),
    ("<nav><ul><li><a href='/'>Home</a></li><li><a href='/a'>About</a></li></ul></nav><p>Body text.</p>",
     [("nav", "Home About"), ("main", "Body text.")]),
    ("<header><h1>Clinic</h1><p>Call us</p></header><main><p>Body.</p></main>",
     [("header", "Clinic Call us"), ("main", "Body.")]),
    ("<header><div>Logo</div><nav><a href='/'>Home</a></nav><div>Call us</div></header>",
     [("header", "Logo"), ("nav", "Home"), ("header", "Call us")]),
    ("<footer><p>Clinic Street 1</p><nav><a href='/privacy'>Privacy</a></nav></footer>",
     [("footer", "Clinic Street 1"), ("nav", "Privacy")]),
    ("<article><header><h1>Title</h1></header><p>Para.</p><footer>Tags: ketamine</footer></article>",
     [("main", "Title"), ("main", "Para."), ("main", "Tags: ketamine")]),
    ("<main><header>Post header</header><p>Body.</p></main><footer><p>Site</p><p>footer</p></footer>",
     [("main", "Post header"), ("main", "Body."), ("footer", "Site footer")]),
    ("<main><p>Body.</p></main><aside><h3>Related</h3><p>Side text</p></aside>",
     [("main", "Body."), ("aside", "Related Side text")]),
    ("<article><p>Body.</p><aside>Pull quote</aside></article>", [("main", "Body."), ("aside", "Pull quote")]),
    ("<div role='navigation'>Menu</div><div role='banner'>Banner</div><div role='main'><p>Body.</p></div>"
     "<div role='complementary'>Side</div><div role='contentinfo'>Foot</div>",
     [("nav", "Menu"), ("header", "Banner"), ("main", "Body."), ("aside", "Side"), ("footer", "Foot")]),
    ("<article><div role='banner'>Explicit banner</div><p>Body.</p></article>",
     [("header", "Explicit banner"), ("main", "Body.")]),
    ("<main><p>Body.</p></main><div>Cookie notice</div>", [("main", "Body."), ("other", "Cookie notice")]),
    ("<div>Lead text <p>para</p> tail text</div>", [("main", "Lead text"), ("main", "para"), ("main", "tail text")]),
    ("<main></main><p>Real text outside an empty main.</p>", [("main", "Real text outside an empty main.")]),
])
def test_landmark_roles(html, expected):
    assert roles(html) == expected


@pytest.mark.parametrize("html, expected", [
    ('<div id="header">Logo</div><div class="main-nav">Home About</div><div class="content"><p>Body.</p></div>'
     '<div class="site-footer">Copyright</div>',
     [("header", "Logo"), ("nav", "Home About"), ("main", "Body."), ("footer", "Copyright")]),
    ('<div class="breadcrumb">Home › Blog</div><div id="masthead">Clinic</div><div class="sidebar">Side</div>',
     [("nav", "Home › Blog"), ("header", "Clinic"), ("aside", "Side")]),
    ('<div class="siteFooter">camelCase footer</div><div class="widget_recent_entries">Recent</div>',
     [("footer", "camelCase footer"), ("aside", "Recent")]),
    ('<ul class="menu"><li>Home</li></ul><div id="secondary">Widgets</div><div class="related-posts">Related</div>',
     [("nav", "Home"), ("aside", "Widgets"), ("aside", "Related")]),
    # Whole tokens only: "navy" is not nav, "headerless" is not header, "asides" is not aside.
    ('<div class="navy">Navy blue things</div><div class="headerless">No header</div><div class="asides">A</div>',
     [("main", "Navy blue things"), ("main", "No header"), ("main", "A")]),
    # Hints on non-containers describe something else.
    ('<p class="footer-note">A note</p><li class="menu-item">Item</li>',
     [("main", "A note"), ("main", "Item")]),
    # A "header" hint inside an article is part of it, like <header>.
    ('<article><div class="entry-header">Post title</div><p>Body.</p></article>',
     [("main", "Post title"), ("main", "Body.")]),
    # A wrapper whose name mentions a sidebar but that holds the content is not a sidebar.
    ('<div class="content-sidebar-wrap"><div class="content"><h1>T</h1><p>Body.</p></div>'
     '<div class="sidebar"><p>Side</p></div></div>',
     [("main", "T"), ("main", "Body."), ("aside", "Side")]),
    ('<div class="page-header"><h1>Ketamine</h1></div><p>Body text.</p>', [("main", "Ketamine"), ("main", "Body text.")]),
    # A main hint beside a detail word names a detail, not the content region.
    ('<div class="post-meta">Posted by admin</div><div>Body text of the page.</div>',
     [("other", "Posted by admin"), ("main", "Body text of the page.")]),
    # A sidebar listing posts is still a sidebar; a wrapper around the content region is not.
    ('<div id="sidebar"><div class="post">Recent post</div></div><main><p>Body.</p></main>',
     [("aside", "Recent post"), ("main", "Body.")]),
    ('<div class="main-sidebar-wrap"><div id="content"><p>Body.</p></div><div class="widget">W</div></div>',
     [("main", "Body."), ("aside", "W")]),
    # Semantic tags win over hints.
    ('<nav class="content">Menu</nav><aside class="main">Side</aside>', [("nav", "Menu"), ("aside", "Side")]),
])
def test_class_hint_roles(html, expected):
    assert roles(html) == expected


def test_small_hinted_main_region_does_not_make_the_rest_other():
    # A tiny "content" div beside the real text is a mislabel: the unlabelled text stays main.
    body = "Ketamine therapy helps people with depression that resisted other treatment. " * 5
    assert roles(f'<div class="content">Share</div><div><p>{body}</p></div>') == [
        ("main", "Share"), ("main", body.strip())]


BODY = "Ketamine therapy helps people whose depression resisted other treatment. " * 5


@pytest.mark.parametrize("html, expected", [
    # <main> always marks the main region, however short: the text around it is other.
    (f"<main><p>Short.</p></main><div><p>{BODY}</p></div>", [("main", "Short."), ("other", BODY.strip())]),
    # A lone short <article> (a card, a widget) beside the real text does not.
    (f"<article><p>Card.</p></article><div><p>{BODY}</p></div>", [("main", "Card."), ("main", BODY.strip())]),
    (f"<article><p>{BODY}</p></article><div><p>Cookie notice.</p></div>", [("main", BODY.strip()), ("other", "Cookie notice.")]),
])
def test_weak_main_regions(html, expected):
    assert roles(html) == expected


@pytest.mark.parametrize("url", ["", "not a url", "mailto:x@clinic.test", "http://[::1", "http://clinic.test"])
def test_odd_page_urls(url):
    page = extract('<base href="x/"><a href="/a">a</a> <a href="b">b</a><p>Text</p>', url, HOSTS)
    assert len(page.links) == 2 and page.word_count == 3


@pytest.mark.parametrize("html, expected", [
    # Without a main region, link-dense unlabelled blocks are other.
    ("<p>Some unlabelled text here.</p><ul><li><a href='/1'>One</a></li><li><a href='/2'>Two long</a></li></ul>",
     [("main", "Some unlabelled text here."), ("other", "One"), ("other", "Two long")]),
    ("<div><a href='/a'>Alpha</a> | <a href='/b'>Beta</a> | <a href='/c'>Gamma</a></div>",
     [("other", "Alpha | Beta | Gamma")]),
    ("<p>A paragraph with <a href='/a'>one link</a> in its text.</p>", [("main", "A paragraph with one link in its text.")]),
    # Inside main, a list of links is other; a paragraph that is a link stays main.
    ("<main><p>Intro.</p><ul><li><a href='/r1'>Related one</a></li><li><a href='/r2'>Related two</a></li></ul>"
     "<p><a href='/cta'>Book a consultation</a></p><ul><li>Plain item</li></ul></main>",
     [("main", "Intro."), ("other", "Related one"), ("other", "Related two"),
      ("main", "Book a consultation"), ("main", "Plain item")]),
])
def test_link_dense_blocks(html, expected):
    assert roles(html) == expected


@pytest.mark.parametrize("html, expected", [
    # A data row is one block; a layout row (cells holding paragraphs or breaks) splits by cell.
    ("<table><tr><th>Dose</th><th>Effect</th></tr><tr><td>0.5 mg</td><td>Relief</td></tr></table>",
     [("main", "Dose Effect"), ("main", "0.5 mg Relief")]),
    ("<table><tr><td><p>Layout cell</p></td><td>Cell two<br>second line</td></tr></table>",
     [("main", "Layout cell"), ("main", "Cell two second line")]),
    ("<p>Hello <script>var x = 1;</script>world<style>p{}</style><noscript>Enable JS</noscript>"
     "<template><p>tpl</p></template><svg><text>svg</text></svg><iframe src='/f'>frame</iframe>"
     "<select><option>Spain</option></select></p>", [("main", "Hello world")]),
    ("<head><title>T</title><meta name=description content=d></head><body><p>Body</p></body>", [("main", "Body")]),
    ("<p>Ke<b>tam</b>ine and <span>TMS</span></p><p>Line<br>break</p>", [("main", "Ketamine and TMS"), ("main", "Line break")]),
    ("<ul><li>one</li><li>two <ul><li>nested</li></ul> after</li></ul>",
     [("main", "one"), ("main", "two"), ("main", "nested"), ("main", "after")]),
    ("<blockquote>Quote</blockquote><pre>code  block</pre><dl><dt>Term</dt><dd>Def</dd></dl><figure><img src=x>"
     "<figcaption>Caption</figcaption></figure>",
     [("main", "Quote"), ("main", "code block"), ("main", "Term"), ("main", "Def"), ("main", "Caption")]),
    ("<p>x</p></html><p>after the end tag</p>", [("main", "x"), ("main", "after the end tag")]),
])
def test_block_split(html, expected):
    assert roles(html) == expected


@pytest.mark.parametrize("html, expected", [
    ("<p>x</p>", ["body>p"]),
    ('<div class="sidebar widget"><ul><li>x</li></ul></div>', ["body>div.sidebar"]),
    ('<div id="main"><div class="a b"><section><div><div><p>deep</p></div></div></section></div></div>',
     ["div.a>section>div>div>p"]),
    ('<main id="m"><p>x</p></main>', ["body>main#m>p"]),
])
def test_block_path(html, expected):
    assert [b["path"] for b in run(html).blocks] == expected


# --- teasers ----------------------------------------------------------------------------------

def test_seed_teasers_around_the_article():
    page = run(SEED)
    teasers = [(b["text"], b["link_url"]) for b in page.blocks if b["role"] == "teaser"]
    assert teasers == [
        ("Few fragrance ingredients carry the mystique, depth, and global prestige...Read More", BLOG + "/oud-fragrance"),
        ("Oud perfume has become one of the most sought-after fragrance...Read More", BLOG + "/oud-perfume"),
        ("As building designs become more ambitious and city skylines continue...Read More", BLOG + "/skyscrapers"),
        ("As buildings grow taller, denser, and more complex, effective vertical-transportation...Read More",
         BLOG + "/elevators"),
    ]
    main = [b["text"] for b in page.blocks if b["role"] == "main"]
    assert main[0] == "Ketamine therapy for depression"
    assert len(main) == 5 and all("Read More" not in text for text in main)
    assert [b["role"] for b in page.blocks][:2] == ["nav", "teaser"]  # the header holds only its menu
    assert page.blocks[-1]["role"] == "footer"
    read_more = [link for link in page.links if link["anchor_text"] == "Read More"]
    assert [link["block_role"] for link in read_more] == ["teaser"] * 4
    assert page.main_words == sum(b["word_count"] for b in page.blocks if b["role"] == "main")


@pytest.mark.parametrize("link_text, is_teaser", [
    ("Read More", True), ("read more »", True), ("READ MORE...", True), ("[Read more]", True),
    ("Continue reading", True), ("Continue reading Oud Perfume Guide →", True), ("Keep reading", True),
    ("Learn more", True), ("More", True), ("more…", True), ("»", True), ("→", True),
    ("Read the full story", True), ("Read full article", True), ("View post", True),
    ("Weiterlesen", True), ("Lire la suite", True), ("Leer más", True), ("Leggi tutto", True),
    ("More than 50 clinics", False), ("Readmore", False), ("Home", False), ("Book now", False),
    ("Next »", False), ("", False),
])
def test_read_more_patterns(link_text, is_teaser):
    html = f'<p>An excerpt with enough words in it <a href="/post">{link_text}</a></p><p>Body.</p>'
    assert (roles(html)[0][0] == "teaser") is is_teaser


@pytest.mark.parametrize("html, expected", [
    # An excerpt that ends in an ellipsis right before a link, whatever the link says.
    ('<p>Excerpt words go right here… <a href="/guide">Oud perfume guide</a></p>', "teaser"),
    ('<p>Excerpt words go right here [...] <a href="/guide">Guide</a></p>', "teaser"),
    ('<div><p>Excerpt words go right here...</p><a href="/guide">Guide</a></div>', "teaser"),
    ('<p>Excerpt words go right here. <a href="/guide">Guide</a></p>', "main"),
    # A read-more to this very page, or to a fragment of it, advertises nothing else.
    ('<p>Some excerpt of the page... <a href="#top">Read more</a></p>', "main"),
    ('<p>Other excerpt here for you <a href="/ketamine">Read more</a></p>', "main"),
    ('<p>Excerpt here for you <a href="mailto:a@b.c">Read more</a></p>', "main"),
    # Too little excerpt: a bare read-more link in a list is not a teaser.
    ('<ul><li><a href="/post">Read more</a></li></ul>', "other"),
])
def test_teaser_triggers(html, expected):
    assert roles(html)[0][0] == expected


def test_teaser_container_is_the_largest_short_one():
    html = ('<div class="card"><img src="/t.jpg"><h3>Oud perfume</h3><p>Oud perfume has become one of the most '
            'sought-after fragrance notes.</p><a class="btn" href="/oud">Read more</a></div>'
            '<div class="card"><h3>Lifts</h3><p>As buildings grow taller, lifts matter more.</p>'
            '<p><a href="/lifts">Read more</a></p></div>')
    assert [(b["role"], b["text"], b["path"], b["link_url"]) for b in run(html).blocks] == [
        ("teaser", "Oud perfume Oud perfume has become one of the most sought-after fragrance notes. Read more",
         "body>div.card", "http://clinic.test/oud"),
        ("teaser", "Lifts As buildings grow taller, lifts matter more. Read more", "body>div.card",
         "http://clinic.test/lifts"),
    ]


def test_long_container_is_not_a_teaser():
    long_text = "word " * 100
    html = f'<div><p>{long_text}</p><p>Short excerpt of another post... <a href="/x">Read more</a></p></div>'
    assert roles(html) == [("main", long_text.strip()), ("teaser", "Short excerpt of another post... Read more")]


@pytest.mark.parametrize("html, expected", [
    # A teaser in a sidebar is a teaser block of its own; the rest of the aside stays aside.
    ('<main><p>Body.</p></main><aside><h3>Recent posts</h3><div><p>Few fragrance ingredients carry the mystique...'
     f'<a href="{BLOG}/oud">Read More</a></p></div><p>Other aside text</p></aside>',
     [("main", "Body."), ("aside", "Recent posts"), ("teaser", "Few fragrance ingredients carry the mystique...Read More"),
      ("aside", "Other aside text")]),
    ('<footer><p>Skyscrapers and lifts in the modern city...<a href="/s">Read More</a></p><p>© 2024</p></footer>',
     [("teaser", "Skyscrapers and lifts in the modern city...Read More"), ("footer", "© 2024")]),
    # In a menu, "More" is navigation.
    ('<nav><ul><li><a href="/">Home</a></li><li>Excerpt of some words here... <a href="/more">More</a></li></ul></nav>',
     [("nav", "Home Excerpt of some words here... More")]),
    # Inside main the teaser wins over main.
    ('<main><p>Body text.</p><p>Excerpt of a fragrance post here...<a href="/f">Read More</a></p></main>',
     [("main", "Body text."), ("teaser", "Excerpt of a fragrance post here...Read More")]),
])
def test_teaser_inside_landmarks(html, expected):
    assert roles(html) == expected


LISTING = """<main><h1>Blog</h1>
<article class="card"><h2><a href="/oud#top">Oud perfume guide</a></h2><p>Oud perfume has become one of the most
sought-after notes.</p><p class="meta">May 2024</p></article>
<article class="card"><h2><a href="/lifts">Skyscraper lifts</a></h2><p>As buildings grow taller, lifts matter
more than ever.</p></article>
<li><h3><a href="/tms">TMS</a></h3> Magnetic stimulation for depression that resisted medication.</li>
</main>"""


def test_listing_page_cards():
    page = run(LISTING)
    assert [(b["role"], b["link_url"]) for b in page.blocks] == [
        ("main", None), ("teaser", "http://clinic.test/oud"), ("teaser", "http://clinic.test/lifts"),
        ("teaser", "http://clinic.test/tms")]
    assert page.blocks[1]["text"] == ("Oud perfume guide Oud perfume has become one of the most sought-after notes. "
                                      "May 2024")


@pytest.mark.parametrize("html", [
    # One card is a section with a linked heading, not a listing.
    '<main><div class="card"><h2><a href="/p1">One</a></h2><p>Only one card on this page here.</p></div></main>',
    # Headings without links, or linking to this page, are not cards.
    '<main><div><h2>One</h2><p>Text of the first section here.</p></div>'
    '<div><h2>Two</h2><p>Text of the second section here.</p></div></main>',
    '<main><div><h2><a href="#a">One</a></h2><p>Text of the first section here.</p></div>'
    '<div><h2><a href="#b">Two</a></h2><p>Text of the second section here.</p></div></main>',
])
def test_not_cards(html):
    assert "teaser" not in [role for role, _ in roles(html)]


# --- words and hashes -------------------------------------------------------------------------

@pytest.mark.parametrize("html, words", [
    ("", 0),
    ("<p>Ketamine therapy works.</p>", 3),
    ("<p>Ketamine’s long-term, well-studied effects</p>", 4),
    ("<p>— • | ... ?</p>", 0),
    ("<p>Лечение депрессии кетамином</p>", 3),
    ("<p>Η θεραπεία με κεταμίνη</p>", 4),
    ("<p>علاج الاكتئاب بالكيتامين</p>", 3),
    ("<p>日本語のテキスト と 中文</p>", 3),
    ("<p>Café naïve coöperate</p>", 3),
])
def test_word_count(html, words):
    assert run(html).word_count == words


def test_non_latin_blocks_keep_their_text():
    page = run('<html lang="ru"><nav>Главная</nav><main><p>Кетамин помогает при депрессии.</p></main></html>')
    assert roles('<nav>Главная</nav><main><p>Кетамин помогает при депрессии.</p></main>') == [
        ("nav", "Главная"), ("main", "Кетамин помогает при депрессии.")]
    assert (page.lang, page.main_words) == ("ru", 4)


@pytest.mark.parametrize("a, b, same", [
    ("Ketamine therapy", "Ketamine therapy", True),
    ("Ketamine therapy", "  KETAMINE \n therapy ", True),
    ("Ketamine therapy", "Ketamine therapies", False),
    ("", " ", True),
])
def test_text_hash_normalises(a, b, same):
    assert (text_hash(a) == text_hash(b)) is same
    assert 0 <= text_hash(a) < 2**63


def test_text_hash_is_stable_across_processes():
    code = "from crawler.extract import text_hash; print(text_hash('Few fragrance ingredients...Read More'))"
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}, cwd=os.path.dirname(os.path.dirname(__file__))
                           ).stdout.strip() for seed in ("1", "2")}
    assert seen == {str(text_hash("Few fragrance ingredients...Read More"))}
    assert text_hash("Few fragrance ingredients...Read More") == 4265505656296417029


def test_extract_is_deterministic():
    assert run(SEED) == run(SEED)
    assert run(LISTING) == run(LISTING)


def test_block_hash_matches_text_hash():
    page = run(SEED)
    assert all(b["text_hash"] == text_hash(b["text"]) for b in page.blocks)


def test_site_hosts_may_be_a_set():
    assert extract('<a href="/x">x</a>', URL, {"clinic.test:80"}).links[0]["target_type"] == "internal"
