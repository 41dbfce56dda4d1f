"""Near-duplicate main content: MinHash + LSH candidates (no all-pairs), verified exactly by
the Jaccard index of 3-word sequences, plus templated pages (long word runs shared); the
near_duplicate rows of the on-page analysis (analysis/onpage.py, docs/onpage.md)."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

from crawler import relations, store
from crawler.text import shingle_words
from crawler.config import OnpageOptions

SHINGLE_WORDS = 3           # near-duplicates compare sets of 3-word sequences
NUM_PERM = 128              # MinHash signature length
EST_MARGIN = 0.1            # candidate pairs estimated this far under the threshold are checked exactly
BUCKET_WINDOW = 100         # in one LSH bucket, each page is paired with its next 100 neighbours
# Templated pages (city landing pages with the place name swapped) sit well under 0.9: a pair
# at least TEMPLATE_SIMILARITY similar is a near-duplicate when runs of RUN_WORDS words or more
# that both pages share cover onpage.near_duplicate_template (0.6) of the shorter one. Two
# pages on one subject share words and short phrases, not long verbatim runs.
TEMPLATE_SIMILARITY = 0.6
TEMPLATE_RECALL = 0.98      # a templated pair at 0.6 becomes a candidate with this probability (0.9995 at 0.7)
RUN_WORDS = 10


SEED = 20240607
_RNG = np.random.default_rng(SEED)              # fixed: signatures must not change between runs
_PERM_A = _RNG.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_PERM_B = _RNG.integers(0, 2**63, NUM_PERM, dtype=np.uint64)
_MIX = np.uint64(0x9E3779B97F4A7C15)
# What a stored signature was made with (page_signatures.made_with): another value is not reused.
MADE_WITH = f"minhash perm={NUM_PERM} words={SHINGLE_WORDS} seed={SEED}"
SIGN_BATCH = 1000           # texts shingled and written per batch


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the bits of each value (wraps mod 2**64)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def shingles(texts: list[str], k: int = SHINGLE_WORDS) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every k-word sequence of each text (lower-cased words), concatenated,
    and how many each text has (0 for a text of fewer than k words)."""
    words_per_text = [shingle_words(t) for t in texts]
    lengths = np.array([len(w) for w in words_per_text], dtype=np.int64)
    counts = np.maximum(lengths - k + 1, 0)
    if counts.sum() == 0:
        return np.zeros(0, dtype=np.uint64), counts
    words = np.array([w for ws in words_per_text for w in ws], dtype=object)
    import pandas as pd   # here: 0.2 s to import, and a recheck (on-page of one page) never shingles

    hashed = pd.util.hash_array(words, categorize=True)    # siphash with a fixed key: stable
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # window start positions: for each text, starts .. starts + count - 1
    first = np.repeat(starts, counts)
    offset_in_text = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pos = first + offset_in_text
    combined = hashed[pos]
    for j in range(1, k):
        combined = _mix64(combined * _MIX + hashed[pos + j])
    return combined, counts


