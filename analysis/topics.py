"""Topic drift: a TF-IDF + NMF model of the site's main text, from which off-topic pages,
off-topic blocks (teasers, sidebars, injected paragraphs) and pages whose topic changed since
the previous crawl are flagged. The rules and their reasons are in docs/topics.md."""

from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from crawler import store
from analysis import near_duplicates, pagetypes
from analysis.pagetypes import UTILITY_REASON
from analysis.findings import kinds_of, severity_for
from analysis.readability import reads_as_prose
from crawler.config import Options, TopicsOptions
from crawler.extract import count_words
from crawler.urls import normalize

KINDS = kinds_of("topics")   # kind -> default severity (analysis/findings.py)

log = logging.getLogger(__name__)

TOKEN_PATTERN = r"(?u)\b[^\W\d_]{3,}\b"  # words of three letters or more; numbers say nothing
OUTLIER_Z = 3.0          # a page's robust z-score (log similarity) must be below -3...
MAX_RATIO = 0.5          # ...and its similarity below half the typical page's
MIN_PAGES = 5            # fewer pages with text: there is no core to compare with
MAX_DRIFT_SHARE = 0.4    # without hints, more pages far from the core: no dominant topic
MIN_DRIFT_WORDS = 2      # a block is judged by its own text with at least this many drift words
MIN_BLOCK_WORDS = 3      # shorter blocks ("Read more") are judged only by the page they link to
MIN_MAIN_BLOCK_WORDS = 15  # a paragraph of main text with this many words is judged on its own
MAX_BLOCK_SHARE = 2 / 3    # a paragraph that is more of its page's main text than this is the page
# A paragraph shares fewer words with anything than a page does: it is far only below this
# share of the typical paragraph's similarity (pages: MAX_RATIO), and the robust z cutoff.
BLOCK_RATIO = 0.25
# A page below the cutoff is still on the site's subject when the words it shares with the
# site's other pages point at the core: at least SUBJECT_RATIO of what is typical once the
# words no other page uses (its register: cohort, remission, randomised) are set aside.
SUBJECT_RATIO = 0.3
CORE_MASS = 0.5          # the core vocabulary: the top words carrying half the core's squared weight
MIN_JUDGED_WORDS = 50    # fewer words (a short tip, a thank-you note) are too little evidence of drift
ENGLISH_MIN_STOP_SHARE = 0.15  # English prose is 40-50% stop words, other languages under 10%
LANGUAGE_SAMPLE = 1500   # characters of a text that tell its language
TOPIC_SAMPLE = 5000      # pages an NMF is fitted on; every page is then given a topic
LABEL_WORDS = 4          # keywords in a topic label
DISTINCTIVE_WORDS = 5
QUOTE_CHARS = 160
BATCH = 2000
EPS = 1e-4               # similarity floor before taking logs (0 means no shared words)
# link words of a teaser, not its subject
READ_MORE = re.compile(r"\b(?:read|learn|see|find\s+out)\s+more\b|\bcontinue\s+reading\b"
                       r"|\bclick\s+here\b", re.IGNORECASE)

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


# --- plain rules over one text or one array ---------------------------------------------------

def english_share(text: str) -> float:
    """Share of the text's words that are English stop words (0 for no words); the first
    LANGUAGE_SAMPLE characters are enough to tell."""
    words = text[:LANGUAGE_SAMPLE].lower().split()
    return sum(map(ENGLISH_STOP_WORDS.__contains__, words)) / len(words) if words else 0.0


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
    if english and english_share(text) < ENGLISH_MIN_STOP_SHARE:
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


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- the site model -------------------------------------------------------------------------

@dataclass
class Topics:
    """One NMF over a group of pages (the core or the drift), with its labels."""
    nmf: NMF | None
    labels: list[str]
    offset: int           # number of the first topic in topic_labels
    is_core: bool

    def assign(self, X) -> np.ndarray:
        """Topic number of each row; -1 where no topic carries any weight."""
        if self.nmf is None or X.shape[0] == 0:
            return np.full(X.shape[0], -1)
        W = self.nmf.transform(X)
        return np.where(W.max(axis=1) > 0, np.argmax(W, axis=1) + self.offset, -1)


@dataclass
class SiteModel:
    """What a crawl's pages say about the site: enough to score any text against it."""
    vectorizer: TfidfVectorizer
    terms: np.ndarray
    utility: np.ndarray          # bool per term: a utility word
    centroid: np.ndarray         # unit vector of the core
    typical: float | None        # similarity of a typical core page (weighted median)
    cutoff: float | None         # off topic below this; None when pages are not judged
    no_verdict: str | None       # why no page is judged (too few pages, no dominant topic)
    site_lang: str | None
    english: bool
    topics: list[Topics]         # [core, drift]
    utility_share: float
    min_words: int
    site_terms: np.ndarray | None = None   # bool per term: used by two distinct pages or more
    typical_shared: float | None = None    # shared_similarity of a typical core page

    def score(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(similarity, utility, off topic, topic) of texts outside the crawl's model (a page's
        previous version, a page fetched again), by the rules the crawl's pages were judged by."""
        nonempty = X.getnnz(axis=1) > 0
        similarity = np.clip(np.asarray(X @ self.centroid).ravel(), 0, 1)
        utility = _utility_weight(X, self.utility) >= self.utility_share
        utility &= nonempty
        off = ~utility & nonempty & (similarity < (self.cutoff or 0))
        if self.site_terms is not None and self.typical_shared is not None:
            off &= ~on_subject(X, self.site_terms, self.centroid, self.typical_shared)
        core, drift = self.topics
        topic = np.full(X.shape[0], -1)
        topic[~utility & ~off] = core.assign(X[~utility & ~off])
        topic[off] = drift.assign(X[off])
        return similarity, utility, off, topic

    def label(self, topic: int) -> str | None:
        for group in self.topics:
            if group.offset <= topic < group.offset + len(group.labels):
                return group.labels[topic - group.offset]
        return None


