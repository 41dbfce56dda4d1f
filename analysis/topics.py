"""Topic drift findings: off-topic pages, off-topic blocks (teasers, sidebars, injected
paragraphs) and pages whose topic changed since the previous crawl, from the site model of
analysis/topic_model.py; score_text for recheck. The rules and their reasons: docs/topics.md."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from crawler import relations, store
from analysis import pagetypes, topic_store
from analysis.pagetypes import UTILITY_REASON
from analysis.findings import kinds_of, severity_for
from analysis.readability import reads_as_prose
from analysis.topic_model import (BATCH, LABEL_WORDS, MIN_JUDGED_WORDS, PageScores, SiteModel,
                                  distinctive, fit_site, stored_model)
from analysis.topic_rules import off_topic_cutoff, on_subject, skip_reason
from crawler.config import Options, TopicsOptions
from crawler.text import count_words, strip_read_more

KINDS = kinds_of("topics")   # kind -> default severity (analysis/findings.py)


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
QUOTE_CHARS = 160


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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

    The model is the one `analyse` stored for the crawl (topic_store); a crawl analysed by an
    earlier version or with other topics options has it refitted (deterministic). It is kept
    for the next call. Returns similarity, topic, topic_label, off_topic (None when the
    text or the site cannot be judged), distinctive_words, reason, typical and cutoff.
    """
    opts = options.topics
    key = _cache_key(con, crawl_id, opts)
    if key not in _cache:
        _cache.clear()
        _cache[key] = stored_model(con, crawl_id, opts) or fit_site(con, crawl_id, opts)[0]
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
        distinctive_words=distinctive(x, np.array([sim]), model.centroid, model.terms)[0])
    if utility[0]:
        result["reason"] = UTILITY_REASON
    elif model.no_verdict:
        result["reason"] = model.no_verdict
    else:   # as in fit_site: too few words are no evidence of drift (the template rule needs the crawl)
        result["off_topic"] = bool(off[0]) and count_words(text) >= MIN_JUDGED_WORDS
    return result


# --- analyse ---------------------------------------------------------------------------------

def analyse(con, crawl_id: int, options: Options) -> dict[str, int]:
    """Model the crawl's site, write `topics` and `topic_labels`, and flag the drift."""
    relations.ensure_main_texts(con, crawl_id)
    con.execute("DELETE FROM topics WHERE crawl_id = ?", [crawl_id])
    con.execute("DELETE FROM topic_labels WHERE crawl_id = ?", [crawl_id])
    writer = store.BatchWriter(con)

    def skipped(url, content_hash, reason):
        writer.add("topics", {"crawl_id": crawl_id, "url": url, "content_hash": content_hash,
                              "topic": None, "topic_label": None, "similarity": None,
                              "off_topic": None, "distinctive_words": None,
                              "skipped_reason": reason})

    topic_store.drop_unused(con)
    con.execute("DELETE FROM topic_models WHERE crawl_id = ?", [crawl_id])
    # the weekly rerun models the pages with last week's vocabulary while few texts changed
    reuse = topic_store.reusable_vocabulary(con, crawl_id, store.previous_crawl(con, crawl_id),
                                            options.topics)
    model, pages = fit_site(con, crawl_id, options.topics, skipped, reuse=reuse, keep=True)
    flags: list[dict] = []
    if model is not None:
        _write_pages(writer, crawl_id, model, pages)
        writer.flush()
        _write_labels(con, crawl_id, model, pages)
        topic_store.save_model(con, crawl_id, model, options.topics)
        flags += _page_flags(con, crawl_id, options, model)
        # the crawl's repeated blocks (site furniture), found once for both block checks
        repeated = [h for (h,) in con.execute(relations.repeated_blocks_sql(crawl_id)).fetchall()]
        flags += _block_flags(con, crawl_id, options, model, pages, repeated)
        flags += _main_block_flags(con, crawl_id, options, model, pages, repeated)
        flags += _changed_flags(con, crawl_id, options, model, pages)
    writer.flush()
    return store.write_flags(con, crawl_id, "topics", flags, KINDS)