def minhash(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """MinHash signatures (one row of NUM_PERM uint32 per text with count > 0)."""
    keep = counts > 0
    offsets = np.concatenate(([0], np.cumsum(counts[keep])[:-1]))
    out = np.empty((int(keep.sum()), NUM_PERM), dtype=np.uint32)
    if len(offsets) == 0:
        return out
    buf = np.empty(len(values), dtype=np.uint64)
    for p in range(NUM_PERM):     # one flat in-place pass per permutation: ~20x faster than 2-D
        np.multiply(values, _PERM_A[p], out=buf)
        np.add(buf, _PERM_B[p], out=buf)
        np.right_shift(buf, np.uint64(32), out=buf)     # multiply-shift hashing: keep high bits
        out[:, p] = np.minimum.reduceat(buf, offsets)
    return out


def lsh_shape(threshold: float, num_perm: int = NUM_PERM, recall: float = 0.999) -> tuple[int, int]:
    """(bands, rows): the most selective banding that still makes a pair at the threshold a
    candidate with probability `recall` (rows=8, bands=16 for 0.9 and 0.999)."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        if num_perm % rows:
            continue
        bands = num_perm // rows
        if 1 - (1 - threshold ** rows) ** bands >= recall:
            best = (bands, rows)
    return best


def candidate_pairs(signatures: np.ndarray, threshold: float, recall: float = 0.999) -> np.ndarray:
    """Pairs (i < j) of rows sharing at least one LSH band, as an (n, 2) int64 array, sorted."""
    n = len(signatures)
    bands, rows = lsh_shape(threshold, signatures.shape[1] if n else NUM_PERM, recall)
    found = []
    for band in range(bands):
        cols = signatures[:, band * rows:(band + 1) * rows].astype(np.uint64)
        key = np.full(n, np.uint64(band), dtype=np.uint64)
        for c in range(rows):
            key = _mix64(key * _MIX + cols[:, c])
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        for d in range(1, BUCKET_WINDOW + 1):
            same = sorted_key[:-d] == sorted_key[d:]
            if not same.any():
                break
            a, b = order[:-d][same], order[d:][same]
            # one int64 per pair, i * n + j, sorts in (i, j) order (np.unique(axis=0) of the
            # pairs sorted them as opaque records: 8 s for 100,000 pages)
            found.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    keys = np.concatenate(found)
    keys.sort()
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return np.stack([keys // n, keys % n], axis=1)


def estimated_similarity(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    out = np.empty(len(pairs))
    for lo in range(0, len(pairs), 50_000):
        chunk = pairs[lo:lo + 50_000]
        out[lo:lo + 50_000] = (signatures[chunk[:, 0]] == signatures[chunk[:, 1]]).mean(axis=1)
    return out


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sets of shingle hashes (unique, sorted arrays)."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


def shared_run_coverage(a: str, b: str, run: int = RUN_WORDS) -> float:
    """Share of the shorter text's words that lie in runs of `run` words or more found word for
    word in the other text: what a template leaves behind when a few words are swapped."""
    wa, wb = shingle_words(a), shingle_words(b)
    if len(wa) > len(wb):
        wa, wb = wb, wa
    if len(wa) < run:
        return 0.0
    values, counts = shingles([" ".join(wa), " ".join(wb)], run)
    ha, hb = values[:counts[0]], values[counts[0]:]
    starts = np.flatnonzero(np.isin(ha, hb))
    covered = np.zeros(len(wa) + 1, dtype=np.int64)
    np.add.at(covered, starts, 1)
    np.add.at(covered, starts + run, -1)
    return float((np.cumsum(covered)[:-1] > 0).mean())


def _low_threshold(threshold: float, template: float) -> tuple[float, float]:
    """(threshold, recall) of the LSH pass: low enough for templated pages unless they are off."""
    if threshold > TEMPLATE_SIMILARITY and template < 1.0:
        return TEMPLATE_SIMILARITY, TEMPLATE_RECALL
    return threshold, 0.999


def near_duplicate_pairs(texts: dict[str, str], threshold: float,
                         template: float = 0.6) -> list[tuple[str, str, float]]:
    """All pairs (url_a < url_b, similarity) of texts at least threshold similar or templated,
    in memory; for tests and small sets (analyse streams the crawl through the same functions)."""
    urls = sorted(texts)
    values, counts = shingles([texts[u] for u in urls])
    with_text = [u for u, c in zip(urls, counts) if c > 0]
    sigs = minhash(values, counts)
    sets = {u: np.unique(shingles([texts[u]])[0]) for u in with_text}
    out = []
    for i, j in candidate_pairs(sigs, *_low_threshold(threshold, template)):
        a, b = with_text[i], with_text[j]
        sim = jaccard(sets[a], sets[b])
        if sim >= threshold or (sim >= TEMPLATE_SIMILARITY and template < 1.0
                                and shared_run_coverage(texts[a], texts[b]) >= template):
            out.append((a, b, sim))
    return out


# --- reading the crawl ---------------------------------------------------------------------

def findings(con, crawl_id: int, opts: OnpageOptions) -> Iterator[dict]:
    """near_duplicate rows (kind, page_url, target, detail) of the crawl's indexable pages
    (relations.indexable_sql: the on-page page pass has written them)."""
    threshold = opts.near_duplicate_similarity
    sql = f"""
        SELECT m.url, m.text, m.content_hash
        FROM ({relations.main_text_sql(crawl_id, "full")}) m
        WHERE m.words >= ? AND {relations.indexable_sql(crawl_id, "m")}
        ORDER BY m.url
    """
    # the same pages unsorted: the set work below must not sort every text (it spills past
    # analyse's DuckDB memory cap at 100,000 pages)
    pages = f"""
        SELECT m.url, m.text, m.content_hash
        FROM ({relations.main_text_sql(crawl_id, "full", ordered=False)}) m
        WHERE m.words >= ? AND {relations.indexable_sql(crawl_id, "m")}
    """
    store_signatures(con, crawl_id, pages, [opts.near_duplicate_min_words])
    members, sigs = _members_and_signatures(con, crawl_id, pages, [opts.near_duplicate_min_words])
    low, recall = _low_threshold(threshold, opts.near_duplicate_template)
    pairs = candidate_pairs(sigs, low, recall)
    pairs = pairs[estimated_similarity(sigs, pairs) >= low - EST_MARGIN]
    verified = _verify_exactly(con, sql, opts, members, pairs, threshold)
    neighbours: dict[int, list[tuple[float, int]]] = {}
    for i, j, sim in verified:
        neighbours.setdefault(i, []).append((sim, j))
        neighbours.setdefault(j, []).append((sim, i))
    cap = opts.near_duplicate_max_per_page
    for rep in sorted(set(neighbours) | {r for r, m in enumerate(members) if len(m) > 1}):
        others = sorted(neighbours.get(rep, []), key=lambda p: (-p[0], members[p[1]][0]))
        total = len(members[rep]) - 1 + sum(len(members[o]) for _, o in others)
        for url in members[rep]:
            near = [(1.0, u, True) for u in members[rep] if u != url][:cap]
            for sim, o in others:
                if len(near) >= cap:
                    break
                near += [(sim, u, False) for u in members[o][:cap - len(near)]]
            more = total - len(near)
            for sim, other, identical in near:
                detail = ("identical main text" if identical else
                          f"main text {sim:.0%} the same (Jaccard similarity of its "
                          f"{SHINGLE_WORDS}-word sequences)" if sim >= threshold else
                          f"the same template: most of the main text in runs of {RUN_WORDS}+ words "
                          f"shared word for word, {sim:.0%} the same by {SHINGLE_WORDS}-word sequences")
                if more > 0:
                    detail += f"; {more} more similar page{'s' if more > 1 else ''} not listed"
                yield {"kind": "near_duplicate", "page_url": url, "target": other, "detail": detail}


def store_signatures(con, crawl_id: int, sql: str, params: list) -> dict[str, int]:
    """Make sure page_signatures holds a signature of every distinct text `sql` selects:
    copied from the previous crawl where the text is unchanged (one INSERT ... SELECT),
    shingled and hashed for the rest, SIGN_BATCH texts per write. Returns the counts."""
    cid = int(crawl_id)
    cur = con.cursor()      # its own results: the caller streams findings through con
    cur.execute("DELETE FROM page_signatures WHERE crawl_id = ? AND made_with <> ?", [cid, MADE_WITH]).fetchall()
    wanted = f"SELECT DISTINCT content_hash FROM ({sql}) w"
    missing = f"""({wanted}) EXCEPT (SELECT content_hash FROM page_signatures
                   WHERE crawl_id = {cid} AND made_with = ?)"""
    copied = 0
    prev = store.previous_crawl(cur, cid)
    if prev is not None:
        copied = cur.execute(f"""
            INSERT INTO page_signatures
            SELECT DISTINCT ON (s.content_hash) {cid}, s.content_hash, s.made_with, s.signature
            FROM page_signatures s
            WHERE s.crawl_id = ? AND s.made_with = ? AND s.content_hash IN ({missing})""",
            [int(prev), MADE_WITH] + params + [MADE_WITH]).fetchone()[0]
    # one page per text: picked by URL (small), so that no statement groups the texts themselves
    todo = f"""SELECT content_hash, text FROM ({sql}) t WHERE url IN (
                 SELECT min(url) FROM ({sql}) u WHERE content_hash IN ({missing}) GROUP BY content_hash)"""
    signed = 0
    for batch in store.iter_batches(con, todo, params * 3 + [MADE_WITH], size=SIGN_BATCH):
        values, counts = shingles([row["text"] for row in batch])
        sigs = minhash(values, counts)
        hashes = [row["content_hash"] for row, c in zip(batch, counts) if c > 0]
        if not hashes:
            continue
        rows = pa.table({  # noqa: F841  (read by the INSERT below)
            "content_hash": pa.array(hashes, pa.string()),
            "signature": pa.ListArray.from_arrays(
                pa.array(np.arange(0, len(sigs) * NUM_PERM + 1, NUM_PERM, dtype=np.int32)),
                pa.array(sigs.ravel(), pa.uint32())),
        })
        cur.execute("INSERT INTO page_signatures SELECT ?, content_hash, ?, signature FROM rows",
                    [cid, MADE_WITH]).fetchall()
        signed += len(hashes)
    cur.close()
    return {"copied": int(copied), "signed": signed}


def _members_and_signatures(con, crawl_id: int, sql: str, params: list):
    """Pages with the same main text collapse to one representative (the first by URL):
    the URLs of each, and their signatures (one row each, in the same order) read from
    page_signatures as one numpy array. Texts too short to shingle have no signature and
    take no part."""
    cid = int(crawl_id)
    reps = f"""
        WITH m AS ({sql}),
        r AS (SELECT content_hash, min(url) AS first_url FROM m GROUP BY content_hash),
        s AS (SELECT DISTINCT ON (content_hash) content_hash, signature FROM page_signatures
              WHERE crawl_id = {cid} AND made_with = ?),
        k AS (SELECT r.content_hash, s.signature,
                     (row_number() OVER (ORDER BY r.first_url)) - 1 AS rep
              FROM r JOIN s USING (content_hash))"""
    cur = con.cursor()
    table = cur.sql(reps + " SELECT signature FROM k ORDER BY rep",
                    params=params + [MADE_WITH]).to_arrow_table()
    cur.close()
    flat = table.column("signature").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    sigs = flat.astype(np.uint32, copy=False).reshape(-1, NUM_PERM)
    members: list[list[str]] = [[] for _ in range(len(sigs))]
    listing = reps + " SELECT m.url, k.rep FROM m JOIN k USING (content_hash) ORDER BY m.url"
    for batch in store.iter_batches(con, listing, params + [MADE_WITH], size=5000):
        for row in batch:
            members[row["rep"]].append(row["url"])
    return members, sigs


def _verify_exactly(con, sql, opts, members, pairs, threshold) -> list[tuple[int, int, float]]:
    """Exact Jaccard of each candidate pair, reading back only the texts involved."""
    if len(pairs) == 0:
        return []
    involved = np.unique(pairs)
    url_to_rep = {members[int(i)][0]: int(i) for i in involved}
    sets: dict[int, np.ndarray] = {}
    only = f"SELECT * FROM ({sql}) WHERE url IN (SELECT unnest(?::VARCHAR[]))"
    params = [opts.near_duplicate_min_words, sorted(url_to_rep)]
    for batch in store.iter_batches(con, only, params, size=500):
        for row in batch:
            sets[url_to_rep[row["url"]]] = np.unique(shingles([row["text"]])[0])
    out, maybe = [], []
    for i, j in pairs:
        sim = jaccard(sets[int(i)], sets[int(j)])
        if sim >= threshold:
            out.append((int(i), int(j), sim))
        elif sim >= TEMPLATE_SIMILARITY and opts.near_duplicate_template < 1.0:
            maybe.append((int(i), int(j), sim))
    if maybe:   # templated candidates: their word runs decide, read back for those pairs only
        texts: dict[int, str] = {}
        wanted = sorted({members[k][0] for i, j, _ in maybe for k in (i, j)})
        for batch in store.iter_batches(con, only, params[:1] + [wanted], size=500):
            for row in batch:
                texts[url_to_rep[row["url"]]] = row["text"]
        out += [(i, j, sim) for i, j, sim in maybe
                if shared_run_coverage(texts[i], texts[j]) >= opts.near_duplicate_template]
    return sorted(out)