@dataclass
class PageScores:
    """The modelled pages of one crawl, row i of X being urls[i]."""
    urls: list[str]
    hashes: list[str]
    X: sp.csr_matrix
    similarity: np.ndarray
    utility: np.ndarray          # bool: a utility page, never judged
    off: np.ndarray              # bool: off topic (or would be, when no_verdict is set)
    topic: np.ndarray            # topic number per row, -1 for none


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
    counts = np.asarray((X[np.flatnonzero(rows & distinct)] > 0).sum(axis=0)).ravel()
    return counts >= 2


def _utility_weight(X, utility_terms: np.ndarray) -> np.ndarray:
    """Share of each (unit) row's squared weight on utility words."""
    return np.asarray(X.multiply(X) @ utility_terms.astype(np.float32)).ravel()


def _vectorizer(english: bool, pages: int, max_features: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=True, token_pattern=TOKEN_PATTERN, stop_words="english" if english else None,
        # without a stop-word list, words on over half the pages are the function words
        max_df=1.0 if english or pages < 20 else 0.5,
        sublinear_tf=True, max_features=max_features, dtype=np.float32)


def _site_language(con, main_sql: str, min_words: int) -> str | None:
    """The most common primary language of the pages with text, from <html lang>."""
    row = con.execute(
        f"SELECT regexp_split_to_array(lower(trim(lang)), '[-_]')[1] AS l, count(*) AS n "
        f"FROM ({main_sql}) WHERE words >= ? AND nullif(trim(lang), '') IS NOT NULL "
        f"GROUP BY l ORDER BY n DESC, l LIMIT 1", [min_words]).fetchone()
    return row[0] if row else None


def _fit_vectorizer(con, main_sql: str, opts: TopicsOptions, site_lang: str | None):
    """Fit TF-IDF on a deterministic sample of at most fit_sample pages.

    Returns (vectorizer or None, english, {url: row of the sample's matrix}, that matrix): the
    sampled pages' vectors are kept so that they are not computed twice.
    """
    sample = con.execute(
        f"SELECT url, text, lang FROM ({main_sql}) WHERE words >= ? "
        f"ORDER BY md5(url), url LIMIT ?", [opts.min_words, opts.fit_sample]).fetchall()
    english = site_lang in (None, "en")
    if english and sample and np.median(
            [english_share(text) for _, text, _ in sample[:500]]) < ENGLISH_MIN_STOP_SHARE:
        english = False
    # a page in another language without a lang attribute only adds a few words to the vocabulary
    sample = [(url, text) for url, text, lang in sample
              if skip_reason(text, opts.min_words, lang, site_lang, False, opts.min_words) is None]
    if not sample:
        return None, english, {}, None
    vectorizer = _vectorizer(english, len(sample), opts.max_features)
    try:
        fitted = vectorizer.fit_transform([text for _, text in sample])
    except ValueError:   # no word survives: numbers and stop words only
        return None, english, {}, None
    return vectorizer, english, {url: i for i, (url, _) in enumerate(sample)}, fitted.tocsr()


def _vectors(vectorizer, urls: list[str], texts: list[str], fitted_rows: dict, fitted):
    """TF-IDF rows of these pages in order, reusing the rows computed when fitting."""
    known = [fitted_rows.get(url) for url in urls]
    fresh = [i for i, row in enumerate(known) if row is None]
    if not fresh:
        return fitted[known]
    computed = vectorizer.transform([texts[i] for i in fresh])
    if len(fresh) == len(urls):
        return computed
    reused = [i for i, row in enumerate(known) if row is not None]
    stacked = sp.vstack([fitted[[known[i] for i in reused]], computed], format="csr")
    return stacked[np.argsort(np.array(reused + fresh), kind="stable")]


