"""The one home of text rules: what a word is (one function per purpose), whitespace collapse and
clean-up, content hashes, the read-more phrases of teasers, and the "does it read as English?" test."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from typing import Iterable

# --- words, named for what counts them ------------------------------------------------------------

# A word of page text: a run of letters or digits in any script, with inner apostrophes and
# hyphens ("don't", "follow-up"); a CJK run without spaces is one word.
WORD = re.compile(r"\w[\w'’-]*")
# Topic models only see words of three letters or more: numbers and "of" say nothing of a topic.
TOPIC_TOKEN_PATTERN = r"(?u)\b[^\W\d_]{3,}\b"
_SHINGLE_WORD = re.compile(r"\w+")
_NONCONTRACTION_APOSTROPHE = re.compile(r"'(?!(?:[tsd]|ve|ll|re))")
_PUNCTUATION = re.compile(r"[^\w\s']")


# ASCII text counted without the regex: each maximal run of \w, ' and - holding a \w is one WORD
# match, so deleting ' and - and splitting on everything else that is not \w counts the same.
_ASCII_WORD_BYTES = bytes(c if chr(c).isalnum() or c == 95 else 32 for c in range(128)) + b" " * 128


def count_words(text: str) -> int:
    """Words of page text (blocks' word_count, main_words, thin content): WORD matches."""
    if text.isascii():
        return len(text.encode().translate(_ASCII_WORD_BYTES, b"'-").split())
    return len(WORD.findall(text))


def has_word(text: str | None) -> bool:
    """Whether the text holds one word of page text (WORD) at least."""
    return bool(text) and WORD.search(text) is not None


def shingle_words(text: str) -> list[str]:
    """Lower-cased \\w+ runs, the units of near-duplicate shingles (onpage)."""
    return _SHINGLE_WORD.findall(text.lower())


def graded_words(text: str) -> list[str]:
    """The words of a text as textstat's lexicon_count sees them (punctuation dropped): what
    readability counts per sentence, so its figures agree with textstat's."""
    text = _NONCONTRACTION_APOSTROPHE.sub("", text)
    return _PUNCTUATION.sub("", text).split()


# --- whitespace, clean-up and hashes ---------------------------------------------------------------

# Characters that render as nothing: soft hyphen, zero-width space/joiners, word joiner, BOM.
INVISIBLE_CHARS = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE_CHARS))
_has_invisible = re.compile(f"[{INVISIBLE_CHARS}]").search


def collapse(text: str) -> str:
    """Whitespace runs (any Unicode space) become one space, ends trimmed: how every block and
    label of page text is stored."""
    return " ".join(text.split())


