"""Tests of analysis/topic_store.py: the site model `analyse` stores is the one `recheck` scores
with (no refit), and the weekly rerun keeps the vocabulary and the vectors of unchanged texts,
with the findings of a rerun from scratch. Real DuckDB files, the clinic site of test_topics."""

from __future__ import annotations

import numpy as np
import pytest
from test_topics import (BLOG_URL, CLINIC_URL, CRYPTO, KETAMINE_REWRITE, OFFTOPIC_POSTS, full_site_extras,
                         site_pages, site_teasers, store_crawl)

from analysis import topic_model, topic_store, topics
from analysis.topic_model import fit_site, stored_model
from crawler import relations, store
from crawler.config import Options, TopicsOptions

FLAGS = "SELECT kind, page_url, target FROM flags WHERE crawl_id = ? ORDER BY ALL"


@pytest.fixture
def con(tmp_path):
    connection = store.open_store(tmp_path / "audit.duckdb")
    yield connection
    connection.close()


@pytest.fixture
def analysed(con):
    crawl_id = store_crawl(con, site_pages(), site_teasers(), full_site_extras())
    topics.analyse(con, crawl_id, Options())
    return con, crawl_id


def texts_to_score(con, crawl_id) -> list[str]:
    texts = [t for (t,) in con.execute("SELECT text FROM main_texts WHERE crawl_id = ? AND words > 0 "
                                       "ORDER BY url", [crawl_id]).fetchall()]
    return texts + [" ".join(CRYPTO), " ".join(KETAMINE_REWRITE)]


def test_the_stored_model_scores_every_text_as_the_fitted_one(analysed):
    con, crawl_id = analysed
    opts = TopicsOptions()
    fitted, _ = fit_site(con, crawl_id, opts)
    stored = stored_model(con, crawl_id, opts)
    assert stored is not None and stored.vocabulary is not None
    texts = texts_to_score(con, crawl_id)
    X_fitted, X_stored = fitted.vectorizer.transform(texts), stored.vectorizer.transform(texts)
    assert (X_fitted != X_stored).nnz == 0
    sim_f, util_f, off_f, topic_f = fitted.score(X_fitted)
    sim_s, util_s, off_s, topic_s = stored.score(X_stored)
    assert np.allclose(sim_f, sim_s, atol=1e-9)
    assert (util_f == util_s).all() and (off_f == off_s).all() and (topic_f == topic_s).all()
    assert off_s.sum() >= 3 and (topic_s >= 0).sum() > len(texts) / 2   # the comparison has teeth
    assert [fitted.label(t) for t in topic_f] == [stored.label(t) for t in topic_s]
    assert (fitted.typical, fitted.cutoff, fitted.no_verdict) == (stored.typical, stored.cutoff, stored.no_verdict)


def test_recheck_scores_with_the_stored_model_not_the_crawl(analysed):
    con, crawl_id = analysed
    perfume = " ".join(OFFTOPIC_POSTS["/blog/oud-perfume-guide"])
    before = topics.score_text(con, crawl_id, perfume, Options(), lang="en")
    assert before["off_topic"] is True
    # without the crawl's texts a refit would find nothing to model: the answer is the stored model's
    store.drop_main_texts(con, crawl_id)
    con.execute("DELETE FROM blocks WHERE crawl_id = ?", [crawl_id])
    topics._cache.clear()
    assert topics.score_text(con, crawl_id, perfume, Options(), lang="en") == before


def test_a_model_made_with_other_options_is_refitted(analysed):
    con, crawl_id = analysed
    other = TopicsOptions(core_keywords=["ketamine"])
    assert stored_model(con, crawl_id, other) is None
    topics._cache.clear()
    result = topics.score_text(con, crawl_id, " ".join(KETAMINE_REWRITE), Options(topics=other), lang="en")
    assert result["off_topic"] is False and result["similarity"] > 0