def _similarity(X, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of each row to the core, the weighted sum of the rows, each row left out of its
    own core (so that no page is judged against itself); returns (similarities, unit core)."""
    weights = weights.astype(np.float64)
    total = np.asarray(X.T @ weights).ravel()
    norm2 = float(total @ total)
    if norm2 == 0:
        return np.zeros(X.shape[0]), total
    dots = np.asarray(X @ total).ravel()
    self2 = (np.diff(X.indptr) > 0).astype(np.float64)   # rows are unit vectors, or empty
    rest2 = np.maximum(norm2 - 2 * weights * dots + weights ** 2 * self2, 0)
    sims = (dots - weights * self2) / np.sqrt(np.where(rest2 > 0, rest2, 1))
    return np.clip(np.where(rest2 > 0, sims, 0), 0, 1), total / math.sqrt(norm2)


def _dominant(X, judged: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Weights of the judged rows on the site's dominant direction: the first singular vector
    of the TF-IDF matrix, by power iteration from the mean (deterministic). It points at the
    largest group of pages that share vocabulary, not at a blend of every group."""
    mask = judged.astype(np.float64)
    core = np.asarray(X.T @ mask).ravel()
    weights = np.zeros(X.shape[0])
    for _ in range(iterations):
        norm = np.linalg.norm(core)
        if norm == 0:
            break
        core /= norm
        weights = np.asarray(X @ core).ravel() * mask
        following = np.asarray(X.T @ weights).ravel()
        following /= np.linalg.norm(following) or 1
        if np.abs(following - core).max() < 1e-7:
            break
        core = following
    return weights


def _core_weights(X, judged: np.ndarray, urls: list[str], vectorizer, opts: TopicsOptions):
    """(weight of each row in the core, hinted): the hinted pages, or the site's dominant
    direction."""
    if opts.core_urls:
        wanted = set()
        for url in opts.core_urls:
            try:
                wanted.add(normalize(url))
            except ValueError:
                log.warning("topics.core_urls: %r is not a URL", url)
        members = np.array([u in wanted for u in urls], dtype=bool) & judged
        if members.any():
            return members.astype(np.float64), True
        log.warning("topics.core_urls: none of these URLs is a modelled page of this crawl; "
                    "using %s", "core_keywords" if opts.core_keywords else "the site itself")
    if opts.core_keywords:
        seed = vectorizer.transform([" ".join(opts.core_keywords)])
        if seed.nnz:
            score = np.where(judged, (X @ seed.T).toarray().ravel(), 0)
            positive = score[score > 0]
            if positive.size:
                return (score >= np.median(positive)).astype(np.float64), True
        log.warning("topics.core_keywords: no page uses these words; using the site itself")
    return _dominant(X, judged), False


def _distinctive(X, similarity: np.ndarray, centroid: np.ndarray, terms: np.ndarray,
                 n: int = DISTINCTIVE_WORDS) -> list[list[str]]:
    """Per row, the words furthest above the core: the row minus its projection on the core."""
    out = []
    for i in range(X.shape[0]):
        start, end = X.indptr[i], X.indptr[i + 1]
        idx = X.indices[start:end]
        score = X.data[start:end] - similarity[i] * centroid[idx]
        order = np.lexsort((terms[idx], -score))[:n]
        out.append([str(terms[idx[j]]) for j in order if score[j] > 0])
    return out


def _fit_topics(X, rows: np.ndarray, opts: TopicsOptions, terms: np.ndarray, offset: int,
                is_core: bool) -> Topics:
    """NMF topics of the rows in the mask, fitted on an evenly spaced sample of them."""
    index = np.flatnonzero(rows)
    step = max(1, math.ceil(index.size / min(opts.fit_sample, TOPIC_SAMPLE)))
    sample = X[index[::step]]
    if sample.nnz == 0:
        return Topics(None, [], offset, is_core)
    k = min(topic_count(index.size, opts.max_topics), sample.shape[0], sample.shape[1])
    nmf = NMF(n_components=k, init="nndsvda", random_state=0, max_iter=300, tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # float32 rounding can put NMF's squared loss a hair below 0 before its sqrt
        warnings.filterwarnings("ignore", "invalid value encountered in sqrt", RuntimeWarning)
        nmf.fit(sample)
    labels = []
    for row in nmf.components_:
        order = np.lexsort((terms, -row))[:LABEL_WORDS]
        labels.append(", ".join(str(terms[j]) for j in order if row[j] > 0))
    return Topics(nmf, labels, offset, is_core)


def _read_pages(con, crawl_id: int, opts: TopicsOptions, skipped):
    """Stream the crawl's main texts into a sparse TF-IDF matrix, a batch at a time.

    Returns (vectorizer, site_lang, english, urls, hashes, X, utility weight per row, words per
    row), with
    vectorizer None when no page has a word to model."""
    main_sql = store.main_text_sql(crawl_id)
    site_lang = _site_language(con, main_sql, opts.min_words)
    vectorizer, english, fitted_rows, fitted = _fit_vectorizer(con, main_sql, opts, site_lang)
    terms = vectorizer.get_feature_names_out() if vectorizer else np.array([], dtype=object)
    utility_terms = np.array([t in UTILITY_WORDS for t in terms], dtype=bool)
    urls, hashes, parts, utility, words = [], [], [], [], []
    for batch in store.iter_batches(con, main_sql, size=BATCH):
        batch_urls, texts = [], []
        for row in batch:
            reason = skip_reason(row["text"], row["words"], row["lang"], site_lang, english,
                                 opts.min_words)
            if reason is None and vectorizer is None:
                reason = "no word to model (numbers and stop words only)"
            if reason is not None:
                skipped(row["url"], row["content_hash"], reason)
                continue
            batch_urls.append(row["url"])
            hashes.append(row["content_hash"])
            words.append(row["words"])
            texts.append(row["text"])
        if texts:
            urls += batch_urls
            parts.append(_vectors(vectorizer, batch_urls, texts, fitted_rows, fitted))
            utility.append(_utility_weight(parts[-1], utility_terms))
    X = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, len(terms)), dtype=np.float32)
    utility = np.concatenate(utility) if utility else np.zeros(0)
    return vectorizer, site_lang, english, urls, hashes, X, utility, np.array(words, dtype=np.int64)


