"""The options of each analysis (the config's [links], [readability], [topics] and [onpage]
tables), with their defaults and their checks: a bad value fails when the config loads."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from analysis.findings import SEVERITIES, check_severity_table, kinds_of
from crawler.errors import ConfigError


def _at_least(section: str, opts, low: float, *names: str) -> None:
    for name in names:
        value = getattr(opts, name)
        if isinstance(value, float) and math.isnan(value) or value < low:
            raise ConfigError(f"{section}.{name} must be at least {low:g}, not {value!r}")


def _between(section: str, opts, name: str, low: float, high: float, example: str) -> None:
    """low < value <= high (NaN fails: every comparison with it is false)."""
    value = getattr(opts, name)
    if not low < value <= high:
        raise ConfigError(f"{section}.{name} must be above {low:g} and at most {high:g}, like {example}")


@dataclass
class LinksOptions:
    external_cache_days: float = 7.0      # reuse an external link's result this many days
    external_auth_severity: str = "warning"  # an external 401/403: a login wall or bot check
    retry_times: int = 2                  # retries of a transient failure (timeout, 503, reset)
    max_retry_after: float = 30.0         # longest Retry-After (seconds) a 429 is waited for
    severity: dict[str, str] = field(default_factory=dict)  # links rule -> severity (docs/links.md)

    def __post_init__(self) -> None:
        from analysis.link_rules import RULES   # the rules' one home; imported late (it imports us)

        check_severity_table(self.severity, "[links.severity]", RULES, "rule", "docs/links.md")
        if self.external_auth_severity not in SEVERITIES:
            raise ConfigError("links.external_auth_severity must be error, warning or notice")
        _at_least("links", self, 0, "external_cache_days", "retry_times", "max_retry_after")


@dataclass
class ReadabilityOptions:
    target_grade: float = 8.0             # AMA/NIH: patient material at grade 6 to 8
    grade_measure: str = "flesch_kincaid_grade"  # which score decides hard_to_read
    long_sentence_words: int = 25
    min_words: int = 100                  # shorter main text is scored, never flagged
    hardest_sentences: int = 3            # how many sentences the suggestion names
    grade_change: float = 1.0             # a page got easier/harder when its grade moved this much
    workers: int = 0                      # processes that score pages; 0: one per CPU core

    def __post_init__(self) -> None:
        # analysis.readability imports textstat (over a second): only for a measure other than the default
        if self.grade_measure != ReadabilityOptions.grade_measure:
            self._check_measure()
        _at_least("readability", self, 0, "target_grade", "min_words", "hardest_sentences",
                  "grade_change", "workers")
        _at_least("readability", self, 1, "long_sentence_words")

    def _check_measure(self) -> None:
        from analysis.readability import GRADE_MEASURES

        if self.grade_measure not in GRADE_MEASURES:
            raise ConfigError(f"readability.grade_measure {self.grade_measure!r} is not a grade: use one of "
                              f"{', '.join(GRADE_MEASURES)}, like grade_measure = \"flesch_kincaid_grade\"")


@dataclass
class TopicsOptions:
    core_keywords: list[str] = field(default_factory=list)  # hints: what the site is about
    core_urls: list[str] = field(default_factory=list)      # hints: pages that are on topic
    changed_threshold: float = 0.5        # topic_changed when similarity to last week falls below
    min_words: int = 30                   # pages with less main text get no topic
    utility_share: float = 0.3            # this share of a page's weight in utility words: generic page
    max_topics: int = 12                  # most topics per group (core, drift) the model fits
    max_features: int = 20_000            # vocabulary size; bounds memory on large sites
    fit_sample: int = 20_000              # pages the vocabulary and topics are fitted on

    def __post_init__(self) -> None:
        if not 0.0 < self.changed_threshold < 1.0:
            raise ConfigError("topics.changed_threshold must be between 0 and 1, like 0.5")
        _between("topics", self, "utility_share", 0.0, 1.0, "0.3")
        _at_least("topics", self, 1, "min_words", "max_topics", "max_features", "fit_sample")


@dataclass
class OnpageOptions:
    title_min: int = 30                   # characters; shorter titles say too little
    title_max: int = 60                   # characters; search results cut longer ones off
    meta_description_min: int = 70
    meta_description_max: int = 160       # snippets are cut off around here
    thin_words: int = 200                 # main text under this many words is thin_content
    near_duplicate_similarity: float = 0.9  # Jaccard similarity of two pages' 3-word sequences
    near_duplicate_template: float = 0.6  # or this share of the shorter page in long runs both share (1 = off)
    near_duplicate_min_words: int = 50    # pages with less main text are not compared
    near_duplicate_max_per_page: int = 5  # most similar pages named per page (a big cluster stays readable)
    large_page_bytes: int = 2_000_000     # HTML bytes received
    suggestions: dict[str, str] = field(default_factory=dict)  # kind -> suggestion text overrides

    def __post_init__(self) -> None:
        for low, high in (("title_min", "title_max"), ("meta_description_min", "meta_description_max")):
            if not 0 <= getattr(self, low) <= getattr(self, high):
                raise ConfigError(f"onpage.{low} must be between 0 and onpage.{high}, like {low} = 30")
        _between("onpage", self, "near_duplicate_similarity", 0.0, 1.0, "0.9")
        _between("onpage", self, "near_duplicate_template", 0.0, 1.0, "0.6")
        _at_least("onpage", self, 0, "thin_words", "near_duplicate_min_words")
        _at_least("onpage", self, 1, "near_duplicate_max_per_page", "large_page_bytes")
        kinds = kinds_of("onpage")
        for kind, text in self.suggestions.items():
            if kind not in kinds:
                raise ConfigError(f"onpage.suggestions has unknown kind {kind!r}: use one of " + ", ".join(kinds))
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(f'onpage.suggestions.{kind} must be a non-empty string, like {kind} = "Fix it"')
