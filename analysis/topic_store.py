"""The stored site model of topic drift (crawler/schema.sql: topic_vocabularies, topic_models,
topic_vectors): a crawl's model is saved by `analyse` and loaded by `recheck` instead of
refitted; the weekly rerun keeps last week's vocabulary while few pages changed since it was
fitted, and reads the TF-IDF vectors of unchanged texts instead of computing them again.
No pickle: every part is plain numbers and words (a database is read, never executed)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer

from crawler.config import TopicsOptions
from crawler.text import TOPIC_TOKEN_PATTERN

log = logging.getLogger(__name__)

# Bump when the text a vector is made of, or how, changes (strip_read_more, the analyzer).
VECTORS_VERSION = 2
# The vocabulary is refitted once more than this share of the modelled pages has a text its
# fitted-on crawl did not have: new words would be missing from the model.
MAX_CHANGED_SHARE = 0.2
# A smaller site is refitted every time: it is quick, and on a site this small a new page's
# own words (a hacked page's "bitcoin") would enter the vocabulary; on a large one the
# vocabulary holds the max_features words most used on a sample of pages, which one week's
# few new pages barely change.
MIN_REUSE_PAGES = 2000
# ...and it is refitted when a changed text is mostly words it does not know (a page replaced by
# spam about another subject): those words are the finding, and must be in the model.
MAX_UNKNOWN_SHARE = 0.5
VOCABULARY_OPTIONS = ("min_words", "max_features", "fit_sample")


@dataclass
class Vocabulary:
    """A fitted TF-IDF vectorizer as stored: topic_vocabularies.vocabulary `id`."""
    id: int
    vectorizer: TfidfVectorizer
    english: bool
    site_lang: str | None
    fitted_on: int


def vocabulary_made_with(opts: TopicsOptions) -> str:
    return json.dumps({"vectors": VECTORS_VERSION, "sklearn": sklearn.__version__,
                       "token_pattern": TOPIC_TOKEN_PATTERN,
                       **{name: getattr(opts, name) for name in VOCABULARY_OPTIONS}}, sort_keys=True)


def model_made_with(opts: TopicsOptions) -> str:
    """Every option a site model depends on: a model made otherwise is not the one to use."""
    return json.dumps({"vocabulary": vocabulary_made_with(opts),
                       **{f.name: repr(getattr(opts, f.name)) for f in fields(opts)}}, sort_keys=True)


def make_vectorizer(english: bool, pages: int, max_features: int, vocabulary=None) -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=True, token_pattern=TOPIC_TOKEN_PATTERN, stop_words="english" if english else None,
        # without a stop-word list, words on over half the pages are the function words
        max_df=1.0 if english or pages < 20 else 0.5,
        sublinear_tf=True, max_features=max_features, dtype=np.float32, vocabulary=vocabulary)


# --- vocabularies ---------------------------------------------------------------------------

def save_vocabulary(con, crawl_id: int, vectorizer: TfidfVectorizer, english: bool,
                    site_lang: str | None, opts: TopicsOptions) -> Vocabulary:
    vid = con.execute("SELECT coalesce(max(vocabulary), 0) + 1 FROM topic_vocabularies").fetchone()[0]
    con.execute("INSERT INTO topic_vocabularies VALUES (?, ?, ?, ?, ?, ?, ?)",
                [vid, int(crawl_id), vocabulary_made_with(opts), english, site_lang,
                 [str(t) for t in vectorizer.get_feature_names_out()],
                 vectorizer.idf_.astype(np.float32).tolist()])
    return Vocabulary(vid, vectorizer, english, site_lang, int(crawl_id))


def load_vocabulary(con, vid: int, opts: TopicsOptions) -> Vocabulary | None:
    row = con.execute("SELECT fitted_on, made_with, english, site_lang, terms, idf "
                      "FROM topic_vocabularies WHERE vocabulary = ?", [vid]).fetchone()
    if row is None or row[1] != vocabulary_made_with(opts):
        return None
    fitted_on, _, english, site_lang, terms, idf = row
    vectorizer = make_vectorizer(english, len(terms), opts.max_features, vocabulary=terms)
    vectorizer.idf_ = np.array(idf, dtype=np.float32)
    return Vocabulary(vid, vectorizer, english, site_lang, fitted_on)


def reusable_vocabulary(con, crawl_id: int, previous: int | None, opts: TopicsOptions) -> Vocabulary | None:
    """The vocabulary of the previous crawl's model, unless it was made with other options, the
    site has fewer than MIN_REUSE_PAGES pages with text, or more than MAX_CHANGED_SHARE of this
    crawl's texts are not in the crawl it was fitted on."""
    if previous is None:
        return None
    row = con.execute("SELECT vocabulary FROM topic_models WHERE crawl_id = ?", [previous]).fetchone()
    vocabulary = load_vocabulary(con, row[0], opts) if row else None
    if vocabulary is None:
        return None
    total, changed = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE content_hash NOT IN "
        "(SELECT content_hash FROM main_texts WHERE crawl_id = ?)) "
        "FROM main_texts WHERE crawl_id = ? AND words >= ?",
        [vocabulary.fitted_on, crawl_id, opts.min_words]).fetchone()
    if total < MIN_REUSE_PAGES:
        return None
    if changed > MAX_CHANGED_SHARE * total:
        log.info("topics: %s of %s texts changed since crawl %s: the vocabulary is refitted",
                 changed, total, vocabulary.fitted_on)
        return None
    if _new_words(con, crawl_id, vocabulary, opts.min_words):
        return None
    return vocabulary