def fit_site(con, crawl_id: int, opts: TopicsOptions, skipped=None):
    """Model the crawl's site: (SiteModel, PageScores), or (None, None) when no page has text
    to model. `skipped(url, content_hash, reason)` is called for each page left out."""
    vectorizer, site_lang, english, urls, hashes, X, utility_weight, words = _read_pages(
        con, crawl_id, opts, skipped or (lambda *row: None))
    if vectorizer is None:
        return None, None
    terms = vectorizer.get_feature_names_out()
    nonempty = X.getnnz(axis=1) > 0
    utility = (utility_weight >= opts.utility_share) & nonempty
    judged = ~utility & nonempty
    n_judged = int(judged.sum())

    no_verdict, typical, cutoff, site_terms, typical_shared = None, None, None, None, None
    off = np.zeros(len(urls), dtype=bool)
    if n_judged:
        weights, hinted = _core_weights(X, judged, urls, vectorizer, opts)
    else:
        weights, hinted = judged.astype(np.float64), False
        no_verdict = "no page has topical text (utility pages only)"
    similarity, centroid = _similarity(X, weights)
    if 0 < n_judged < MIN_PAGES:
        no_verdict = (f"too few pages to tell the site's core topic: {n_judged} with enough "
                      f"text (need {MIN_PAGES})")
    elif n_judged and not (weights > 0).any():
        no_verdict = "no page shares a word with another: there is no core to compare with"
    elif n_judged:
        core_pages = weights > 0
        typical, cutoff = off_topic_cutoff(similarity[core_pages], weights[core_pages])
        # far from the core: a drift candidate, unless it is on the site's subject in another
        # register, or its whole content (a shared template) is on topic
        far_rows = judged & (similarity < MAX_RATIO * typical)
        site_terms = site_terms_of(X, hashes, judged)
        typical_shared = weighted_median(shared_similarity(X[core_pages], site_terms, centroid),
                                         weights[core_pages])
        far_rows[far_rows] = ~on_subject(X[far_rows], site_terms, centroid, typical_shared)
        whole_sim, whole_subject, whole_words = _whole_content(
            con, crawl_id, [urls[i] for i in np.flatnonzero(far_rows)], vectorizer, centroid,
            site_terms, typical_shared)
        # only a page that is mostly template (its repeated blocks outweigh its own text) is
        # judged by its whole content: an on-topic call to action must not hide a drifted post
        mostly_template = whole_words - words[far_rows] >= words[far_rows]
        whole = np.zeros(len(urls))
        whole[far_rows] = np.where(mostly_template, np.where(whole_subject, 1.0, whole_sim), 0.0)
        far_rows &= whole < MAX_RATIO * typical
        off = far_rows & (similarity < cutoff) & (whole < cutoff) & (words >= MIN_JUDGED_WORDS)
        far = int(far_rows.sum())
        if not hinted and far > MAX_DRIFT_SHARE * n_judged:
            # a drifted group this large is no set of outliers: which group is the site's
            # topic is for the user to say
            no_verdict = (f"no dominant topic: {far} of {n_judged} pages are far from the "
                          "largest group of pages; set topics.core_keywords or topics.core_urls")

    on = judged & ~off
    core = _fit_topics(X, on, opts, terms, 0, True)
    drift = _fit_topics(X, off, opts, terms, len(core.labels), False)
    topic = np.full(len(urls), -1)
    for start in range(0, len(urls), BATCH):
        rows = slice(start, start + BATCH)
        batch, part = X[rows], topic[rows]      # part is a view of topic
        part[on[rows]] = core.assign(batch[on[rows]])
        part[off[rows]] = drift.assign(batch[off[rows]])
    model = SiteModel(vectorizer, terms, np.array([t in UTILITY_WORDS for t in terms], dtype=bool),
                      centroid, typical, cutoff, no_verdict, site_lang, english, [core, drift],
                      opts.utility_share, opts.min_words, site_terms, typical_shared)
    return model, PageScores(urls, hashes, X, similarity, utility, off, topic)


def _whole_content(con, crawl_id: int, urls: list[str], vectorizer, centroid: np.ndarray,
                   site_terms: np.ndarray, typical_shared: float):
    """(similarity to the core, on_subject, words) of each URL's whole main content, blocks
    repeated on 3+ pages included. A city landing page keeps only its address paragraph once the shared
    template is set aside as furniture; the template is what the page says (near_duplicate
    reports the copy)."""
    if not urls:
        return np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    rows = {url: (text, words) for url, text, words in con.execute(
        f"SELECT url, text, words FROM ({near_duplicates.full_main_sql(crawl_id)}) "
        "WHERE url IN (SELECT unnest(?::VARCHAR[]))", [urls]).fetchall()}
    X = vectorizer.transform([READ_MORE.sub(" ", rows.get(u, ("", 0))[0] or "") for u in urls])
    return (np.clip(np.asarray(X @ centroid).ravel(), 0, 1),
            on_subject(X, site_terms, centroid, typical_shared),
            np.array([rows.get(u, ("", 0))[1] or 0 for u in urls], dtype=np.int64))