def test_a_model_whose_vocabulary_is_gone_is_refitted(analysed):
    con, crawl_id = analysed
    con.execute("DELETE FROM topic_vocabularies")
    assert stored_model(con, crawl_id, TopicsOptions()) is None
    topics._cache.clear()
    perfume = " ".join(OFFTOPIC_POSTS["/blog/oud-perfume-guide"])
    assert topics.score_text(con, crawl_id, perfume, Options(), lang="en")["off_topic"] is True


def week_later(pages: dict) -> dict:
    later = dict(pages)
    later[CLINIC_URL + "/services/ketamine"] = KETAMINE_REWRITE    # rewritten, same topic
    later[BLOG_URL + "/blog/exercise-and-mood"] = pages[BLOG_URL + "/blog/exercise-and-mood"] + [
        "Walking, swimming and cycling help with depression and anxiety, our patients tell us."]
    return later


def test_the_weekly_rerun_keeps_the_vocabulary_and_reads_unchanged_vectors(con, monkeypatch):
    monkeypatch.setattr(topic_store, "MIN_REUSE_PAGES", 1)
    pages = site_pages()
    first = store_crawl(con, pages, site_teasers(), full_site_extras())
    second = store_crawl(con, week_later(pages), site_teasers(), full_site_extras())
    topics.analyse(con, first, Options())
    vectors = con.execute("SELECT count(*) FROM topic_vectors WHERE kind = 'page'").fetchone()[0]
    topics.analyse(con, second, Options())
    (v1,), (v2,) = con.execute("SELECT vocabulary FROM topic_models ORDER BY crawl_id").fetchall()
    assert v1 == v2
    # only the two changed texts were vectorised and stored
    assert con.execute("SELECT count(*) FROM topic_vectors WHERE kind = 'page'").fetchone()[0] == vectors + 2
    reused = con.execute(FLAGS, [second]).fetchall()
    assert ("off_topic_page", BLOG_URL + "/blog/oud-perfume-guide", "") in reused

    # the same crawl analysed from scratch (a vocabulary of its own) finds the same
    monkeypatch.setattr(topic_store, "MIN_REUSE_PAGES", 10 ** 9)
    topics.analyse(con, second, Options())
    (v1,), (v2,) = con.execute("SELECT vocabulary FROM topic_models ORDER BY crawl_id").fetchall()
    assert v2 != v1
    assert con.execute(FLAGS, [second]).fetchall() == reused


def test_each_page_of_the_weekly_rerun_keeps_its_own_vector(con, monkeypatch):
    # stored vectors (unchanged texts) and computed ones (changed texts) are read in one batch:
    # each page's row must be its own text's vector, whatever the order they come in (DuckDB's
    # is unsorted; here in URL order, so that the changed pages come between unchanged ones)
    monkeypatch.setattr(topic_store, "MIN_REUSE_PAGES", 1)
    unsorted = topic_model._pages_sql
    monkeypatch.setattr(topic_model, "_pages_sql", lambda *a: f"SELECT * FROM ({unsorted(*a)}) ORDER BY url")
    pages = site_pages()
    first = store_crawl(con, pages, site_teasers(), full_site_extras())
    second = store_crawl(con, week_later(pages), site_teasers(), full_site_extras())
    topics.analyse(con, first, Options())
    relations.ensure_main_texts(con, second)
    opts = TopicsOptions()
    reuse = topic_store.reusable_vocabulary(con, second, first, opts)
    assert reuse is not None
    model, scores = fit_site(con, second, opts, reuse=reuse)
    rows = {url: (text, h) for url, text, h in con.execute(
        "SELECT url, text, content_hash FROM main_texts WHERE crawl_id = ?", [second]).fetchall()}
    assert [rows[u][1] for u in scores.urls] == scores.hashes
    expected = reuse.vectorizer.transform([rows[u][0] for u in scores.urls])
    assert abs(scores.X - expected).max() < 1e-6
    changed = {CLINIC_URL + "/services/ketamine", BLOG_URL + "/blog/exercise-and-mood"}
    assert changed <= set(scores.urls) and len(scores.urls) > 10     # both kinds of row are there


