"""The site model of topic drift: TF-IDF over the crawl's main texts (streamed, fitted on a
bounded sample), the site's core direction, each page's similarity and verdict, NMF topics.
fit_site returns it; analysis/topics.py turns it into findings (docs/topics.md)."""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer

from analysis import topic_store

from analysis.topic_rules import (MAX_RATIO, UTILITY_WORDS,
                                  english_share, off_topic_cutoff, on_subject, shared_similarity,
                                  site_terms_of, skip_reason, topic_count, utility_weight,
                                  weighted_median)
from crawler import relations, store
from crawler.config import TopicsOptions
from crawler.urls import normalize
from crawler.text import ENGLISH_MIN_SHARE, strip_read_more

log = logging.getLogger(__name__)

MIN_PAGES = 5            # fewer pages with text: there is no core to compare with
MAX_DRIFT_SHARE = 0.4    # without hints, more pages far from the core: no dominant topic
MIN_JUDGED_WORDS = 50    # fewer words (a short tip, a thank-you note) are too little evidence of drift
TOPIC_SAMPLE = 5000      # pages an NMF is fitted on; every page is then given a topic
LABEL_WORDS = 4          # keywords in a topic label
DISTINCTIVE_WORDS = 5
BATCH = 2000


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
    vocabulary: int | None = None          # topic_vocabularies.vocabulary, once stored

    def score(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(similarity, utility, off topic, topic) of texts outside the crawl's model (a page's
        previous version, a page fetched again), by the rules the crawl's pages were judged by."""
        similarity, utility = self.closeness(X)
        nonempty = X.getnnz(axis=1) > 0
        off = ~utility & nonempty & (similarity < (self.cutoff or 0))
        if self.site_terms is not None and self.typical_shared is not None:
            off &= ~on_subject(X, self.site_terms, self.centroid, self.typical_shared)
        core, drift = self.topics
        topic = np.full(X.shape[0], -1)
        topic[~utility & ~off] = core.assign(X[~utility & ~off])
        topic[off] = drift.assign(X[off])
        return similarity, utility, off, topic

    def closeness(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(similarity to the core, utility) of each row: score's first two, without its NMF
        topics (a paragraph needs none, and they were most of the time scoring 800,000)."""
        similarity = np.clip(np.asarray(X @ self.centroid).ravel(), 0, 1)
        utility = (utility_weight(X, self.utility) >= self.utility_share) & (X.getnnz(axis=1) > 0)
        return similarity, utility

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


def new_nmf(k: int) -> NMF:
    return NMF(n_components=k, init="nndsvda", random_state=0, max_iter=300, tol=1e-3)


def utility_terms(terms: np.ndarray) -> np.ndarray:
    return np.array([t in UTILITY_WORDS for t in terms], dtype=bool)


def stored_model(con, crawl_id: int, opts: TopicsOptions) -> SiteModel | None:
    """The SiteModel `analyse` stored for the crawl (topic_store), or None when it has none made
    with these options."""
    row = topic_store.model_row(con, crawl_id, opts)
    if row is None:
        return None
    vocabulary = row["vocabulary"]
    terms = vocabulary.vectorizer.get_feature_names_out()
    groups, offset = [], 0
    for H, is_core in zip(row["components"], (True, False)):
        names = [label for _, label, core in row["labels"] if core == is_core]
        nmf = None
        if H is not None:
            nmf = new_nmf(H.shape[0])
            nmf.components_, nmf.n_components_, nmf.n_features_in_ = H, H.shape[0], H.shape[1]
        groups.append(Topics(nmf, names, offset, is_core))
        offset += len(names)
    return SiteModel(vocabulary.vectorizer, terms, utility_terms(terms), row["centroid"],
                     row["typical"], row["cutoff"], row["no_verdict"], vocabulary.site_lang,
                     vocabulary.english, groups, opts.utility_share, opts.min_words,
                     row["site_terms"], row["typical_shared"], vocabulary.id)


def _site_language(con, main_sql: str, min_words: int) -> str | None:
    """The most common primary language of the pages with text, from <html lang>."""
    row = con.execute(
        f"SELECT regexp_split_to_array(lower(trim(lang)), '[-_]')[1] AS l, count(*) AS n "
        f"FROM ({main_sql}) WHERE words >= ? AND nullif(trim(lang), '') IS NOT NULL "
        f"GROUP BY l ORDER BY n DESC, l LIMIT 1", [min_words]).fetchone()
    return row[0] if row else None


def _fit_vectorizer(con, main_sql: str, opts: TopicsOptions, site_lang: str | None):
    """Fit TF-IDF on a deterministic sample of at most fit_sample pages, streamed: the sample's
    texts are never all in memory at once (20,000 texts and their sort held about 200 MB).

    Returns (vectorizer or None, english, {url: row of the sample's matrix}, that matrix): the
    sampled pages' vectors are kept so that they are not computed twice.
    """
    picked = (f"SELECT url, text, lang FROM ({main_sql}) WHERE url IN (SELECT url FROM ({main_sql}) "
              f"WHERE words >= ? ORDER BY md5(url), url LIMIT ?) ORDER BY md5(url), url")
    params = [opts.min_words, opts.fit_sample]
    shares: list[float] = []   # of the sample's first 500 pages: does the site read as English?
    urls: list[str] = []
    for batch in store.iter_batches(con, picked, params, size=1000):
        for row in batch:
            if len(shares) < 500:
                shares.append(english_share(row["text"]))
            # a page in another language without a lang attribute only adds a few words to the vocabulary
            if skip_reason(row["text"], opts.min_words, row["lang"], site_lang, False, opts.min_words) is None:
                urls.append(row["url"])
    english = site_lang in (None, "en") and not (shares and np.median(shares) < ENGLISH_MIN_SHARE)
    if not urls:
        return None, english, {}, None
    kept = set(urls)

    def texts():   # the same pages in the same order, read a second time
        for batch in store.iter_batches(con, picked, params, size=1000):
            yield from (row["text"] for row in batch if row["url"] in kept)

    vectorizer = topic_store.make_vectorizer(english, len(urls), opts.max_features)
    try:
        fitted = vectorizer.fit_transform(texts())
    except ValueError:   # no word survives: numbers and stop words only
        return None, english, {}, None
    return vectorizer, english, {url: i for i, url in enumerate(urls)}, fitted.tocsr()


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


def distinctive(X, similarity: np.ndarray, centroid: np.ndarray, terms: np.ndarray,
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
    nmf = new_nmf(k)
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


def _pages_sql(crawl_id: int, vocabulary: int | None) -> str:
    """Every page's main text, unsorted (a sort of every text does not fit the analyses' memory
    cap at 100,000 pages); the text is left out where the vocabulary has its vector stored."""
    return f"""
        SELECT m.url, m.words, m.content_hash, m.lang, v.indices, v.weights,
               CASE WHEN v.indices IS NULL THEN m.text END AS text
        FROM main_texts m {topic_store.cached_join(vocabulary, 'page', 'm.content_hash')}
        WHERE m.crawl_id = {int(crawl_id)}"""


def _read_pages(con, crawl_id: int, opts: TopicsOptions, skipped, reuse):
    """Stream the crawl's main texts into a sparse TF-IDF matrix, a batch at a time, rows in URL
    order. With `reuse` (a stored Vocabulary) the vectorizer is that one and stored vectors are
    read, not computed.

    Returns (vectorizer, site_lang, english, urls, hashes, X, utility weight per row, words per
    row, computed: bool per row whose vector was not stored), vectorizer None when no page has
    a word to model."""
    main_sql = relations.main_text_sql(crawl_id, ordered=False)
    site_lang = _site_language(con, main_sql, opts.min_words)
    if reuse is not None and reuse.site_lang != site_lang:
        reuse = None
    if reuse is None:
        vectorizer, english, fitted_rows, fitted = _fit_vectorizer(con, main_sql, opts, site_lang)
    else:
        vectorizer, english, fitted_rows, fitted = reuse.vectorizer, reuse.english, {}, None
    terms = vectorizer.get_feature_names_out() if vectorizer else np.array([], dtype=object)
    flags = utility_terms(terms)
    urls, hashes, parts, utility, words, computed = [], [], [], [], [], []
    cur = con.cursor()
    reader = cur.sql(_pages_sql(crawl_id, reuse.id if reuse else None)).to_arrow_reader(BATCH)
    for batch in reader:
        cols = {name: batch.column(name) for name in ("url", "words", "content_hash", "lang", "text")}
        rows = zip(*(cols[name].to_pylist() for name in cols))
        stored = batch.column("indices").is_valid().to_numpy(zero_copy_only=False)
        keep_stored, fresh, meta = [], [], {}
        for i, (url, n_words, content_hash, lang, text) in enumerate(rows):
            if stored[i]:   # its text was modelled before: only the page's own language can differ
                reason = skip_reason("-", n_words, lang, site_lang, False, opts.min_words)
            else:
                reason = skip_reason(text, n_words, lang, site_lang, english, opts.min_words)
            if reason is None and vectorizer is None:
                reason = "no word to model (numbers and stop words only)"
            if reason is not None:
                skipped(url, content_hash, reason)
                continue
            (keep_stored if stored[i] else fresh).append(i)
            meta[i] = (url, content_hash, n_words)
        for index, was_stored in ((keep_stored, True), (fresh, False)):
            if not index:
                continue
            # a batch's rows are stacked stored first, then computed: its URLs in that order too
            for i in index:
                url, content_hash, n_words = meta[i]
                urls.append(url)
                hashes.append(content_hash)
                words.append(n_words)
            if was_stored:
                taken = batch.take(pa.array(index))
                part = topic_store.rows_of(taken.column("indices"), taken.column("weights"), terms.size)
            else:
                texts = cols["text"].take(pa.array(index)).to_pylist()
                page_urls = cols["url"].take(pa.array(index)).to_pylist()
                part = _vectors(vectorizer, page_urls, texts, fitted_rows, fitted)
            parts.append(part)
            utility.append(utility_weight(part, flags))
            computed.append(np.full(len(index), not was_stored))
    cur.close()
    # the rows of each batch are its stored rows, then its computed ones: put them in URL order
    order = np.argsort(np.array(urls, dtype=object), kind="stable") if urls else np.zeros(0, dtype=np.int64)
    hashes = [hashes[i] for i in order]
    urls = [urls[i] for i in order]
    if parts:
        X = sp.vstack(parts, format="csr")
        parts.clear()    # the batches' rows, stacked, and in URL order: two copies at once, not three
        X = X[order]
        utility, computed = np.concatenate(utility)[order], np.concatenate(computed)[order]
    else:
        X = sp.csr_matrix((0, len(terms)), dtype=np.float32)
        utility, computed = np.zeros(0), np.zeros(0, dtype=bool)
    return (vectorizer, site_lang, english, urls, hashes, X, utility,
            np.array(words, dtype=np.int64)[order], computed)


def fit_site(con, crawl_id: int, opts: TopicsOptions, skipped=None, reuse=None, keep=False):
    """Model the crawl's site: (SiteModel, PageScores), or (None, None) when no page has text
    to model. `skipped(url, content_hash, reason)` is called for each page left out.

    reuse: a stored topic_store.Vocabulary to model the pages with (its vectors are read where
    stored); keep: store the vocabulary, if new, and the page vectors computed (analyse)."""
    vectorizer, site_lang, english, urls, hashes, X, utility_weight, words, computed = _read_pages(
        con, crawl_id, opts, skipped or (lambda *row: None), reuse)
    if vectorizer is None:
        return None, None
    vocabulary = None
    if keep:
        if reuse is None or reuse.vectorizer is not vectorizer:
            reuse = topic_store.save_vocabulary(con, crawl_id, vectorizer, english, site_lang, opts)
        vocabulary = reuse.id
        writer = topic_store.VectorWriter(con, vocabulary, "page")
        for start in range(0, len(urls), BATCH):
            rows = np.flatnonzero(computed[start:start + BATCH]) + start
            if rows.size:
                writer.add([hashes[i] for i in rows], X[rows])
        writer.flush()
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
        core_rows = np.flatnonzero(core_pages)   # a slice at a time: no copy of most of X
        shared = [shared_similarity(X[core_rows[i:i + BATCH]], site_terms, centroid)
                  for i in range(0, core_rows.size, BATCH)]
        typical_shared = weighted_median(np.concatenate(shared), weights[core_pages])
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
                      opts.utility_share, opts.min_words, site_terms, typical_shared, vocabulary)
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
        f"SELECT url, text, words FROM ({relations.main_text_sql(crawl_id, 'full', ordered=False)}) "
        "WHERE url IN (SELECT unnest(?::VARCHAR[]))", [urls]).fetchall()}
    X = vectorizer.transform([strip_read_more(rows.get(u, ("", 0))[0] or "") for u in urls])
    return (np.clip(np.asarray(X @ centroid).ravel(), 0, 1),
            on_subject(X, site_terms, centroid, typical_shared),
            np.array([rows.get(u, ("", 0))[1] or 0 for u in urls], dtype=np.int64))


