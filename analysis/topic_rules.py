"""The plain rules of topic drift, over one text or arrays (no database): what a word is for the
model, which pages are skipped, the off-topic cutoff, utility words, the site's subject in
another register. analysis/topic_model.py fits the model; analysis/topics.py writes findings."""

from __future__ import annotations

import math
import re

import numpy as np
import scipy.sparse as sp

from crawler import text as text_rules
from crawler.text import graded_words

OUTLIER_Z = 3.0          # a page's robust z-score (log similarity) must be below -3...
MAX_RATIO = 0.5          # ...and its similarity below half the typical page's
SUBJECT_RATIO = 0.3
CORE_MASS = 0.5          # the core vocabulary: the top words carrying half the core's squared weight
LANGUAGE_SAMPLE = 20_000  # characters of a text read for its language (the test samples 2,000 words)
EPS = 1e-4               # similarity floor before taking logs (0 means no shared words)

# Words of privacy, contact, careers, login, terms, cart, error and opening-hours pages. A page
# whose TF-IDF weight lies mostly on these is a utility page: generic, not drift.
UTILITY_WORDS = frozenset("""
privacy policy policies personal information data collect collected collection collects
cookie cookies consent gdpr ccpa processing processed processor controller third parties
party share sharing sell disclose disclosure disclosed retain retention deletion delete
request requests rights access correction opt unsubscribe law laws legal lawful applicable
jurisdiction govern governed governing terms conditions agreement agree liability liable
warranty warranties disclaimer disclaim indemnify intellectual property copyright trademark
trademarks reserved reproduce reproduced permission revision revisions amend amended notice
website browser analytics tracking traffic address addresses device identifiers security
contact contacts phone telephone fax email emails mail reply message messages form forms submit
office hours monday tuesday wednesday thursday friday saturday sunday directions parking
located location locations street suite floor map inquiries inquiry business weekdays
careers career job jobs hiring hire position positions opening openings apply application
applications applicant applicants resume resumes cover letter salary compensation benefits
dental retirement paid vacation employer employment equal opportunity qualified candidate
candidates join team login logout sign username password passwords forgot reset account
accounts register registration portal credentials verify verification cart checkout shipping
delivery returns refund refunds order orders payment payments billing invoice subscribe
subscription newsletter sitemap search results error accessibility accessible
holiday holidays closed close closing closure closures reopen reopens reopening noon open
announcement schedule january february march april june july august september october
november december
""".split())


def english_share(text: str) -> float:
    """Share of common English function words among the text's first words: crawler/text.py's
    "is it English?" test, the one readability uses too."""
    return text_rules.english_share(graded_words(text[:LANGUAGE_SAMPLE].lower()))[0]


def reads_as_english(text: str) -> bool | None:
    """crawler/text.py's test on a text: None when too few words to tell."""
    return text_rules.reads_as_english(graded_words(text[:LANGUAGE_SAMPLE].lower()))


def primary_lang(lang: str | None) -> str | None:
    """'en' for 'en-US' or 'EN_us'; None for a missing or blank lang attribute."""
    if not lang or not lang.strip():
        return None
    return re.split(r"[-_]", lang.strip().lower())[0] or None


def skip_reason(text: str, words: int, lang: str | None, site_lang: str | None,
                english: bool, min_words: int) -> str | None:
    """Why a page's main text gets no topic, or None when it is modelled."""
    if not text.strip() or words == 0:
        return "no main text"
    if words < min_words:
        return f"too little main text ({words} words; topics.min_words is {min_words})"
    page_lang = primary_lang(lang)
    if site_lang and page_lang and page_lang != site_lang:
        return f"language '{page_lang}' differs from the site's '{site_lang}'"
    if english and reads_as_english(text) is False:
        return "text does not read as English, the site's language"
    return None


def weighted_median(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The value below which half the weight lies (the plain median without weights)."""
    if weights is None:
        return float(np.median(values))
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def off_topic_cutoff(similarities: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """(typical similarity, cutoff): a page is off topic below the cutoff.

    `weights` say how much each page belongs to the core, so that the core's own pages set
    what is typical and drifted pages cannot drag it down. The cutoff is the lower of half
    the typical similarity and the similarity at a robust z-score of -3 on a log scale
    (weighted median and MAD of log similarity): both relative to the site's own
    distribution, so the same rule fits a 30-page and a 100,000-page site.
    """
    logs = np.log(np.maximum(similarities, EPS))
    centre = weighted_median(logs, weights)
    mad = 1.4826 * weighted_median(np.abs(logs - centre), weights)
    typical = weighted_median(similarities, weights)
    return typical, min(MAX_RATIO * typical, math.exp(centre - OUTLIER_Z * mad))


def topic_count(pages: int, max_topics: int) -> int:
    """Topics to fit for this many pages: the square root, rounded up, at most max_topics."""
    return max(1, min(max_topics, pages, math.ceil(math.sqrt(pages))))


def core_vocabulary(centroid: np.ndarray, mass: float = CORE_MASS) -> np.ndarray:
    """Bool per term: the core's own words, the fewest that carry `mass` of its squared weight."""
    order = np.argsort(-centroid ** 2, kind="stable")
    cumulative = np.cumsum(centroid[order] ** 2)
    core = np.zeros(len(centroid), dtype=bool)
    core[order[:int(np.searchsorted(cumulative, mass)) + 1]] = True
    return core


def shared_similarity(X, site_terms: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    """How much of what each row shares with the site's other pages is the core's own words:
    its weight on the core vocabulary (times the core's) over the norm of its shared words.
    Words no other page uses (its register: cohort, remission, randomised) are left out, and
    generic words (people, time, help) add little: a drifted post shares only those."""
    kept = sp.csr_matrix(X @ sp.diags(site_terms.astype(np.float32)))
    norms = np.sqrt(np.asarray(kept.multiply(kept).sum(axis=1)).ravel())
    core = (site_terms & core_vocabulary(centroid)).astype(np.float32)
    dots = np.asarray(X @ (centroid * core)).ravel()
    return np.where(norms > 0, dots / np.where(norms > 0, norms, 1), 0)


def on_subject(X, site_terms: np.ndarray, centroid: np.ndarray, typical_shared: float) -> np.ndarray:
    """Rows on the site's subject in another register (a research summary in academic words):
    the words they share with the site point at the core as a typical page's do."""
    return shared_similarity(X, site_terms, centroid) >= SUBJECT_RATIO * typical_shared


def site_terms_of(X, hashes: list[str], rows: np.ndarray) -> np.ndarray:
    """Terms used by at least two distinct texts among the rows (copies of a page, such as
    its ?replytocom= variants, count once)."""
    _, first = np.unique(np.asarray(hashes, dtype=object).astype(str), return_index=True)
    distinct = np.zeros(X.shape[0], dtype=bool)
    distinct[first] = True
    # (X > 0) of the rows, as a matrix sharing X's indices: no copy of the rows is made
    used = sp.csr_matrix(((X.data > 0).astype(np.float32), X.indices, X.indptr), shape=X.shape)
    counts = np.asarray(used.T @ (rows & distinct).astype(np.float32)).ravel()
    return counts >= 2


def utility_weight(X, utility_terms: np.ndarray) -> np.ndarray:
    """Share of each (unit) row's squared weight on utility words."""
    return np.asarray(X.multiply(X) @ utility_terms.astype(np.float32)).ravel()
