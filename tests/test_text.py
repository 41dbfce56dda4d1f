"""The text rules of crawler/text.py, as tables of cases."""

from __future__ import annotations

import unicodedata

import pytest

from crawler import text

# --- words, per purpose ----------------------------------------------------------------------------

@pytest.mark.parametrize("sample, words", [
    ("", 0),
    ("Call us today.", 3),
    ("Don't wait: book a follow-up visit", 6),            # inner apostrophe and hyphen: one word
    ("It’s the patient’s choice", 4),                     # typographic apostrophe
    ("Open 9-5, Mon–Fri", 4),                             # an en dash separates words
    ("—  …  !!", 0),                                      # punctuation alone is no word
    ("Thérapie für Ängste", 3),                           # any script's letters
    ("2025 was year 3", 4),                               # numbers are words of page text
    ("-- re-'check' --x 'a- __ a_b", 5),                  # ASCII: runs of \w, ' and - holding a \w
    ("snake_case\tand\nmore words", 4),
])
def test_count_words(sample, words):
    assert text.count_words(sample) == words
    assert text.has_word(sample) is (words > 0)


@pytest.mark.parametrize("sample, shingles", [
    ("Book a Visit", ["book", "a", "visit"]),
    ("Don't wait", ["don", "t", "wait"]),                 # \w+ runs: near-duplicates compare runs
    ("Ketamine-assisted therapy", ["ketamine", "assisted", "therapy"]),
])
def test_shingle_words(sample, shingles):
    assert text.shingle_words(sample) == shingles


@pytest.mark.parametrize("sample, graded", [
    ("Call us, today!", ["Call", "us", "today"]),         # punctuation dropped, as textstat does
    ("Don't wait", ["Don't", "wait"]),                    # a contraction stays one word
    ("the 'quoted' word", ["the", "quoted", "word"]),     # quote marks are no part of a word
])
def test_graded_words(sample, graded):
    assert text.graded_words(sample) == graded


# --- collapse, clean-up, hashes ----------------------------------------------------------------------

@pytest.mark.parametrize("raw, cleaned", [
    ("  two\n\tlines  ", "two lines"),
    ("thera\u00adpy", "therapy"),                          # soft hyphen
    ("zero\u200bwidth", "zerowidth"),                      # zero-width space
    ("\ufeffBOM first", "BOM first"),
    ("join\u200c\u200dand\u2060glue", "joinandglue"),             # zero-width (non-)joiner, word joiner
    ("cafe\u0301", "café"),                                # decomposed é becomes one character
    ("no\u00a0break\u2003space", "no break space"),        # Unicode spaces collapse
])
def test_clean(raw, cleaned):
    assert text.clean(raw) == cleaned
    assert unicodedata.is_normalized("NFC", text.clean(raw))


def test_collapse_keeps_invisible_characters_that_clean_drops():
    assert text.collapse(" a\u00ad b ") == "a\u00ad b"


@pytest.mark.parametrize("a, b, same", [
    ("Read more about TMS", "read  more about\ntms", True),   # case and whitespace do not matter
    ("Read more about TMS", "Read more about ECT", False),
])
def test_text_hash(a, b, same):
    assert (text.text_hash(a) == text.text_hash(b)) is same
    assert 0 <= text.text_hash(a) < 2 ** 63                    # fits DuckDB's BIGINT


# --- read-more labels --------------------------------------------------------------------------------

@pytest.mark.parametrize("label, is_label", [
    ("Read more", True),
    ("Read More…", True),
    ("[more]", True),
    ("»", True),
    ("Continue reading Oud perfume guide", True),           # the phrase may name the post
    ("Weiterlesen", True),
    ("Lire la suite", True),
    ("More than 50 clinics", False),                        # a bare "more" may not go on
    ("Book a visit", False),
    ("click here", False),                                  # too common in prose to mark a teaser
])
def test_is_read_more(label, is_label):
    assert text.is_read_more(label) is is_label


@pytest.mark.parametrize("teaser, subject", [
    ("Oud perfume secrets… Read More", "Oud perfume secrets…"),
    ("Learn more about skyscrapers", "about skyscrapers"),
    ("Elevators, click here", "Elevators,"),
])
def test_strip_read_more(teaser, subject):
    assert text.collapse(text.strip_read_more(teaser)) == subject


# --- language ----------------------------------------------------------------------------------------

ENGLISH = ("many people feel low when the days get short and they sleep more than they would "
           "in the summer because the light is weaker").split()
GERMAN = ("viele menschen fühlen sich niedergeschlagen wenn die tage kürzer werden und sie "
          "schlafen mehr als im sommer weil das licht schwächer ist").split()


@pytest.mark.parametrize("words, english", [
    (ENGLISH, True),
    (GERMAN, False),
    (ENGLISH[:10], None),                                   # too few words to tell
    ([], None),
])
def test_reads_as_english(words, english):
    assert text.reads_as_english(words) is english


def test_english_share_samples_the_first_words_only():
    share, sampled = text.english_share(["the"] * 5000)
    assert (share, sampled) == (1.0, text.ENGLISH_SAMPLE_WORDS)


# --- datelines ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("block, dateline", [
    ("March 14, 2025", True),
    ("Published January 9, 2025", True),
    ("Posted on 14 March 2025", True),
    ("Updated: 2025-03-14", True),
    ("January 10, 2025 at 7:14 am", True),
    ("Tue, 4 Feb 2025", True),
    ("14.03.2025", True),
    ("On March 14, 2025 the clinic opened a second office.", False),   # a sentence with a date
    ("Call us in March", False),
])
def test_is_dateline(block, dateline):
    assert text.is_dateline(block) is dateline