def _new_words(con, crawl_id: int, vocabulary: Vocabulary, min_words: int) -> bool:
    """Whether a text with no stored vector under the vocabulary is mostly words it lacks."""
    analyze = vocabulary.vectorizer.build_analyzer()
    known = vocabulary.vectorizer.vocabulary_
    cur = con.cursor()
    cur.execute(f"""
        SELECT m.url, m.text FROM main_texts m {cached_join(vocabulary.id, 'page', 'm.content_hash')}
        WHERE m.crawl_id = ? AND m.words >= ? AND v.text_hash IS NULL""", [crawl_id, min_words])
    try:
        while rows := cur.fetchmany(500):
            for url, text in rows:
                tokens = analyze(text)
                unknown = sum(t not in known for t in tokens)
                if tokens and unknown > MAX_UNKNOWN_SHARE * len(tokens):
                    log.info("topics: %s is mostly words the vocabulary of crawl %s lacks: it is "
                             "refitted", url, vocabulary.fitted_on)
                    return True
    finally:
        cur.close()
    return False


def drop_unused(con) -> None:
    """Vocabularies (and their vectors) no crawl's model uses any more: a refitted crawl's old one."""
    con.execute("DELETE FROM topic_vectors WHERE vocabulary NOT IN (SELECT vocabulary FROM topic_models)")
    con.execute("DELETE FROM topic_vocabularies WHERE vocabulary NOT IN (SELECT vocabulary FROM topic_models)")


# --- vectors --------------------------------------------------------------------------------

def cached_join(vocabulary: int | None, kind: str, hash_sql: str) -> str:
    """A LEFT JOIN of topic_vectors (alias v) on hash_sql, or of nothing without a vocabulary."""
    if vocabulary is None:
        return ("LEFT JOIN (SELECT NULL::VARCHAR AS text_hash, NULL::BOOLEAN AS prose, "
                "NULL::INTEGER[] AS indices, NULL::FLOAT[] AS weights) v ON false")
    return (f"LEFT JOIN topic_vectors v ON v.vocabulary = {int(vocabulary)} AND v.kind = '{kind}' "
            f"AND v.text_hash = {hash_sql}")


def rows_of(indices: pa.ListArray, weights: pa.ListArray, n_terms: int) -> sp.csr_matrix:
    """The CSR matrix of stored vectors (list columns, no nulls)."""
    lengths = pc.list_value_length(indices).to_numpy(zero_copy_only=False)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return sp.csr_matrix((pc.list_flatten(weights).to_numpy(zero_copy_only=False).astype(np.float32),
                          pc.list_flatten(indices).to_numpy(zero_copy_only=False).astype(np.int32),
                          indptr), shape=(len(indices), n_terms))


