"""Sentence splitting for web copy: one line per block, abbreviations, decimals, teaser endings."""

from __future__ import annotations

import re

from crawler.text import is_read_more

# Words whose full stop does not end a sentence when a capital follows ("Dr. Patel").
TITLES = frozenset("""
    dr drs mr mrs ms mx prof rev fr st sr jr hon gen col capt lt sgt gov sen rep pres
    vs cf approx ca viz al
""".split())

# Abbreviations that stand before a number ("No. 5", "Jan. 12", "p. 40").
BEFORE_NUMBER = frozenset("""
    no nos vol vols fig figs p pp ch sec art ed eds est tel ext
    jan feb mar apr jun jul aug sep sept oct nov dec
""".split())

# Dotted abbreviations that often close a sentence ("at 5 p.m. Call us").
DOTTED_ENDINGS = frozenset({"a.m", "p.m"})

_CLOSERS = "\"'”’»)]}"
_CANDIDATE = re.compile(r"[.!?…]+[\"'”’»)\]}]*")
_DOTTED = re.compile(r"^(?:[A-Za-z]{1,2}\.)+[A-Za-z]{1,2}$")
_TOKEN_STRIP = "\"'“‘«([{"
# What follows a candidate end: (whitespace?, next visible char, the one after it or '').
_FOLLOWING = re.compile(r"(\s*)(\S)(\S?)")


def split_sentences(text: str) -> list[str]:
    """The sentences of a text, in order, exactly as written (for Ctrl-F on the page).

    Every line break ends a sentence: the main text holds one block (heading, list item,
    paragraph, table cell) per line, and headings and list items rarely end with a full stop.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        previous_ended_with_ellipsis = False
        for sentence in _split_line(line):
            if previous_ended_with_ellipsis and is_read_more(sentence):
                continue   # a teaser's link label ("...Read More"): part of no sentence
            sentences.append(sentence)
            previous_ended_with_ellipsis = sentence.endswith(("...", "…"))
    return sentences


def _split_line(line: str) -> list[str]:
    out: list[str] = []
    start = 0
    first = len(line) - len(line.lstrip())          # where the line's text begins
    for match in _CANDIDATE.finditer(line):
        if _is_boundary(line, match.start(), match.end(), first):
            piece = line[start:match.end()].strip()
            if piece:
                out.append(piece)
            start = match.end()
    rest = line[start:].strip()
    if rest:
        out.append(rest)
    return out


def _token_before(line: str, pos: int) -> tuple[str, int]:
    """The whitespace-delimited token that ends at pos (its last 40 characters at most)."""
    begin, stop = pos, max(0, pos - 40)
    while begin > stop and not line[begin - 1].isspace():
        begin -= 1
    return line[begin:pos], begin


def _is_boundary(line: str, start: int, end: int, first: int) -> bool:
    # Only look a few characters ahead: slicing the rest of a 100,000-word line per full stop
    # would make splitting quadratic.
    marks = line[start:end].rstrip(_CLOSERS)
    following = _FOLLOWING.match(line, end)
    if following is None:
        return True                                  # end of the line (block)
    spaced, nxt, second = following.groups()
    token, token_start = _token_before(line, start)
    word = token.lstrip(_TOKEN_STRIP)
    if not spaced:
        # Glued on: "works.And how", "prestige...Read More"; not "2.5", "U.S.A", "site.com".
        return (nxt.isupper() and second.islower()
                and len(word) >= 2 and word[-2:].isalpha() and word[-2:].islower()
                and word.lower() not in TITLES)
    if nxt.islower():
        return False                                 # "e.g. the", "approx. three", "Why? because"
    if "!" in marks or "?" in marks or "…" in marks or "..." in marks:
        return True
    lower = word.lower()
    if lower in TITLES:
        return False
    if nxt.isdigit() and lower in BEFORE_NUMBER:
        return False
    if _DOTTED.match(word) and lower not in DOTTED_ENDINGS:
        return False                                 # "U.S. Food and Drug Administration"
    if word.isdigit() and len(word) <= 3 and token_start == first:
        return False                                 # a numbered list item: "1. Call us"
    if len(word) == 1 and word.isupper():
        before, _ = _token_before(line, token_start - 1) if token_start > 0 else ("", 0)
        before = before.lstrip(_TOKEN_STRIP).rstrip(".")
        if before[:1].isupper():
            return False                             # an initial: "John F. Kennedy", "Dr. J. Smith"
    return True
