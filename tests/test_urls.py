"""URL rules as tables of (input, expected)."""

import pytest

from crawler.urls import host_key, normalize, resolve, strip_tracking, trap_reason, url_shape

BASE = "http://clinic.test/dir/page.html"
HOSTS = frozenset({"clinic.test:80", "blog.test:8080"})


@pytest.mark.parametrize("href, url, fragment, kind", [
    ("", BASE, None, "internal"),
    ("#", BASE, None, "internal"),
    ("#top", BASE, "top", "internal"),
    ("/a b", "http://clinic.test/a%20b", None, "internal"),
    ("HTTP://CLINIC.TEST/Q", "http://clinic.test/Q", None, "internal"),
    ("//blog.test:8080/x", "http://blog.test:8080/x", None, "internal"),
    ("//blog.test/x", "http://blog.test/x", None, "external"),
    ("../../../../x", "http://clinic.test/x", None, "internal"),
    ("http://clinic.test:80/", "http://clinic.test/", None, "internal"),
    ("http://bücher.example/ü", "http://xn--bcher-kva.example/%C3%BC", None, "external"),
    ("  /padded  ", "http://clinic.test/padded", None, "internal"),
    ("/x?utm_source=a#f", "http://clinic.test/x?utm_source=a", "f", "internal"),
])
def test_resolve_fetchable(href, url, fragment, kind):
    r = resolve(href, BASE, HOSTS)
    assert (r.url, r.fragment, r.target_type) == (url, fragment, kind)


@pytest.mark.parametrize("href, kind, reason", [
    ("mailto:a@b.test", "unfetchable", "mailto"),
    ("tel:+1555", "unfetchable", "tel"),
    ("javascript:void(0)", "unfetchable", "javascript"),
    ("data:text/plain,hi", "unfetchable", "data"),
    ("http://", "invalid", "invalid URL: no host after the scheme"),
    ("http://clinic.test:99999/", "invalid", None),
    ("http://exa mple.test/", "invalid", None),
    (None, "invalid", "no href"),
])
def test_resolve_not_fetchable(href, kind, reason):
    r = resolve(href, BASE, HOSTS)
    assert r.url is None and r.target_type == kind
    if reason:
        assert r.invalid_reason == reason
    else:
        assert r.invalid_reason.startswith("invalid URL")


@pytest.mark.parametrize("url, expected", [
    ("http://a.test/x?utm_source=n&id=2", "http://a.test/x?id=2"),
    ("http://a.test/x?sid=1", "http://a.test/x"),
    ("http://a.test/x;jsessionid=ABC?q=1", "http://a.test/x?q=1"),
    ("http://a.test/x?PHPSESSID=z&b=2&gclid=3", "http://a.test/x?b=2"),
    ("http://a.test/x?id=2", "http://a.test/x?id=2"),
    ("http://a.test/x", "http://a.test/x"),
])
def test_strip_tracking(url, expected):
    assert strip_tracking(url) == expected


@pytest.mark.parametrize("url, expected", [
    ("http://a.test/cal/2026/11?month=3&y=2", "http://a.test/cal/{n}/{n}?month=*&y=*"),
    ("http://a.test/post/slug", "http://a.test/post/slug"),
])
def test_url_shape(url, expected):
    assert url_shape(url) == expected


@pytest.mark.parametrize("url, reason", [
    ("http://a.test/x?" + "a" * 301, "query longer than 300 characters"),
    ("http://a.test/" + "/".join(str(i) for i in range(21)), "path deeper than 20 segments"),
    ("http://a.test/a/b/a/b/a/", "path segment 'a' repeats"),
    ("http://a.test/a/b/c", None),
])
def test_trap_reason(url, reason):
    assert trap_reason(url, 300, 20) == reason


@pytest.mark.parametrize("url, key", [
    ("http://A.test/", "a.test:80"), ("https://a.test/", "a.test:443"), ("http://a.test:8080/", "a.test:8080"),
])
def test_host_key(url, key):
    assert host_key(url) == key


def test_normalize_rejects_other_schemes():
    with pytest.raises(ValueError):
        normalize("ftp://a.test/")
