"""The DuckDB store: opens the database, runs the schema, keeps the crawl-state rows, writes rows
in Arrow batches (a response's rows in one transaction), reads crawls back."""

from __future__ import annotations

import difflib
import errno
import json
import os
import re
import socket
from datetime import datetime, timezone
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pyarrow as pa

from crawler.errors import AuditError, StoreError

SCHEMA_VERSION = "4"
UPGRADABLE = {"1", "2", "3"}     # versions schema.sql upgrades in place (its ALTER TABLE ... IF NOT EXISTS)
# Rows older versions wrote differently, rewritten once when such a database is opened.
UPGRADE_ROWS = [   # before 3, cut and declined downloads were outcome 'error' with this text
    "UPDATE responses SET outcome = 'too_large' WHERE outcome = 'error' AND starts_with(error, 'too large')",
    "UPDATE responses SET outcome = 'not_fetched' WHERE outcome = 'error' AND starts_with(error, 'not fetched')",
]

DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
DISK_FULL_TEXT = ("no space left", "file too large", "disk quota", "not enough space")

FLAG_COLUMNS = ["site", "crawl_id", "page_url", "kind", "severity", "target", "detail",
                "suggestion", "status", "first_seen"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def open_store(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (and create, unless read_only) the database; errors name the fix."""
    p = Path(path)
    if read_only and not p.exists():
        raise StoreError(f"database {p} does not exist: run `python pipeline.py crawl URL --db {p}` first")
    if p.parent and not p.parent.exists():
        raise StoreError(f"folder {p.parent} does not exist: create it or pass another --db")
    try:
        con = duckdb.connect(str(p), read_only=read_only)
    except duckdb.IOException as exc:
        msg = str(exc)
        if "lock" in msg.lower():
            holder = re.search(r"PID (\d+)", msg)
            who = f" (process {holder.group(1)})" if holder else ""
            raise StoreError(f"database {p} is in use by another process{who}: wait for it to finish "
                             "or pass another --db") from None
        if "not a valid DuckDB database" in msg or "not a DuckDB" in msg or "magic" in msg.lower():
            raise StoreError(f"{p} is not a DuckDB database: pass another --db path") from None
        raise StoreError(f"cannot open database {p}: {msg.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open database {p}: {str(exc).splitlines()[0]}") from None
    if not read_only:
        try:
            _apply_schema(con, p)
        except BaseException:
            con.close()
            raise
    return con


def is_disk_full(exc: BaseException) -> bool:
    """A write failed for want of space (or of an allowed file size)."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    text = str(exc).lower()
    return any(t in text for t in DISK_FULL_TEXT)


def write_error(exc: BaseException, what: str) -> StoreError:
    """One-line StoreError for a failed write of the database or its .wal file."""
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    if is_disk_full(exc):
        return StoreError(f"disk full: cannot write {what}; free some space (or pass a --db on "
                          "another disk) and run again")
    if "permission denied" in first.lower() or (isinstance(exc, OSError) and exc.errno == errno.EACCES):
        return StoreError(f"permission denied writing {what} (DuckDB also writes a .wal file next "
                          "to it): make its folder writable or pass another --db")
    return StoreError(f"cannot write {what}: {first}")


def _apply_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    ddl = resources.files("crawler").joinpath("schema.sql").read_text(encoding="utf-8")
    try:
        version = None
        if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchone()[0]:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = row[0] if row else None
        if version is not None and version != SCHEMA_VERSION and version not in UPGRADABLE:
            raise StoreError(f"database {path} has schema version {version}, this Content Audit "
                             f"uses {SCHEMA_VERSION}: pass a new --db path")
        if version is None:
            # Another program's database: refuse before creating anything in it.
            tables = [t for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()]
            if tables:
                shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
                raise StoreError(f"{path} is a DuckDB database of another program (tables {shown}): "
                                 "pass another --db path for Content Audit's own database")
        if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'main_texts' "
                       "AND table_type = 'BASE TABLE'").fetchone()[0]:
            con.execute("DROP TABLE main_texts")   # schema 3's copies: a view now, rebuilt on demand
        con.execute(ddl)
        if version in UPGRADABLE:
            for sql in UPGRADE_ROWS:
                con.execute(sql)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    except duckdb.Error as exc:
        if is_disk_full(exc) or "permission" in str(exc).lower():
            raise write_error(exc, f"database {path}") from None
        raise StoreError(f"cannot set up database {path}: {str(exc).splitlines()[0]}") from None


# --- crawls -----------------------------------------------------------------------------

# A crawl's status: running (its process is writing it, see pid/hostname/heartbeat_at),
# finished, partial (the site stopped answering midway), failed (the crawl could not see the
# site), interrupted (Ctrl-C, SIGTERM, disk full, or found dead by a later run; --resume).
# Resuming, dead crawls and the frontier rebuilt from rows: crawler/crawlstate.py.


def create_crawl(con, site: str, start_urls: list[str], hosts: list[str], options: dict) -> int:
    crawl_id = con.execute("SELECT nextval('crawl_id_seq')").fetchone()[0]
    now = utcnow()
    con.execute(
        "INSERT INTO crawls (crawl_id, site, start_urls, hosts, options, started_at, status, pid, "
        "hostname, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
        [crawl_id, site, start_urls, hosts, json.dumps(options, default=str), now, os.getpid(),
         socket.gethostname(), now],
    )
    return int(crawl_id)


def finish_crawl(con, crawl_id: int, status: str, stats: dict[str, Any]) -> None:
    pages = con.execute("SELECT count(*) FROM pages WHERE crawl_id = ?", [crawl_id]).fetchone()[0]
    con.execute(
        "UPDATE crawls SET finished_at = ?, status = ?, pages_crawled = ?, stats = ?, pid = NULL "
        "WHERE crawl_id = ?",
        [utcnow(), status, pages, json.dumps(stats, default=str), crawl_id],
    )
    drop_main_texts(con, crawl_id)   # rebuilt from the rows


def drop_main_texts(con, crawl_id: int) -> None:
    """Forget the crawl's main texts (relations.ensure_main_texts builds them again), and the
    texts no crawl has any more."""
    con.execute("DELETE FROM main_text_pages WHERE crawl_id = ?", [crawl_id])
    con.execute("DELETE FROM main_text_bodies WHERE blocks_hash NOT IN (SELECT blocks_hash FROM main_text_pages)")


def crawl_info(con, crawl_id: int) -> dict[str, Any]:
    cur = con.execute("SELECT * FROM crawls WHERE crawl_id = ?", [crawl_id])
    row = cur.fetchone()
    if row is None:
        raise AuditError(f"no crawl with id {crawl_id}: `python pipeline.py history` lists them")
    info = dict(zip([d[0] for d in cur.description], row))
    for key in ("options", "stats"):
        if isinstance(info.get(key), str):
            info[key] = json.loads(info[key])
    return info


def latest_crawl(con, site: str | None = None) -> int:
    """The newest crawl (of the site, if given); AuditError if there is none."""
    if site:
        row = con.execute("SELECT max(crawl_id) FROM crawls WHERE site = ?", [site]).fetchone()
    else:
        row = con.execute("SELECT max(crawl_id) FROM crawls").fetchone()
    if row[0] is None:
        where = f" of site {site}" if site else ""
        raise AuditError(f"no crawl{where} in the database: run `python pipeline.py crawl URL` first")
    return int(row[0])


def previous_crawl(con, crawl_id: int) -> int | None:
    """The latest finished crawl of the same site before this one, to compare with."""
    row = con.execute(
        "SELECT max(p.crawl_id) FROM crawls p JOIN crawls c ON p.site = c.site "
        "WHERE c.crawl_id = ? AND p.crawl_id < c.crawl_id AND p.status = 'finished'",
        [crawl_id],
    ).fetchone()
    return int(row[0]) if row[0] is not None else None


# --- batched writes -----------------------------------------------------------------------

class BatchWriter:
    """Buffers rows per table and inserts them as Arrow tables (executemany is ~100x slower).

    A row's keys must be columns of its table (a misspelt key is an error, not a NULL). With
    crawl_id set, every flush is one transaction that also stamps the crawl's heartbeat, and
    rows added inside `unit()` (one response's page, blocks and links) are never split across
    two flushes: a killed crawl leaves no link or block without its page."""

    def __init__(self, con, batch_rows: int = 2000, crawl_id: int | None = None):
        self.con = con
        self.batch_rows = batch_rows
        self.crawl_id = crawl_id
        self.buffers: dict[str, list[dict]] = {}
        self.schemas: dict[str, pa.Schema] = {}
        self.columns: dict[str, frozenset[str]] = {}
        self.done: list[str] = []      # URLs whose rows are all buffered; told to after_flush
        self.after_flush = None        # callable(list of URLs) once their rows are on disk
        self._holding = 0

    def add(self, table: str, row: dict) -> None:
        cols = self.columns.get(table)
        if cols is None:
            cols = self.columns[table] = frozenset(self._schema(table).names)
        if not row.keys() <= cols:
            bad = sorted(set(row) - cols)[0]
            close = difflib.get_close_matches(bad, cols, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"table {table} has no column {bad!r}{hint}")
        buf = self.buffers.setdefault(table, [])
        buf.append(row)
        if len(buf) >= self.batch_rows and not self._holding:
            self.flush()

    def unit(self):
        """Context manager: the rows added inside reach the database in one flush."""
        writer = self

        class _Unit:
            def __enter__(self):
                writer._holding += 1

            def __exit__(self, *exc):
                writer._holding -= 1
                if not writer._holding and any(len(b) >= writer.batch_rows for b in writer.buffers.values()):
                    writer.flush()
        return _Unit()

    def extend(self, table: str, rows: Iterable[dict]) -> None:
        for row in rows:
            self.add(table, row)

    def _schema(self, table: str) -> pa.Schema:
        if table not in self.schemas:
            cur = self.con.cursor()  # its own cursor: leaves any open result of the caller's alone
            try:
                self.schemas[table] = cur.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema
            finally:
                cur.close()
        return self.schemas[table]

    def flush(self, table: str | None = None) -> None:
        self._flush_tables(table)
        if table is None and self.done:
            done, self.done = self.done, []
            if self.after_flush:
                self.after_flush(done)

    def _flush_tables(self, table: str | None) -> None:
        names = [n for n in ([table] if table else list(self.buffers)) if self.buffers.get(n)]
        if not names or self.crawl_id is None:
            for name in names:
                self._insert(name)
            return
        try:
            self.con.begin()
            for name in names:
                self._insert(name)
            self.con.execute("UPDATE crawls SET heartbeat_at = ? WHERE crawl_id = ?", [utcnow(), self.crawl_id])
            self.con.commit()
        except (duckdb.Error, OSError) as exc:
            try:
                self.con.rollback()
            except duckdb.Error:
                pass
            raise write_error(exc, "the crawl's rows to the database") from None
        for name in names:
            self.buffers[name] = []

    def _insert(self, name: str) -> None:
        batch = pa.Table.from_pylist(self.buffers[name], schema=self._schema(name))
        self.con.register("_batch", batch)
        try:
            self.con.execute(f"INSERT INTO {name} SELECT * FROM _batch")
        finally:
            self.con.unregister("_batch")
        if self.crawl_id is None:
            self.buffers[name] = []


def insert_rows(con, table: str, rows: list[dict]) -> None:
    """Insert a list of dict rows in one Arrow batch."""
    writer = BatchWriter(con, batch_rows=len(rows) + 1)
    writer.extend(table, rows)
    writer.flush()


def iter_batches(con, sql: str, params: list | None = None, size: int = 2000):
    """Stream a query's rows as lists of dicts, size at a time (never the whole crawl)."""
    cur = con.cursor()
    cur.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    while True:
        rows = cur.fetchmany(size)
        if not rows:
            break
        yield [dict(zip(cols, r)) for r in rows]
    cur.close()


# --- findings -------------------------------------------------------------------------------

# The crawl's rows, and main_texts (its pages; the texts belong to no crawl) and page_signatures
# (derived from the texts alone, not an analysis result: a half-written set is still right, so
# it is not kept aside).
CRAWL_TABLES = frozenset({"crawls", "responses", "pages", "blocks", "links", "sitemap_urls", "main_texts",
                          "main_text_pages", "page_signatures"})


@contextmanager
def analysis_replaced(con, crawl_id: int):
    """Re-analysing a crawl replaces its findings and analysis rows all or nothing.

    The analyses stream their input through cursors, which do not see an open transaction of
    the connection, so one transaction cannot hold them; instead the crawl's current rows of
    every analysis table (flags and the rest, found by their crawl_id column) are kept aside
    and put back if the analyses stop midway (Ctrl-C, an error). While they run the crawl is
    not `analysed` (analysed_at NULL), so a process killed outright leaves no half-analysed
    crawl for `report` to write; `analyse` again restores status and first_seen exactly."""
    c = int(crawl_id)
    tables = sorted(t for (t,) in con.execute(
        "SELECT DISTINCT table_name FROM information_schema.columns WHERE column_name = 'crawl_id' "
        "AND table_schema = 'main'").fetchall() if t not in CRAWL_TABLES)
    analysed_at = con.execute("SELECT analysed_at FROM crawls WHERE crawl_id = ?", [c]).fetchone()[0]
    for t in tables:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _kept_{t} AS SELECT * FROM {t} WHERE crawl_id = {c}")
    con.execute("UPDATE crawls SET analysed_at = NULL WHERE crawl_id = ?", [c])
    try:
        yield
    except BaseException:
        con.begin()
        for t in tables:
            con.execute(f"DELETE FROM {t} WHERE crawl_id = {c}")
            con.execute(f"INSERT INTO {t} SELECT * FROM _kept_{t}")
        con.execute("UPDATE crawls SET analysed_at = ? WHERE crawl_id = ?", [analysed_at, c])
        con.commit()
        raise
    finally:
        for t in tables:
            con.execute(f"DROP TABLE IF EXISTS _kept_{t}")


def write_flags(con, crawl_id: int, analysis: str, rows: Iterable, kinds: Iterable[str]) -> dict[str, int]:
    """Replace the findings of these kinds for the crawl with rows (`analysis.findings.Finding`s, or
    dicts of its fields); one per (kind, page_url, target), the first of duplicates kept.

    Returns {kind: findings written} for every kind given, so printed counts are stored counts.
    """
    from analysis.findings import as_finding

    kinds = list(kinds)
    counts = dict.fromkeys(kinds, 0)
    site = crawl_info(con, crawl_id)["site"]
    if kinds:
        con.execute(
            f"DELETE FROM flags WHERE crawl_id = ? AND kind IN ({','.join('?' * len(kinds))})",
            [crawl_id, *kinds],
        )
    seen: set[tuple] = set()
    writer = BatchWriter(con)
    for row in rows:
        f = as_finding(row)
        key = (f.kind, f.page_url, f.target)
        if key in seen:
            continue
        seen.add(key)
        writer.add("flags", {
            "crawl_id": crawl_id, "site": site, "page_url": f.page_url, "kind": f.kind,
            "severity": f.severity, "target": f.target, "detail": f.detail, "suggestion": f.suggestion,
            "status": None, "first_seen": None, "analysis": analysis,
            "anchor_text": f.anchor_text, "block_text": f.block_text,
        })
        counts[f.kind] = counts.get(f.kind, 0) + 1
    writer.flush()
    if kinds:
        # A page that names another crawled page as its canonical is that page: a finding it
        # shares with its canonical is reported once, on the canonical page.
        marks = ",".join("?" * len(kinds))
        con.execute(f"""
            DELETE FROM flags f USING pages p
            WHERE f.crawl_id = ? AND f.kind IN ({marks})
              AND p.crawl_id = f.crawl_id AND p.url = f.page_url AND p.canonical <> p.url
              AND EXISTS (SELECT 1 FROM flags g WHERE g.crawl_id = f.crawl_id AND g.kind = f.kind
                          AND g.target = f.target AND g.page_url = p.canonical)
        """, [crawl_id, *kinds])
        counts.update(con.execute(f"SELECT kind, count(*) FROM flags WHERE crawl_id = ? AND kind IN ({marks}) "
                                  "GROUP BY kind", [crawl_id, *kinds]).fetchall())
    return counts


def finalize_flags(con, crawl_id: int) -> None:
    """Mark each finding new or recurring against the previous crawl, carrying first_seen."""
    prev = previous_crawl(con, crawl_id)
    started = crawl_info(con, crawl_id)["started_at"]
    con.execute(
        "UPDATE flags SET status = 'new', first_seen = ? WHERE crawl_id = ?", [started, crawl_id]
    )
    if prev is None:
        return
    con.execute(
        """
        UPDATE flags SET status = 'recurring', first_seen = coalesce(p.first_seen, flags.first_seen)
        FROM flags p
        WHERE flags.crawl_id = ? AND p.crawl_id = ?
          AND p.kind = flags.kind AND p.page_url = flags.page_url AND p.target = flags.target
        """,
        [crawl_id, prev],
    )
