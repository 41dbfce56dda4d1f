"""Options of every command: the crawl's own here, each analysis' in analysis/options.py; loaded
from defaults, the TOML config file and the command line, and validated once, at load."""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from analysis.findings import FAIL_ON, check_severity_table
from analysis.options import LinksOptions, OnpageOptions, ReadabilityOptions, TopicsOptions
from crawler.errors import ConfigError

__all__ = ["ConfigError", "LinksOptions", "OnpageOptions", "Options", "ReadabilityOptions", "TopicsOptions",
           "apply_overrides", "load_config"]


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
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
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
        data = tomllib.loads(p.read_text(encoding="utf-8-sig"))  # a BOM (Windows editors) is fine
    except FileNotFoundError:
        raise ConfigError(f"config file {p} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {p} is a folder: pass the TOML file in it, like --config {p}/audit.toml") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
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


# Crawl options with a lower bound: (name, least value, example). A value below it means nothing.
CRAWL_MINIMUMS = (("max_pages", 1, 10_000), ("max_depth", 0, 50), ("concurrency", 1, 8),
                  ("external_concurrency", 1, 2), ("max_bytes", 1, 10_000_000), ("trap_chain", 1, 50), ("trap_repeat", 1, 3),
                  ("max_query_length", 0, 300), ("max_path_segments", 1, 20))


def validate(options: Options) -> None:
    if options.fail_on not in (None, *FAIL_ON):
        raise ConfigError(f"fail_on must be error or warning, not {options.fail_on!r}")
    for name, least, example in CRAWL_MINIMUMS:
        if getattr(options, name) < least:
            raise ConfigError(f"{name} must be at least {least}, like {name} = {example}")
    if not (math.isfinite(options.timeout) and options.timeout > 0):
        raise ConfigError("timeout must be a positive number of seconds, like --timeout 20")
    for name, example in (("delay", 0.5), ("worker_timeout", 15)):
        value = getattr(options, name)
        if not (math.isfinite(value) and value >= (0 if name == "delay" else 1)):
            raise ConfigError(f"{name} must be {'0 or more' if name == 'delay' else 'at least 1'} "
                              f"seconds, like {name} = {example}")
    check_severity_table(options.severity)


def to_json_dict(options: Options) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(options)