class VectorWriter:
    """New vectors of one vocabulary and kind, written in batches (each text once)."""

    def __init__(self, con, vocabulary: int, kind: str, batch: int = 20_000):
        self.con, self.vocabulary, self.kind, self.batch = con, int(vocabulary), kind, batch
        self.seen: set[str] = set()
        self.hashes: list[str] = []
        self.prose: list[bool | None] = []
        self.parts: list[sp.csr_matrix] = []

    def add(self, hashes: list[str], X: sp.csr_matrix, prose: list[bool] | None = None) -> None:
        keep = []
        for i, h in enumerate(hashes):
            if h not in self.seen:
                self.seen.add(h)
                keep.append(i)
        if not keep:
            return
        self.hashes += [hashes[i] for i in keep]
        self.prose += [prose[i] for i in keep] if prose is not None else [None] * len(keep)
        self.parts.append(X[keep])
        if len(self.hashes) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.hashes:
            return
        X = sp.vstack(self.parts, format="csr")
        offsets = pa.array(X.indptr.astype(np.int32))
        table = pa.table({
            "vocabulary": pa.array(np.full(len(self.hashes), self.vocabulary, dtype=np.int32)),
            "kind": pa.array([self.kind] * len(self.hashes)),
            "text_hash": pa.array(self.hashes, type=pa.string()),
            "prose": pa.array(self.prose, type=pa.bool_()),
            "indices": pa.ListArray.from_arrays(offsets, pa.array(X.indices.astype(np.int32))),
            "weights": pa.ListArray.from_arrays(offsets, pa.array(X.data.astype(np.float32))),
        })
        cur = self.con.cursor()   # the connection may hold a query being streamed
        try:
            cur.register("_new_vectors", table)
            cur.execute(
                "INSERT INTO topic_vectors SELECT * FROM _new_vectors WHERE text_hash NOT IN "
                "(SELECT text_hash FROM topic_vectors WHERE vocabulary = ? AND kind = ?)",
                [self.vocabulary, self.kind])
        finally:
            cur.close()
        self.hashes, self.prose, self.parts = [], [], []


# --- site models ----------------------------------------------------------------------------

def save_model(con, crawl_id: int, model, opts: TopicsOptions) -> None:
    """The crawl's SiteModel (topic_model.py) as topic_models' row; labels are in topic_labels."""
    con.execute("DELETE FROM topic_models WHERE crawl_id = ?", [crawl_id])
    core, drift = model.topics
    con.execute(
        "INSERT INTO topic_models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [int(crawl_id), model.vocabulary, model_made_with(opts), model.typical, model.cutoff,
         model.no_verdict, model.typical_shared, model.centroid.astype(np.float64).tolist(),
         None if model.site_terms is None else np.flatnonzero(model.site_terms).tolist(),
         _components(core), _components(drift)])


def _components(group) -> list | None:
    return None if group.nmf is None else group.nmf.components_.astype(np.float32).tolist()


def model_row(con, crawl_id: int, opts: TopicsOptions) -> dict | None:
    """The stored parts of the crawl's site model (topic_model.stored_model builds it), or None
    when there is none made with these options."""
    row = con.execute(
        "SELECT vocabulary, made_with, typical, cutoff, no_verdict, typical_shared, centroid, "
        "site_terms, core, drift FROM topic_models WHERE crawl_id = ?", [crawl_id]).fetchone()
    if row is None or row[1] != model_made_with(opts):
        return None
    vocabulary = load_vocabulary(con, row[0], opts)
    if vocabulary is None:
        return None
    n_terms = len(vocabulary.vectorizer.vocabulary_)
    site_terms = None
    if row[7] is not None:
        site_terms = np.zeros(n_terms, dtype=bool)
        site_terms[np.array(row[7], dtype=np.int64)] = True
    return {"vocabulary": vocabulary, "typical": row[2], "cutoff": row[3], "no_verdict": row[4],
            "typical_shared": row[5], "centroid": np.array(row[6], dtype=np.float64),
            "site_terms": site_terms, "components": [_array(row[8], n_terms), _array(row[9], n_terms)],
            "labels": con.execute("SELECT topic, label, is_core FROM topic_labels WHERE crawl_id = ? "
                                  "ORDER BY topic", [crawl_id]).fetchall()}


def _array(components: list | None, n_terms: int) -> np.ndarray | None:
    if components is None:
        return None
    return np.array(components, dtype=np.float32).reshape(len(components), n_terms)