def clean(text: str) -> str:
    """Page text as a reader sees it: invisible characters (soft hyphens, zero-width spaces)
    dropped, Unicode NFC (so "é" is one character however the page wrote it), collapsed."""
    if not text.isascii():
        # str.translate walks the text in Python-level steps: only when there is one to drop.
        if _has_invisible(text):
            text = text.translate(_INVISIBLE)
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def hash_collapsed(collapsed: str) -> int:
    """63-bit hash of already collapsed text, case-insensitive, the same in every process."""
    digest = hashlib.blake2b(collapsed.lower().encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def text_hash(text: str) -> int:
    """63-bit hash of lower-cased, whitespace-collapsed text: blocks' text_hash, which finds the
    same block on several pages (boilerplate, teasers)."""
    return hash_collapsed(collapse(text))


# --- read-more labels ----------------------------------------------------------------------------

READ_MORE_PHRASES = (
    r"read\s+more|continue\s+reading|keep\s+reading|learn\s+more|see\s+more|find\s+out\s+more|"
    r"read\s+(?:the\s+)?full\s+(?:story|article|post)|view\s+(?:the\s+)?post|"
    r"weiterlesen|mehr\s+lesen|lire\s+la\s+suite|en\s+savoir\s+plus|leer\s+m[aá]s|seguir\s+leyendo|"
    r"leggi\s+(?:tutto|di\s+pi[uù])|continua\s+a\s+leggere|lees\s+meer|czytaj\s+dalej|"
    r"(?:leia|ler|saiba)\s+mais|läs\s+mer"
)
# "Read more", "Continue reading <post title>", "[more]", "»", "Read More…": a phrase may be
# followed by the post's name, a bare "more" may not ("More than 50 clinics").
_READ_MORE_LABEL = re.compile(
    rf"[\W_]*(?:(?:{READ_MORE_PHRASES})(?:\s.{{0,80}})?|more)[\W_]*|[\W_]*[»→›➔➜⟶][\W_]*",
    re.IGNORECASE | re.DOTALL)
# In running text "click here" is a link label too, though as a teaser's only label it is too
# common in prose ("to book, click here.") to mark one.
_READ_MORE_TEXT = re.compile(rf"\b(?:{READ_MORE_PHRASES}|click\s+here)\b", re.IGNORECASE)


@lru_cache(maxsize=8192)   # link labels repeat on every page (menus, "Read more")
def is_read_more(label: str) -> bool:
    """Whether a link's whole text is a read-more label ("Read more", "Continue reading X",
    "[more]", "»"): what makes a container a teaser, and a sentence after "…" no sentence."""
    return len(label) <= 120 and _READ_MORE_LABEL.fullmatch(label) is not None


def strip_read_more(text: str) -> str:
    """The text without its read-more phrases: the words of a teaser that tell its subject."""
    return _READ_MORE_TEXT.sub(" ", text)


# --- language ------------------------------------------------------------------------------------

# Common English function words that other Latin-script languages do not share (no "a",
# "in", "is", "of", "at"): how an undeclared or mis-declared page is told from English.
ENGLISH_WORDS = frozenset("""
    the and to that for with was are be this you not your have from they we will can
    their our more which has but its his if all about when there been who would may what
    some other than these them into also how does should only were one most many such after
    each any because those same while had just could very through between without within upon
    against however therefore although whether where then both being before during until
""".split())
ENGLISH_SAMPLE_WORDS = 2000
ENGLISH_MIN_SAMPLE = 20      # fewer words than this: too few to judge the language
ENGLISH_MIN_SHARE = 0.04     # English prose has 8-35% of these words; other languages ~0%


def english_share(words: Iterable[str]) -> tuple[float, int]:
    """(share of ENGLISH_WORDS, words sampled) over the first ENGLISH_SAMPLE_WORDS lower-cased words."""
    n = hits = 0
    for word in words:
        hits += word in ENGLISH_WORDS
        n += 1
        if n == ENGLISH_SAMPLE_WORDS:
            break
    return (hits / n if n else 0.0), n


def reads_as_english(words: Iterable[str]) -> bool | None:
    """The "is it English?" test on lower-cased words: True or False, None when fewer than
    ENGLISH_MIN_SAMPLE words leave it undecided (readability, topics)."""
    return reads_as_english_share(*english_share(words))


def reads_as_english_share(share: float, sampled: int) -> bool | None:
    """The same test on english_share's result, for a caller that also reports the share."""
    if sampled < ENGLISH_MIN_SAMPLE:
        return None
    return share >= ENGLISH_MIN_SHARE


# --- datelines -----------------------------------------------------------------------------------

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DATE = (rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}|"
         rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}})")
_TIME = r"(?:,?\s*(?:at\s+)?\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?(?:\s+[a-z]{2,4})?)?"
_DATELINE = re.compile(
    rf"[\W_]*(?:(?:(?:first\s+|last\s+)?(?:posted|published|updated|modified)(?:\s+on)?|on)\s*:?\s*)?"
    rf"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?{_DATE}{_TIME}[\W_]*",
    re.IGNORECASE)


def is_dateline(text: str) -> bool:
    """Whether a block's whole text is a date, optionally with a time and "Posted on" or
    "Updated": post metadata, not prose (main text, readability)."""
    return len(text) <= 80 and _DATELINE.fullmatch(text) is not None