def test_a_page_turned_to_another_topic_of_the_site_is_flagged_with_the_kept_vocabulary(con, monkeypatch):
    # its old text's vector is read from the store (not vectorised again): the finding is the
    # one a rerun from scratch makes
    monkeypatch.setattr(topic_store, "MIN_REUSE_PAGES", 1)
    pages = site_pages()
    tms = CLINIC_URL + "/services/tms"
    first = store_crawl(con, pages, site_teasers())
    second = store_crawl(con, {**pages, tms: OFFTOPIC_POSTS["/blog/oud-perfume-guide"]}, site_teasers())
    topics.analyse(con, first, Options())
    topics.analyse(con, second, Options())
    (v1,), (v2,) = con.execute("SELECT vocabulary FROM topic_models ORDER BY crawl_id").fetchall()
    assert v1 == v2
    changed = "SELECT page_url, detail FROM flags WHERE crawl_id = ? AND kind = 'topic_changed'"
    kept = con.execute(changed, [second]).fetchall()
    assert [u for u, _ in kept] == [tms] and "words new: " in kept[0][1] and "oud" in kept[0][1]
    monkeypatch.setattr(topic_store, "MIN_REUSE_PAGES", 10 ** 9)
    topics.analyse(con, second, Options())
    assert [u for u, _ in con.execute(changed, [second]).fetchall()] == [tms]


def test_a_page_replaced_by_another_subject_gets_a_new_vocabulary(con, monkeypatch):
    monkeypatch.setattr(topic_store, "MIN_REUSE_PAGES", 1)
    pages = site_pages()
    first = store_crawl(con, pages, site_teasers())
    second = store_crawl(con, {**pages, CLINIC_URL + "/services/tms": CRYPTO}, site_teasers())
    topics.analyse(con, first, Options())
    topics.analyse(con, second, Options())
    (v1,), (v2,) = con.execute("SELECT vocabulary FROM topic_models ORDER BY crawl_id").fetchall()
    assert v1 != v2      # its words (bitcoin, traders) are what the finding must name
    detail, = con.execute("SELECT detail FROM flags WHERE crawl_id = ? AND kind = 'topic_changed' "
                          "AND page_url = ?", [second, CLINIC_URL + "/services/tms"]).fetchone()
    new_words = detail.split("words new:")[1]
    assert "bitcoin" in new_words or "traders" in new_words


def test_a_site_that_changed_much_gets_a_new_vocabulary(con, monkeypatch):
    monkeypatch.setattr(topic_store, "MIN_REUSE_PAGES", 1)
    pages = site_pages()
    first = store_crawl(con, pages, site_teasers())
    changed = {url: paragraphs + [f"Page {i} was updated this week with our new opening hours."]
               for i, (url, paragraphs) in enumerate(sorted(pages.items())) if i % 3 == 0}
    second = store_crawl(con, {**pages, **changed}, site_teasers())
    topics.analyse(con, first, Options())
    topics.analyse(con, second, Options())
    (v1,), (v2,) = con.execute("SELECT vocabulary FROM topic_models ORDER BY crawl_id").fetchall()
    assert v1 != v2


def test_a_refitted_crawls_old_vocabulary_is_dropped(analysed):
    con, crawl_id = analysed
    topics.analyse(con, crawl_id, Options(topics=TopicsOptions(max_topics=3)))
    topics.analyse(con, crawl_id, Options())
    vocabularies = con.execute("SELECT count(*) FROM topic_vocabularies").fetchone()[0]
    assert vocabularies == 2    # the one in use and the one just replaced (dropped at the next run)
    assert con.execute("SELECT count(DISTINCT vocabulary) FROM topic_vectors").fetchone()[0] == 2