def _write_pages(writer, crawl_id: int, model: SiteModel, pages: PageScores) -> None:
    for start in range(0, len(pages.urls), BATCH):
        end = min(start + BATCH, len(pages.urls))
        words = distinctive(pages.X[start:end], pages.similarity[start:end], model.centroid,
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


def _block_sql(crawl_id: int, vocabulary: int | None = None) -> str:
    """Candidate blocks with the URL each links to (its teaser link, else the first link it
    holds), how many pages carry the same text, the verdict on the page it links to, and the
    block's vector where stored under the vocabulary (its text only where none is stored:
    _block_texts reads it for the few blocks that may be flagged). Its parameter: the crawl's
    repeated block hashes (relations.repeated_blocks_sql)."""
    cid = int(crawl_id)
    return f"""
        WITH repeated AS (SELECT unnest(?::BIGINT[]) AS text_hash),
        candidates AS (
            SELECT b.page_url, b.block_index, b.link_url, b.text_hash, v.indices, v.weights,
                   CASE WHEN v.indices IS NULL THEN b.text END AS text
            FROM blocks b {topic_store.cached_join(vocabulary, 'block', 'b.text_hash::VARCHAR')}
            WHERE b.crawl_id = {cid} AND b.word_count >= 1
              AND (b.role IN ('teaser', 'aside', 'other')
                   OR (b.role = 'main' AND b.text_hash IN (SELECT text_hash FROM repeated)))
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
        SELECT c.page_url, c.block_index, c.text, c.text_hash::VARCHAR AS text_hash,
               coalesce(c.link_url, f.url) AS link_url,
               k.carriers, t.off_topic AS target_off, t.topic_label AS target_label,
               c.indices, c.weights
        FROM candidates c JOIN carriers k USING (text_hash)
        LEFT JOIN first_links f USING (page_url, block_index)
        LEFT JOIN pages tp ON tp.crawl_id = {cid} AND tp.url = coalesce(c.link_url, f.url)
        LEFT JOIN pages cp ON cp.crawl_id = {cid} AND cp.url = c.page_url
        LEFT JOIN topics t ON t.crawl_id = {cid} AND t.url = coalesce(c.link_url, f.url)
                          AND t.url <> c.page_url
                          -- a link to the page itself in another form (a comment's reply link)
                          AND coalesce(tp.canonical, t.url) <> c.page_url
                          AND coalesce(tp.canonical, t.url) <> coalesce(cp.canonical, c.page_url)
    """   # in no order: a sort of every candidate's text and vector ran out of memory at 100,000 pages


def _block_flags(con, crawl_id: int, options: Options, model: SiteModel,
                 pages: PageScores, repeated: list[int]) -> list[dict]:
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
    maybe_rows = []      # (block, its vector, flagged by its link, drifts): the few that may be flagged
    writer = topic_store.VectorWriter(con, model.vocabulary, "block") if model.vocabulary else None
    cur = con.cursor()   # Arrow batches: a block's stored vector never becomes Python lists
    for rb in cur.sql(_block_sql(crawl_id, model.vocabulary), params=[repeated]).to_arrow_reader(BATCH):
        # a block repeated on every page (a sidebar) is read once per batch, and a block of
        # last week's is not vectorised again
        distinct: dict[str, int] = {}
        inverse = np.array([distinct.setdefault(h, len(distinct)) for h in rb.column("text_hash").to_pylist()])
        _, firsts = np.unique(inverse, return_index=True)   # the first row of each
        V = sp.csr_matrix(_vectors(model, rb.take(pa.array(firsts)), strip_read_more, writer) @ keep)
        # weights per distinct text, then per row: a repeated block is weighed once
        core_w = np.asarray(V @ affinity).ravel()[inverse]
        known_w = np.asarray(V.sum(axis=1)).ravel()[inverse]
        n_drift = np.asarray((V > 0).astype(np.float32) @ drift_terms.astype(np.float32)).ravel()[inverse]
        link_off = pc.fill_null(rb.column("target_off").cast(pa.bool_()), False).to_numpy(zero_copy_only=False)
        drifts = (n_drift >= MIN_DRIFT_WORDS) & (known_w - core_w > core_w)
        check = np.flatnonzero(drifts)   # only these need their page's words: mostly absent from it?
        if check.size:
            host = np.array([row_of.get(u, -1) for u in rb.column("page_url").take(pa.array(check)).to_pylist()])
            on_page = sp.diags((host >= 0).astype(np.float32)) @ pages.X[np.maximum(host, 0)]
            page_w = np.asarray(V[inverse[check]].multiply(on_page > 0).sum(axis=1)).ravel()
            drifts[check] = page_w < 0.5 * known_w[check]
        # only the blocks that may be flagged become Python rows (a million blocks at 100,000 pages)
        maybe = np.flatnonzero(link_off | drifts)
        rows = rb.drop_columns(["indices", "weights"]).take(pa.array(maybe)).to_pylist()
        for i, b in zip(maybe, rows):
            if b["page_url"] in listings and b["link_url"] in row_of:
                continue    # an entry of a listing, for a page judged on its own
            maybe_rows.append((b, V[inverse[i]], bool(link_off[i]), bool(drifts[i])))
    cur.close()
    if writer is not None:
        writer.flush()
    _block_texts(con, crawl_id, [b for b, *_ in maybe_rows])
    out = []
    for b, vector, by_link, drifts_from_page in maybe_rows:
        by_text = drifts_from_page and len(b["text"].split()) >= MIN_BLOCK_WORDS
        if by_link or by_text:
            out.append(((b["page_url"], b["block_index"]),
                        _block_finding(b, vector, by_link, drift_terms, model.terms, severity)))
    # in page order, as the first of a page's findings with one target is the one kept
    return [finding for _, finding in sorted(out, key=lambda o: o[0])]


def _block_texts(con, crawl_id: int, blocks: list[dict]) -> None:
    """Each block's text, read where the block query left it out (its vector was stored)."""
    missing = [b for b in blocks if b["text"] is None]
    if not missing:
        return
    texts = {(u, i): t for u, i, t in con.execute(
        "SELECT b.page_url, b.block_index, b.text FROM blocks b JOIN (SELECT unnest(?::VARCHAR[]) AS "
        "page_url, unnest(?::INTEGER[]) AS block_index) w USING (page_url, block_index) "
        "WHERE b.crawl_id = ?", [[b["page_url"] for b in missing], [b["block_index"] for b in missing],
                                 crawl_id]).fetchall()}
    for b in missing:
        b["text"] = texts[(b["page_url"], b["block_index"])]


def _vectors(model: SiteModel, rows: pa.RecordBatch, prepare=None, writer=None) -> sp.csr_matrix:
    """TF-IDF rows of these texts (columns indices, weights, text; text_hash with a writer): read
    where stored, else computed from prepare(text) (the text itself without prepare) and stored."""
    n_terms = model.terms.size
    stored = rows.column("indices").is_valid().to_numpy(zero_copy_only=False)
    V = sp.csr_matrix((rows.num_rows, n_terms), dtype=np.float32)
    if stored.any():
        index = np.flatnonzero(stored)
        part = rows.take(pa.array(index))
        V = _put_rows(V, index, topic_store.rows_of(part.column("indices"), part.column("weights"), n_terms))
    fresh = np.flatnonzero(~stored)
    if fresh.size:
        texts = rows.column("text").take(pa.array(fresh)).to_pylist()
        computed = model.vectorizer.transform([prepare(t) for t in texts] if prepare else texts)
        V = _put_rows(V, fresh, computed)
        if writer is not None:
            writer.add(rows.column("text_hash").take(pa.array(fresh)).to_pylist(), computed)
    return V


def main_blocks_sql(crawl_id: int, vocabulary: int | None = None) -> str:
    """Every paragraph of main text with MIN_MAIN_BLOCK_WORDS words or more that is not site
    furniture (those are judged by _block_flags), with its stored vector and prose verdict under
    the vocabulary (its text only where none is stored). The first link a paragraph holds is
    looked up for the few far ones only: every page's links took seconds. Its parameter: the
    crawl's repeated block hashes (relations.repeated_blocks_sql)."""
    cid = int(crawl_id)
    return f"""
        WITH repeated AS (SELECT unnest(?::BIGINT[]) AS text_hash)
        SELECT b.page_url, b.block_index, b.text_hash::VARCHAR AS text_hash,
               v.prose, v.indices, v.weights, CASE WHEN v.indices IS NULL THEN b.text END AS text
        FROM blocks b
        {topic_store.cached_join(vocabulary, 'paragraph', 'b.text_hash::VARCHAR')}
        WHERE b.crawl_id = {cid} AND b.role = 'main' AND b.word_count >= {MIN_MAIN_BLOCK_WORDS}
          AND b.text_hash NOT IN (SELECT text_hash FROM repeated)
    """   # in no order (as _block_sql): _main_block_flags orders the few far paragraphs


def _paragraphs(con, crawl_id: int, model: SiteModel, judged: set[str], repeated: list[int]):
    """(paragraphs, their TF-IDF rows) of the judged pages' paragraphs that read as prose, a batch
    at a time; a paragraph's vector and prose verdict are read from topic_vectors where stored
    under the model's vocabulary, else computed and stored."""
    writer = topic_store.VectorWriter(con, model.vocabulary, "paragraph") if model.vocabulary else None
    n_terms = model.terms.size
    cur = con.cursor()
    for batch in cur.sql(main_blocks_sql(crawl_id, model.vocabulary), params=[repeated]).to_arrow_reader(BATCH):
        rows = [i for i, url in enumerate(batch.column("page_url").to_pylist()) if url in judged]
        if not rows:
            continue
        batch = batch.take(pa.array(rows))
        stored = batch.column("indices").is_valid().to_numpy(zero_copy_only=False)
        prose = pc.fill_null(batch.column("prose").cast(pa.bool_()), False).to_numpy(zero_copy_only=False).copy()
        V = sp.csr_matrix((len(rows), n_terms), dtype=np.float32)
        if stored.any():
            index = np.flatnonzero(stored)
            part = batch.take(pa.array(index))
            V = _put_rows(V, index, topic_store.rows_of(part.column("indices"), part.column("weights"), n_terms))
        fresh = np.flatnonzero(~stored)
        if fresh.size:
            texts = batch.column("text").take(pa.array(fresh)).to_pylist()
            prose[fresh] = [reads_as_prose(t) for t in texts]
            computed = sp.csr_matrix((fresh.size, n_terms), dtype=np.float32)
            readable = np.flatnonzero(prose[fresh])
            if readable.size:
                computed = _put_rows(computed, readable, model.vectorizer.transform(
                    [strip_read_more(texts[i]) for i in readable]))
            V = _put_rows(V, fresh, computed)
            if writer is not None:
                hashes = batch.column("text_hash").take(pa.array(fresh)).to_pylist()
                writer.add(hashes, computed, prose[fresh].tolist())
        keep = np.flatnonzero(prose)
        if keep.size:   # Arrow rows: the caller makes Python rows of the few it keeps
            yield batch.select(["page_url", "block_index"]).take(pa.array(keep)), V[keep]
    cur.close()
    if writer is not None:
        writer.flush()


def _put_rows(X: sp.csr_matrix, rows: np.ndarray, values: sp.csr_matrix) -> sp.csr_matrix:
    """X with its rows at `rows` (empty before) replaced by the rows of values, in order."""
    placed = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, np.arange(rows.size))),
                           shape=(X.shape[0], rows.size))
    return sp.csr_matrix(X + placed @ values)


