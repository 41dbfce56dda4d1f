"""Finding kinds as a contract: the one registry of kinds (analysis, default severity), the
severity order, `fail_on`, and the `Finding` row every analysis yields and `flags` stores."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Mapping

from crawler.errors import ConfigError

SEVERITIES = ("error", "warning", "notice")   # worst first: the one severity order
FAIL_ON = ("error", "warning")                # what --fail-on accepts

# kind -> (analysis, default severity). docs/links.md, readability.md, topics.md and onpage.md
# give each kind's rules; the README's findings table lists them all.
_REGISTRY = {
    "broken_link": ("links", "error"),
    "redirect_chain": ("links", "warning"),
    "redirect_loop": ("links", "error"),
    "redirected_link": ("links", "notice"),
    "blocked_by_robots": ("links", "notice"),
    "missing_anchor": ("links", "warning"),
    "orphan_page": ("links", "warning"),
    "hard_to_read": ("readability", "warning"),
    "long_sentence": ("readability", "notice"),
    "off_topic_page": ("topics", "warning"),
    "off_topic_block": ("topics", "warning"),
    "topic_changed": ("topics", "warning"),
    "missing_title": ("onpage", "error"),
    "multiple_titles": ("onpage", "warning"),
    "duplicate_title": ("onpage", "warning"),
    "title_length": ("onpage", "notice"),
    "missing_meta_description": ("onpage", "warning"),
    "meta_description_length": ("onpage", "notice"),
    "missing_h1": ("onpage", "warning"),
    "multiple_h1": ("onpage", "notice"),
    "thin_content": ("onpage", "warning"),
    "near_duplicate": ("onpage", "warning"),
    "canonicalized": ("onpage", "notice"),
    "noindex": ("onpage", "notice"),
    "missing_alt": ("onpage", "warning"),
    "duplicate_url": ("onpage", "warning"),
    "crawler_trap": ("onpage", "warning"),
    "large_page": ("onpage", "warning"),
}


@dataclass(frozen=True)
class Kind:
    name: str
    analysis: str
    severity: str     # the default; the config's [severity] table may change it


KINDS: dict[str, Kind] = {name: Kind(name, a, s) for name, (a, s) in _REGISTRY.items()}


def kinds_of(analysis: str) -> dict[str, str]:
    """{kind: default severity} of one analysis, in registry order."""
    return {k.name: k.severity for k in KINDS.values() if k.analysis == analysis}


@dataclass
class Finding:
    """One row of `flags`: one per (kind, page_url, target), its identity from week to week.

    anchor_text and block_text travel as columns so reports never parse them out of detail.
    """
    kind: str
    page_url: str
    severity: str
    target: str = ""
    detail: str | None = None
    suggestion: str | None = None
    anchor_text: str | None = None
    block_text: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}: add it to analysis/findings.py")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} of {self.kind} is not one of {SEVERITIES}")
        self.target = self.target or ""


def as_finding(row: Finding | Mapping) -> Finding:
    """A Finding from a Finding or a dict with the same keys (a misspelt key is an error)."""
    return row if isinstance(row, Finding) else Finding(**row)


# --- severities -------------------------------------------------------------------------------

def rank(severity: str) -> int:
    """0 for the worst severity; sort findings by it."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def rank_sql(column: str = "severity") -> str:
    """SQL giving rank() of a severity column, for ORDER BY."""
    cases = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES))
    return f"CASE {column} {cases} ELSE {len(SEVERITIES)} END"


def at_or_above(threshold: str) -> tuple[str, ...]:
    """The severities that count for --fail-on THRESHOLD."""
    return SEVERITIES[: rank(threshold) + 1]


def fail_on(by_severity: Mapping[str, int], threshold: str | None) -> int:
    """How many findings ({severity: n}) reach --fail-on THRESHOLD (0 without one)."""
    if not threshold:
        return 0
    return sum(n for sev, n in by_severity.items() if sev in at_or_above(threshold))


def severity_for(overrides: Mapping[str, str], kind: str) -> str:
    """A kind's severity: the config's [severity] table wins over the registry's default."""
    return overrides.get(kind) or KINDS[kind].severity


def check_severity_table(table: Mapping[str, str], where: str = "[severity]", names: Iterable[str] | None = None,
                         noun: str = "kind", doc: str = "the README's findings table") -> None:
    """ConfigError naming the closest valid name for an unknown key, or the valid severities."""
    names = list(KINDS if names is None else names)
    for key, sev in table.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{where} unknown {noun} {key!r}{hint}; {doc} lists them")
        if sev not in SEVERITIES:
            raise ConfigError(f"{where} {key} = {sev!r}: use one of {', '.join(SEVERITIES)}")


TARGET_CHARS = 200          # titles and descriptions quoted in target are cut here


def quote(text: str, limit: int = TARGET_CHARS) -> str:
    """Page text quoted in a finding's target or detail, cut to limit characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