# --- scoring one text against a stored crawl (for recheck) ----------------------------------

_cache: dict[tuple, SiteModel | None] = {}


def _cache_key(con, crawl_id: int, opts: TopicsOptions) -> tuple:
    path = con.execute("SELECT file FROM pragma_database_list "
                       "WHERE name = current_database()").fetchone()
    pages = con.execute("SELECT count(*) FROM pages WHERE crawl_id = ?", [crawl_id]).fetchone()[0]
    return (path[0] if path else id(con), int(crawl_id), pages,
            tuple((f.name, repr(getattr(opts, f.name))) for f in fields(opts)))


def score_text(con, crawl_id: int, text: str, options: Options, lang: str | None = None) -> dict:
    """Score one text (a page fetched again) against the site model of a stored crawl.

    The model is refitted from the crawl (deterministic, so it is the one `analyse` used) and
    kept for the next call. Returns similarity, topic, topic_label, off_topic (None when the
    text or the site cannot be judged), distinctive_words, reason, typical and cutoff.
    """
    opts = options.topics
    key = _cache_key(con, crawl_id, opts)
    if key not in _cache:
        _cache.clear()
        _cache[key] = fit_site(con, crawl_id, opts)[0]
    model = _cache[key]
    result = {"similarity": None, "topic": None, "topic_label": None, "off_topic": None,
              "distinctive_words": [], "reason": None, "typical": None, "cutoff": None}
    if model is None:
        result["reason"] = "the crawl has no page with text to model"
        return result
    result.update(typical=model.typical, cutoff=model.cutoff)
    reason = skip_reason(text, count_words(text), lang, model.site_lang, model.english,
                         model.min_words)
    x = model.vectorizer.transform([text]) if reason is None else None
    if x is not None and x.nnz == 0:
        reason = "no word the site model knows"
    if reason:
        result["reason"] = reason
        return result
    similarity, utility, off, topics = model.score(x)
    sim, topic = float(similarity[0]), int(topics[0])
    result.update(
        similarity=round(sim, 6), topic=topic if topic >= 0 else None,
        topic_label=model.label(topic) if topic >= 0 else None,
        distinctive_words=_distinctive(x, np.array([sim]), model.centroid, model.terms)[0])
    if utility[0]:
        result["reason"] = UTILITY_REASON
    elif model.no_verdict:
        result["reason"] = model.no_verdict
    else:
        result["off_topic"] = bool(off[0])
    return result


# --- analyse ---------------------------------------------------------------------------------

def analyse(con, crawl_id: int, options: Options) -> dict[str, int]:
    """Model the crawl's site, write `topics` and `topic_labels`, and flag the drift."""
    con.execute("DELETE FROM topics WHERE crawl_id = ?", [crawl_id])
    con.execute("DELETE FROM topic_labels WHERE crawl_id = ?", [crawl_id])
    writer = store.BatchWriter(con)

    def skipped(url, content_hash, reason):
        writer.add("topics", {"crawl_id": crawl_id, "url": url, "content_hash": content_hash,
                              "topic": None, "topic_label": None, "similarity": None,
                              "off_topic": None, "distinctive_words": None,
                              "skipped_reason": reason})

    model, pages = fit_site(con, crawl_id, options.topics, skipped)
    flags: list[dict] = []
    if model is not None:
        _write_pages(writer, crawl_id, model, pages)
        writer.flush()
        _write_labels(con, crawl_id, model, pages)
        flags += _page_flags(con, crawl_id, options, model)
        flags += _block_flags(con, crawl_id, options, model, pages)
        flags += _main_block_flags(con, crawl_id, options, model, pages)
        flags += _changed_flags(con, crawl_id, options, model, pages)
    writer.flush()
    return store.write_flags(con, crawl_id, "topics", flags, KINDS)


def _write_pages(writer, crawl_id: int, model: SiteModel, pages: PageScores) -> None:
    for start in range(0, len(pages.urls), BATCH):
        end = min(start + BATCH, len(pages.urls))
        words = _distinctive(pages.X[start:end], pages.similarity[start:end], model.centroid,
                             model.terms)
        for i in range(start, end):
            topic = int(pages.topic[i])
            reason = None
            if pages.utility[i]:
                reason = UTILITY_REASON
            elif pages.X.indptr[i] == pages.X.indptr[i + 1]:
                reason = "no word the site model knows (rare words only)"
            elif model.no_verdict:
                reason = model.no_verdict
            writer.add("topics", {
                "crawl_id": crawl_id, "url": pages.urls[i], "content_hash": pages.hashes[i],
                "topic": topic if topic >= 0 else None,
                "topic_label": model.label(topic) if topic >= 0 else None,
                "similarity": round(float(pages.similarity[i]), 6),
                "off_topic": None if reason else bool(pages.off[i]),
                "distinctive_words": ", ".join(words[i - start]) or None,
                "skipped_reason": reason})


