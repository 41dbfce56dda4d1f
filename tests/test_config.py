"""Config files and option errors: one place validates them, with messages that name the fix."""

import pytest
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

from crawler.config import ConfigError, Options, apply_overrides, load_config
from crawler.middlewares import retry_after_seconds
from crawler.spider import describe_failure


def write(tmp_path, text):
    p = tmp_path / "audit.toml"
    p.write_text(text)
    return p


def test_defaults_without_a_file():
    o = load_config(None)
    assert (o.max_pages, o.readability.target_grade, o.links.external_cache_days) == (10_000, 8.0, 7.0)


def test_sections_and_severity_overrides(tmp_path):
    o = load_config(write(tmp_path, 'max_pages = 5\n[readability]\ntarget_grade = 6\n'
                                    '[severity]\nredirected_link = "warning"\n'))
    assert o.max_pages == 5 and o.readability.target_grade == 6.0
    assert o.severity == {"redirected_link": "warning"}


@pytest.mark.parametrize("text, message", [
    ("max_pagse = 5\n", "unknown option max_pagse (did you mean max_pages?)"),
    ("[readability]\ntarget_grad = 5\n", "unknown option readability.target_grad (did you mean readability.target_grade?)"),
    ("max_pages = 'ten'\n", "option max_pages must be a whole number"),
    ("no_external = 1\n", "option no_external must be true or false"),
    ("max_pages = \n", "is not valid TOML"),
    ("[severity]\nbroken_link = 'fatal'\n", "use one of error, warning, notice"),
    ("fail_on = 'notice'\n", "fail_on must be error or warning"),
])
def test_bad_config_names_the_fix(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert message in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_command_line_wins_over_file(tmp_path):
    o = load_config(write(tmp_path, "max_pages = 5\nconcurrency = 2\n"))
    o = apply_overrides(o, {"max_pages": 9, "concurrency": None})
    assert (o.max_pages, o.concurrency) == (9, 2)


@pytest.mark.parametrize("value, seconds", [
    (b"7", 7.0), ("12", 12.0), (None, 5.0), (b"soon", 5.0), (b"Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after(value, seconds):
    assert retry_after_seconds(value) == seconds


def test_unknown_host_is_a_dns_error():
    # Resolving a made-up name would send a query off the machine, so the mapping is tested here.
    failure = Failure(DNSLookupError("nothing-here.invalid"))
    assert describe_failure(failure) == ("error", "DNS lookup failed")


def test_options_are_plain_data():
    assert Options().links.retry_times == 2
