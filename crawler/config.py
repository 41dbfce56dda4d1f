"""Options of every command: defaults, the TOML config file and the command line, validated in one place."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from crawler.errors import ConfigError

SEVERITIES = ("error", "warning", "notice")


@dataclass
class LinksOptions:
    external_cache_days: float = 7.0      # reuse an external link's result this many days
    external_auth_severity: str = "warning"  # an external 401/403: a login wall or bot check
    retry_times: int = 2                  # retries of a transient failure (timeout, 503, reset)
    max_retry_after: float = 30.0         # longest Retry-After (seconds) a 429 is waited for
    severity: dict[str, str] = field(default_factory=dict)  # links rule -> severity (docs/links.md)

    # The rules [links.severity] may name; analysis/links.py RULES holds their defaults.
    _RULES = ("internal_4xx", "internal_5xx", "internal_unreachable", "external_4xx",
              "external_auth", "external_5xx", "external_unreachable", "external_dns",
              "rate_limited", "invalid_url", "file_url", "space_in_href", "redirect_chain",
              "external_redirect_chain",
              "too_many_redirects", "redirect_loop", "redirected_link", "blocked_by_robots",
              "missing_anchor", "orphan_page")

    def __post_init__(self) -> None:
        # Checked here so a typo fails when the config loads, not after a long crawl.
        for rule, sev in self.severity.items():
            if rule not in self._RULES:
                close = difflib.get_close_matches(rule, self._RULES, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ConfigError(f"[links.severity] unknown rule {rule!r}{hint}; docs/links.md lists the rules")
            if sev not in SEVERITIES:
                raise ConfigError(f"[links.severity] {rule} = {sev!r}: use one of {', '.join(SEVERITIES)}")
        if self.external_cache_days < 0:
            raise ConfigError("links.external_cache_days must be 0 (always recheck) or more days, like 7")
        if self.retry_times < 0:
            raise ConfigError("links.retry_times must be 0 or more, like 2")


@dataclass
class ReadabilityOptions:
    target_grade: float = 8.0             # AMA/NIH: patient material at grade 6 to 8
    grade_measure: str = "flesch_kincaid_grade"  # which score decides hard_to_read
    long_sentence_words: int = 25
    min_words: int = 100                  # shorter main text is scored, never flagged
    hardest_sentences: int = 3            # how many sentences the suggestion names
    grade_change: float = 1.0             # a page got easier/harder when its grade moved this much
    workers: int = 0                      # processes that score pages; 0: one per CPU core


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


@dataclass
class OnpageOptions:
    title_min: int = 30                   # characters; shorter titles say too little
    title_max: int = 60                   # characters; search results cut longer ones off
    meta_description_min: int = 70
    meta_description_max: int = 160       # snippets are cut off around here
    thin_words: int = 200                 # main text under this many words is thin_content
    near_duplicate_similarity: float = 0.9  # Jaccard similarity of two pages' 3-word sequences
    near_duplicate_min_words: int = 50    # pages with less main text are not compared
    near_duplicate_max_per_page: int = 5  # most similar pages named per page (a big cluster stays readable)
    large_page_bytes: int = 2_000_000     # HTML bytes received
    suggestions: dict[str, str] = field(default_factory=dict)  # kind -> suggestion text overrides

    def __post_init__(self) -> None:
        for low, high in (("title_min", "title_max"), ("meta_description_min", "meta_description_max")):
            if not 0 <= getattr(self, low) <= getattr(self, high):
                raise ConfigError(f"onpage.{low} must be between 0 and onpage.{high}, like {low} = 30")
        if not 0.0 < self.near_duplicate_similarity <= 1.0:
            raise ConfigError("onpage.near_duplicate_similarity must be above 0 and at most 1, like 0.9")
        for name in ("thin_words", "near_duplicate_min_words", "near_duplicate_max_per_page", "large_page_bytes"):
            if getattr(self, name) < (1 if name in ("near_duplicate_max_per_page", "large_page_bytes") else 0):
                raise ConfigError(f"onpage.{name} must be a positive whole number")
        for kind, text in self.suggestions.items():
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(f'onpage.suggestions.{kind} must be a non-empty string, like {kind} = "Fix it"')


@dataclass
class Options:
    urls: list[str] = field(default_factory=list)
    site: str | None = None
    db: str = "audit.duckdb"
    out: str = "report"
    max_pages: int = 10_000
    max_depth: int = 50
    concurrency: int = 8                  # requests at once per host of the site
    timeout: float = 20.0                 # seconds per request
    user_agent: str | None = None         # default: ContentAudit/<version> (+contact_url)
    contact_url: str = "https://github.com/content-audit/content-audit"
    no_external: bool = False
    external_concurrency: int = 2         # requests at once per external host
    delay: float = 0.0                    # minimum seconds between requests to one host
    autothrottle: bool = True
    max_bytes: int = 10_000_000           # larger responses are cut off and recorded "too large"
    trap_chain: int = 50                  # URLs of one shape, each found on the previous: a trap
    trap_repeat: int = 3                  # pages of one shape in a row with the same other links: a trap
    max_query_length: int = 300
    max_path_segments: int = 20
    resume: bool = False
    redis: str | None = None              # redis://host:6379/0: crawl with several workers
    worker: bool = False                  # this process is one worker of a --redis crawl
    worker_timeout: float = 15.0          # a worker silent this long is gone; others take its requests
    fail_on: str | None = None            # error | warning
    verbose: bool = False
    quiet: bool = False
    severity: dict[str, str] = field(default_factory=dict)  # kind -> severity overrides
    links: LinksOptions = field(default_factory=LinksOptions)
    readability: ReadabilityOptions = field(default_factory=ReadabilityOptions)
    topics: TopicsOptions = field(default_factory=TopicsOptions)
    onpage: OnpageOptions = field(default_factory=OnpageOptions)


def _check_type(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"option {name} must be true or false, not {value!r}")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"option {name} must be a whole number, not {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"option {name} must be a number, not {value!r}")
        return float(value)
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f'option {name} must be a list of strings, like ["a", "b"]')
        return value
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table of name = value")
        return dict(value)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"option {name} must be a string, not {value!r}")
    return value


def _merge(obj: Any, data: dict[str, Any], prefix: str = "") -> Any:
    known = {f.name: f for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise ConfigError(f"unknown option {prefix}{key}{hint}")
        current = getattr(obj, name)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"[{prefix}{name}] must be a table")
            changes[name] = _merge(current, value, f"{prefix}{name}.")
        else:
            changes[name] = _check_type(prefix + name, value, current)
    return replace(obj, **changes)


def load_config(path: str | Path | None) -> Options:
    """Options from a TOML file (or the defaults when path is None)."""
    options = Options()
    if path is None:
        return options
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {p} not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
    options = _merge(options, data)
    validate(options)
    return options


def apply_overrides(options: Options, overrides: dict[str, Any]) -> Options:
    """Command-line values (already typed) win over the config file; None means not given."""
    given = {k: v for k, v in overrides.items() if v is not None and v is not False and v != []}
    options = replace(options, **given)
    validate(options)
    return options


def validate(options: Options) -> None:
    if options.fail_on not in (None, "error", "warning"):
        raise ConfigError(f"fail_on must be error or warning, not {options.fail_on!r}")
    for name in ("max_pages", "max_depth", "concurrency", "external_concurrency", "max_bytes", "trap_repeat"):
        if getattr(options, name) < (0 if name == "max_depth" else 1):
            raise ConfigError(f"{name} must be at least {0 if name == 'max_depth' else 1}")
    if options.timeout <= 0:
        raise ConfigError("timeout must be a positive number of seconds, like --timeout 20")
    for kind, sev in options.severity.items():
        if sev not in SEVERITIES:
            raise ConfigError(f"[severity] {kind} = {sev!r}: use one of {', '.join(SEVERITIES)}")
    if options.links.external_auth_severity not in SEVERITIES:
        raise ConfigError("links.external_auth_severity must be error, warning or notice")


def severity_for(options: Options, kind: str, default: str) -> str:
    """The severity of a finding kind: the config's [severity] table wins over the default."""
    return options.severity.get(kind, default)


def to_json_dict(options: Options) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(options)