def _write_labels(con, crawl_id: int, model: SiteModel, pages: PageScores) -> None:
    counts = np.bincount(pages.topic[pages.topic >= 0],
                         minlength=sum(len(group.labels) for group in model.topics))
    rows = [{"crawl_id": crawl_id, "topic": group.offset + i, "label": label,
             "pages": int(counts[group.offset + i]), "is_core": group.is_core}
            for group in model.topics for i, label in enumerate(group.labels)]
    if rows:
        store.insert_rows(con, "topic_labels", rows)


def _page_flags(con, crawl_id: int, options: Options, model: SiteModel) -> list[dict]:
    severity = severity_for(options.severity, "off_topic_page")
    top = np.argsort(-model.centroid, kind="stable")[:LABEL_WORDS]
    core_words = ", ".join(str(t) for t in model.terms[top])
    rows = con.execute(
        "SELECT url, topic_label, similarity, distinctive_words FROM topics "
        "WHERE crawl_id = ? AND off_topic ORDER BY url", [crawl_id]).fetchall()
    return [{
        # CONTRACT: the target is empty; a label changes when the model is refitted
        "kind": "off_topic_page", "page_url": url, "severity": severity, "target": "",
        "detail": (f"words that set it apart: {words or 'none'}; topic: {label or 'none'}; "
                   f"similarity {sim:.2f} to the site's core ({core_words}); a typical page has "
                   f"{model.typical:.2f}, pages below {model.cutoff:.2f} are off topic"),
        "suggestion": ("Move or remove this page, or rewrite it around the site's core topic; "
                       "if the site's focus has changed on purpose, set topics.core_keywords"),
    } for url, label, sim, words in rows]


def _block_sql(crawl_id: int) -> str:
    """Candidate blocks with the URL each links to (its teaser link, else the first link it
    holds), how many pages carry the same text, and the verdict on the page it links to."""
    cid = int(crawl_id)
    return f"""
        WITH repeated AS (
            SELECT text_hash FROM blocks WHERE crawl_id = {cid}
            GROUP BY text_hash HAVING count(DISTINCT page_url) >= {store.BOILERPLATE_MIN_PAGES}
        ),
        candidates AS (
            SELECT page_url, block_index, text, link_url, text_hash FROM blocks
            WHERE crawl_id = {cid} AND word_count >= 1
              AND (role IN ('teaser', 'aside', 'other')
                   OR (role = 'main' AND text_hash IN (SELECT text_hash FROM repeated)))
        ),
        carriers AS (
            SELECT text_hash, count(DISTINCT page_url) AS carriers FROM candidates GROUP BY text_hash
        ),
        first_links AS (
            SELECT l.source_url AS page_url, l.block_index, arg_min(l.url, l.position) AS url
            FROM links l JOIN candidates c
              ON c.page_url = l.source_url AND c.block_index = l.block_index AND c.link_url IS NULL
            WHERE l.crawl_id = {cid} AND l.element = 'a' AND l.url IS NOT NULL
            GROUP BY l.source_url, l.block_index
        )
        SELECT c.page_url, c.text, c.text_hash, coalesce(c.link_url, f.url) AS link_url,
               k.carriers, t.off_topic AS target_off, t.topic_label AS target_label
        FROM candidates c JOIN carriers k USING (text_hash)
        LEFT JOIN first_links f USING (page_url, block_index)
        LEFT JOIN pages tp ON tp.crawl_id = {cid} AND tp.url = coalesce(c.link_url, f.url)
        LEFT JOIN pages cp ON cp.crawl_id = {cid} AND cp.url = c.page_url
        LEFT JOIN topics t ON t.crawl_id = {cid} AND t.url = coalesce(c.link_url, f.url)
                          AND t.url <> c.page_url
                          -- a link to the page itself in another form (a comment's reply link)
                          AND coalesce(tp.canonical, t.url) <> c.page_url
                          AND coalesce(tp.canonical, t.url) <> coalesce(cp.canonical, c.page_url)
        ORDER BY c.page_url, c.block_index
    """


