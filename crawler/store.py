"""The DuckDB store: opens the database, runs the schema, writes rows in Arrow batches, reads crawls back."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pyarrow as pa

from crawler.errors import AuditError, StoreError

SCHEMA_VERSION = "1"
BOILERPLATE_MIN_PAGES = 3   # a block whose text repeats on this many pages is site furniture

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
        _apply_schema(con, p)
    return con


def _apply_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    ddl = resources.files("crawler").joinpath("schema.sql").read_text(encoding="utf-8")
    try:
        version = None
        if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchone()[0]:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = row[0] if row else None
        if version is not None and version != SCHEMA_VERSION:
            raise StoreError(f"database {path} has schema version {version}, this Content Audit "
                             f"uses {SCHEMA_VERSION}: pass a new --db path")
        con.execute(ddl)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    except duckdb.Error as exc:
        raise StoreError(f"cannot set up database {path}: {str(exc).splitlines()[0]}") from None


# --- crawls -----------------------------------------------------------------------------

def create_crawl(con, site: str, start_urls: list[str], hosts: list[str], options: dict) -> int:
    crawl_id = con.execute("SELECT nextval('crawl_id_seq')").fetchone()[0]
    con.execute(
        "INSERT INTO crawls (crawl_id, site, start_urls, hosts, options, started_at, status) "
        "VALUES (?, ?, ?, ?, ?, ?, 'running')",
        [crawl_id, site, start_urls, hosts, json.dumps(options, default=str), utcnow()],
    )
    return int(crawl_id)


def finish_crawl(con, crawl_id: int, status: str, stats: dict[str, Any]) -> None:
    pages = con.execute("SELECT count(*) FROM pages WHERE crawl_id = ?", [crawl_id]).fetchone()[0]
    con.execute(
        "UPDATE crawls SET finished_at = ?, status = ?, pages_crawled = ?, stats = ? WHERE crawl_id = ?",
        [utcnow(), status, pages, json.dumps(stats, default=str), crawl_id],
    )


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
    """Buffers rows per table and inserts them as Arrow tables (executemany is ~100x slower)."""

    def __init__(self, con, batch_rows: int = 2000):
        self.con = con
        self.batch_rows = batch_rows
        self.buffers: dict[str, list[dict]] = {}
        self.schemas: dict[str, pa.Schema] = {}
        self.done: list[str] = []      # URLs whose rows are all buffered; told to after_flush
        self.after_flush = None        # callable(list of URLs) once their rows are on disk

    def add(self, table: str, row: dict) -> None:
        buf = self.buffers.setdefault(table, [])
        buf.append(row)
        if len(buf) >= self.batch_rows:
            self.flush(table)

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
        for name in [table] if table else list(self.buffers):
            rows = self.buffers.get(name)
            if not rows:
                continue
            batch = pa.Table.from_pylist(rows, schema=self._schema(name))
            self.con.register("_batch", batch)
            try:
                self.con.execute(f"INSERT INTO {name} SELECT * FROM _batch")
            finally:
                self.con.unregister("_batch")
            self.buffers[name] = []


def insert_rows(con, table: str, rows: list[dict]) -> None:
    """Insert a list of dict rows in one Arrow batch."""
    writer = BatchWriter(con, batch_rows=len(rows) + 1)
    writer.extend(table, rows)
    writer.flush()


# --- what analyses read -------------------------------------------------------------------

def main_text_sql(crawl_id: int, blocks: str = "TRUE") -> str:
    """SQL giving (url, text, words, content_hash) for every parsed page of a crawl.

    The main text is the page's blocks of role 'main', in page order, without blocks whose
    text repeats on BOILERPLATE_MIN_PAGES pages or more (site furniture inside the content).
    Pages with no main text get text '' and words 0. `blocks`, an SQL condition on the
    blocks table, narrows the main blocks further (readability keeps its prose blocks).
    """
    cid = int(crawl_id)
    return f"""
        WITH repeated AS (
            SELECT text_hash FROM blocks WHERE crawl_id = {cid}
            GROUP BY text_hash HAVING count(DISTINCT page_url) >= {BOILERPLATE_MIN_PAGES}
        ),
        main AS (
            SELECT page_url AS url,
                   string_agg(text, '\n' ORDER BY block_index) AS text,
                   sum(word_count) AS words
            FROM blocks
            WHERE crawl_id = {cid} AND role = 'main' AND ({blocks})
              AND text_hash NOT IN (SELECT text_hash FROM repeated)
            GROUP BY page_url
        )
        SELECT p.url, coalesce(m.text, '') AS text, coalesce(m.words, 0)::INTEGER AS words,
               md5(coalesce(m.text, '')) AS content_hash, p.lang
        FROM pages p LEFT JOIN main m ON m.url = p.url
        WHERE p.crawl_id = {cid}
        ORDER BY p.url
    """


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

def write_flags(con, crawl_id: int, analysis: str, rows: Iterable[dict], kinds: Iterable[str]) -> int:
    """Replace the findings of these kinds for the crawl with rows; one per (kind, page_url, target).

    Each row has kind, page_url, severity, and optionally target, detail, suggestion.
    Returns how many rows were written.
    """
    kinds = list(kinds)
    site = crawl_info(con, crawl_id)["site"]
    if kinds:
        con.execute(
            f"DELETE FROM flags WHERE crawl_id = ? AND kind IN ({','.join('?' * len(kinds))})",
            [crawl_id, *kinds],
        )
    seen: set[tuple] = set()
    writer = BatchWriter(con)
    n = 0
    for row in rows:
        key = (row["kind"], row["page_url"], row.get("target") or "")
        if key in seen:
            continue
        seen.add(key)
        writer.add("flags", {
            "crawl_id": crawl_id, "site": site, "page_url": row["page_url"], "kind": row["kind"],
            "severity": row["severity"], "target": row.get("target") or "",
            "detail": row.get("detail"), "suggestion": row.get("suggestion"),
            "status": None, "first_seen": None, "analysis": analysis,
        })
        n += 1
    writer.flush()
    return n


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