def _main_block_flags(con, crawl_id: int, options: Options, model: SiteModel,
                      pages: PageScores, repeated: list[int]) -> list[dict]:
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
    sims, candidates = [], []   # candidates: (blocks, their similarities, their rows) per batch
    for batch, V in _paragraphs(con, crawl_id, model, judged, repeated):
        sim, utility = model.closeness(V)
        keep = (V.getnnz(axis=1) >= MIN_DRIFT_WORDS) & ~utility
        sims.append(sim[keep])
        # the cutoff is at most BLOCK_RATIO × the typical similarity, which is at most 1: only
        # paragraphs below BLOCK_RATIO can be far, and only they are kept until it is known
        # (every paragraph's row and dict held gigabytes at 100,000 pages)
        maybe = np.flatnonzero(keep & (sim < BLOCK_RATIO))
        if maybe.size:   # as Arrow rows: Python rows are made for the far ones only
            candidates.append((batch.take(pa.array(maybe)), sim[maybe], V[maybe]))
    if not sims or not sum(s.size for s in sims):
        return []
    typical, cutoff = off_topic_cutoff(np.concatenate(sims))
    cutoff = min(cutoff, BLOCK_RATIO * typical)
    far = []
    for blocks, xs, rows in candidates:
        index = np.flatnonzero(xs < cutoff)
        far += [(b, float(xs[j]), rows[j]) for j, b in zip(index, blocks.take(pa.array(index)).to_pylist())]
    far.sort(key=lambda c: (c[0]["page_url"], c[0]["block_index"]))
    del candidates
    if far and model.site_terms is not None and model.typical_shared is not None:
        # a paragraph on the site's subject in another register (a study's methods) is not drift
        subject = on_subject(sp.vstack([v for _, _, v in far]), model.site_terms, model.centroid,
                             model.typical_shared)
        far = [c for c, on in zip(far, subject) if not on]
    if not far:
        return []
    # the rest of each page, without the paragraph: what the paragraph should belong to
    wanted = sorted({b["page_url"] for b, _, _ in far})
    texts = dict(con.execute(f"SELECT url, text FROM ({relations.main_text_sql(crawl_id, ordered=False)}) "
                             "WHERE url IN (SELECT unnest(?::VARCHAR[]))", [wanted]).fetchall())
    own = {(u, i): t for u, i, t in con.execute(
        "SELECT page_url, block_index, text FROM blocks WHERE crawl_id = ? AND role = 'main' "
        "AND page_url IN (SELECT unnest(?::VARCHAR[]))", [crawl_id, wanted]).fetchall()}
    links = {(u, i): url for u, i, url in con.execute(
        "SELECT source_url, block_index, arg_min(url, position) FROM links WHERE crawl_id = ? "
        "AND element = 'a' AND url IS NOT NULL AND source_url IN (SELECT unnest(?::VARCHAR[])) "
        "GROUP BY ALL", [crawl_id, wanted]).fetchall()}
    for block, _, _ in far:
        block["text"] = own[(block["page_url"], block["block_index"])]
        block["link_url"] = links.get((block["page_url"], block["block_index"]))
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
    relations.ensure_main_texts(con, previous)
    # only the pages whose text changed: reading every page's text of last week took seconds
    # the text of last week is vectorised only where its vector is not stored under the model's
    # vocabulary (a weekly rerun keeps last week's: every changed page's old vector is stored)
    changed = f"""
        SELECT b.url, b.words, b.lang, v.indices, v.weights,
               CASE WHEN v.indices IS NULL THEN b.text END AS text
        FROM ({relations.main_text_sql(previous, ordered=False)}) b
        JOIN ({relations.main_text_sql(crawl_id, ordered=False)}) a
          ON a.url = b.url AND a.content_hash <> b.content_hash
        {topic_store.cached_join(model.vocabulary, 'page', 'b.content_hash')}
        ORDER BY b.url"""
    cur = con.cursor()
    for rb in cur.sql(changed).to_arrow_reader(BATCH):
        # (the query keeps only the pages whose text changed); a stored vector's text was
        # modelled under this vocabulary: only the page's own language can differ (as _read_pages)
        stored = rb.column("indices").is_valid().to_pylist()
        keep = [i for i, b in enumerate(rb.select(["url", "words", "lang", "text"]).to_pylist())
                if b["url"] in row_of and skip_reason(
                    "-" if stored[i] else b["text"], b["words"], b["lang"], model.site_lang,
                    model.english and not stored[i], opts.min_words) is None]
        if not keep:
            continue
        rb = rb.take(pa.array(keep))
        before = _vectors(model, rb)
        batch = rb.select(["url"]).to_pylist()
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
    cur.close()
    return out


def _top_terms(a, b, terms: np.ndarray, n: int = LABEL_WORDS) -> list[str]:
    """The words that weigh most more in row a than in row b."""
    diff = (a - b).tocsr()
    diff.data = np.where(diff.data > 0, diff.data, 0)
    diff.eliminate_zeros()
    order = np.lexsort((terms[diff.indices], -diff.data))[:n]
    return [str(terms[diff.indices[j]]) for j in order]