def _block_flags(con, crawl_id: int, options: Options, model: SiteModel,
                 pages: PageScores) -> list[dict]:
    """Teasers, sidebars and injected paragraphs that drift from both their page and the core.

    A block is off topic when it links to an off-topic page of the crawl, or when its own
    words are drift words (used on the site mostly by off-topic pages) that outweigh its core
    words, at least MIN_DRIFT_WORDS of them, mostly absent from the page that carries it.
    """
    if model.cutoff is None or model.no_verdict:
        return []
    judged = ~pages.utility & (pages.X.getnnz(axis=1) > 0)
    on_mass = np.asarray(pages.X.T @ (judged & ~pages.off).astype(np.float32)).ravel()
    all_mass = np.asarray(pages.X.T @ judged.astype(np.float32)).ravel()
    known = (all_mass > 0) & ~model.utility
    affinity = np.where(known, on_mass / np.where(all_mass > 0, all_mass, 1), 0)
    drift_terms = known & (affinity < 0.5)
    keep = sp.diags(known.astype(np.float32))
    row_of = {url: i for i, url in enumerate(pages.urls)}
    severity = severity_for(options.severity, "off_topic_block")
    # A listing with no text of its own (a blog home, a category): its teasers are its entries,
    # and an off-topic post listed there is the post's finding, not one more per listing page
    # (a teaser there to a page the crawl did not model, such as a spam site, is still judged)
    listings = {r["url"] for batch in store.iter_batches(con, pagetypes.listing_facts_sql(crawl_id))
                for r in batch if pagetypes.is_listing(r) and (r["main_words"] or 0) < model.min_words}
    out = []
    for batch in store.iter_batches(con, _block_sql(crawl_id), size=BATCH):
        # a block repeated on every page (a sidebar) is read once per batch
        distinct: dict[int, int] = {}
        inverse = [distinct.setdefault(b["text_hash"], len(distinct)) for b in batch]
        texts = [""] * len(distinct)
        for b, i in zip(batch, inverse):
            texts[i] = READ_MORE.sub(" ", b["text"])
        V = sp.csr_matrix(model.vectorizer.transform(texts) @ keep)[inverse]
        core_w = np.asarray(V @ affinity).ravel()
        known_w = np.asarray(V.sum(axis=1)).ravel()
        n_drift = np.asarray((V > 0).astype(np.float32) @ drift_terms.astype(np.float32)).ravel()
        host = np.array([row_of.get(b["page_url"], -1) for b in batch])
        on_page = sp.diags((host >= 0).astype(np.float32)) @ pages.X[np.maximum(host, 0)]
        page_w = np.asarray(V.multiply(on_page > 0).sum(axis=1)).ravel()
        for i, b in enumerate(batch):
            if b["page_url"] in listings and b["link_url"] in row_of:
                continue    # an entry of a listing, for a page judged on its own
            by_link = bool(b["target_off"])
            by_text = (len(b["text"].split()) >= MIN_BLOCK_WORDS and n_drift[i] >= MIN_DRIFT_WORDS
                       and known_w[i] - core_w[i] > core_w[i] and page_w[i] < 0.5 * known_w[i])
            if by_link or by_text:
                out.append(_block_finding(b, V[i], by_link, drift_terms, model.terms, severity))
    return out


def main_blocks_sql(crawl_id: int) -> str:
    """Every paragraph of main text with MIN_MAIN_BLOCK_WORDS words or more that is not site
    furniture (those are judged by _block_flags), with the first link it holds."""
    cid = int(crawl_id)
    return f"""
        WITH repeated AS ({store.repeated_blocks_sql(cid)}),
        firsts AS (
            SELECT source_url AS page_url, block_index, arg_min(url, position) AS url FROM links
            WHERE crawl_id = {cid} AND element = 'a' AND url IS NOT NULL GROUP BY ALL
        )
        SELECT b.page_url, b.block_index, b.text, f.url AS link_url FROM blocks b
        LEFT JOIN firsts f USING (page_url, block_index)
        WHERE b.crawl_id = {cid} AND b.role = 'main' AND b.word_count >= {MIN_MAIN_BLOCK_WORDS}
          AND b.text_hash NOT IN (SELECT text_hash FROM repeated)
        ORDER BY b.page_url, b.block_index
    """


def _main_block_flags(con, crawl_id: int, options: Options, model: SiteModel,
                      pages: PageScores) -> list[dict]:
    """Paragraphs of main text, on a page that is itself on topic (at or above the cutoff), that
    are far from both the site's core and the rest of their page (a paragraph injected into one
    article), read as prose, are not most of their page, and are not on the site's subject.

    Far means below the cutoff of off_topic_cutoff over every judged paragraph's similarity
    to the core (the same robust rule as for pages, on the distribution of paragraphs), and
    below BLOCK_RATIO of the typical paragraph's similarity."""
    if model.cutoff is None or model.no_verdict:
        return []
    row_of = {url: i for i, url in enumerate(pages.urls)}
    # a page kept on topic by the subject or template rule (below the cutoff itself) is in its
    # own register throughout: its paragraphs' distance from the core is the page's, judged there
    judged = {u for u, i in row_of.items() if not pages.utility[i] and not pages.off[i]
              and pages.similarity[i] >= model.cutoff}
    sims, candidates = [], []
    for batch in store.iter_batches(con, main_blocks_sql(crawl_id), size=BATCH):
        batch = [b for b in batch if b["page_url"] in judged and reads_as_prose(b["text"])]
        if not batch:
            continue
        V = model.vectorizer.transform([READ_MORE.sub(" ", b["text"]) for b in batch])
        sim, utility, _, _ = model.score(V)
        keep = (V.getnnz(axis=1) >= MIN_DRIFT_WORDS) & ~utility
        sims.append(sim[keep])
        candidates += [(b, float(x), V[i]) for i, (b, x) in enumerate(zip(batch, sim)) if keep[i]]
    if not candidates:
        return []
    typical, cutoff = off_topic_cutoff(np.concatenate(sims))
    cutoff = min(cutoff, BLOCK_RATIO * typical)
    far = [c for c in candidates if c[1] < cutoff]
    if far and model.site_terms is not None and model.typical_shared is not None:
        # a paragraph on the site's subject in another register (a study's methods) is not drift
        subject = on_subject(sp.vstack([v for _, _, v in far]), model.site_terms, model.centroid,
                             model.typical_shared)
        far = [c for c, on in zip(far, subject) if not on]
    if not far:
        return []
    # the rest of each page, without the paragraph: what the paragraph should belong to
    wanted = sorted({b["page_url"] for b, _, _ in far})
    texts = dict(con.execute(f"SELECT url, text FROM ({store.main_text_sql(crawl_id)}) "
                             "WHERE url IN (SELECT unnest(?::VARCHAR[]))", [wanted]).fetchall())
    rest = model.vectorizer.transform([texts.get(b["page_url"], "").replace(b["text"], " ")
                                       for b, _, _ in far])
    to_page = np.asarray(rest.multiply(sp.vstack([v for _, _, v in far])).sum(axis=1)).ravel()
    severity = severity_for(options.severity, "off_topic_block")
    out = []
    for (block, sim, vector), page_sim in zip(far, to_page):
        page_words = len(texts.get(block["page_url"], "").split())
        if page_sim >= cutoff or len(block["text"].split()) > MAX_BLOCK_SHARE * page_words:
            continue    # near its page, or it is most of the page: the page's verdict, not a block's
        order = np.lexsort((model.terms[vector.indices], -vector.data))
        words = [str(model.terms[vector.indices[j]]) for j in order][:LABEL_WORDS]
        out.append({
            "kind": "off_topic_block", "page_url": block["page_url"], "severity": severity,
            "target": block["link_url"] or "",
            "detail": (f"“{quote(block['text'])}”: a paragraph of the main text far from the site's "
                       f"topic (similarity {sim:.2f}; paragraphs below {cutoff:.2f} are far) and from "
                       f"the rest of its page ({page_sim:.2f}); its words: {', '.join(words)}"),
            "suggestion": ("Remove this paragraph if it was not written for the page (injected links "
                           "are a sign of a hacked or spammed site), or rewrite it around the page's topic"),
        })
    return out


def _block_finding(block: dict, vector, by_link: bool, drift_terms: np.ndarray,
                   terms: np.ndarray, severity: str) -> dict:
    order = np.lexsort((terms[vector.indices], -vector.data))
    words = [str(terms[vector.indices[j]]) for j in order
             if drift_terms[vector.indices[j]]][:LABEL_WORDS]
    reasons = []
    if by_link:
        reasons.append(f"links to an off-topic page (topic: {block['target_label'] or 'none'})")
    if words:
        reasons.append(f"words from the site's off-topic pages: {', '.join(words)}")
    if block["carriers"] > 1:
        reasons.append(f"the same block is on {block['carriers']} pages")
    return {
        "kind": "off_topic_block", "page_url": block["page_url"], "severity": severity,
        "target": block["link_url"] or "",
        "detail": f"“{quote(block['text'])}”: " + "; ".join(reasons),
        "block_text": quote(block["text"]),
        "suggestion": ("Remove this block, or replace it with a link to related content on the "
                       "site's own topic"),
    }


def _changed_flags(con, crawl_id: int, options: Options, model: SiteModel,
                   pages: PageScores) -> list[dict]:
    """URLs whose main text now has little in common with their text in the previous crawl
    and whose topic is not the same any more."""
    previous = store.previous_crawl(con, crawl_id)
    opts = options.topics
    if previous is None or not pages.urls:
        return []
    row_of = {url: i for i, url in enumerate(pages.urls)}
    severity = severity_for(options.severity, "topic_changed")
    out = []
    for batch in store.iter_batches(con, store.main_text_sql(previous), size=BATCH):
        batch = [b for b in batch
                 if b["url"] in row_of and b["content_hash"] != pages.hashes[row_of[b["url"]]]
                 and skip_reason(b["text"], b["words"], b["lang"], model.site_lang,
                                 model.english, opts.min_words) is None]
        if not batch:
            continue
        before = model.vectorizer.transform([b["text"] for b in batch])
        rows = [row_of[b["url"]] for b in batch]
        after = pages.X[rows]
        sims = np.asarray(before.multiply(after).sum(axis=1)).ravel()
        _, utility_before, _, topic_before = model.score(before)
        for i, (b, sim) in enumerate(zip(batch, sims)):
            then, now = int(topic_before[i]), int(pages.topic[rows[i]])
            # a rewrite on the same topic keeps its topic (and a utility page stays one)
            same = (then == now and then >= 0) or (utility_before[i] and pages.utility[rows[i]])
            if sim >= opts.changed_threshold or same:
                continue
            gone = _top_terms(before[i], after[i], model.terms)
            new = _top_terms(after[i], before[i], model.terms)
            out.append({
                "kind": "topic_changed", "page_url": b["url"], "severity": severity, "target": "",
                "detail": (f"similarity {sim:.2f} to its text in crawl {previous} (flagged below "
                           f"{opts.changed_threshold:.2f}); topic then: "
                           f"{model.label(then) or 'none'}; now: {model.label(now) or 'none'}; "
                           f"words gone: {', '.join(gone) or 'none'}; "
                           f"words new: {', '.join(new) or 'none'}"),
                "suggestion": ("Check that the change was meant; if the page was replaced or "
                               "hacked, restore its previous content"),
            })
    return out


def _top_terms(a, b, terms: np.ndarray, n: int = LABEL_WORDS) -> list[str]:
    """The words that weigh most more in row a than in row b."""
    diff = (a - b).tocsr()
    diff.data = np.where(diff.data > 0, diff.data, 0)
    diff.eliminate_zeros()
    order = np.lexsort((terms[diff.indices], -diff.data))[:n]
    return [str(terms[diff.indices[j]]) for j in order]
