"""Merges the DuckDB files of the workers of one distributed crawl into the main database as one crawl."""

from __future__ import annotations

import json
from pathlib import Path

from crawler import store
from crawler.errors import AuditError

# Tables keyed by the page they came from; copied before `pages` so a page is taken from one worker.
PAGE_TABLES = {"blocks": "page_url", "links": "source_url", "pages": "url"}


def merge_workers(con, worker_dbs: list[str]) -> int:
    """Copy every worker's crawl into one new crawl of the main database; returns its id.

    A URL answered by two workers (a worker died after writing its rows but before Redis
    heard so) is kept once: the first worker's copy, with that worker's page, blocks and links.
    """
    if not worker_dbs:
        raise AuditError("merge needs the workers' database files, like: merge w1.duckdb w2.duckdb --db audit.duckdb")
    crawls = []
    for i, path in enumerate(worker_dbs):
        if not Path(path).exists():
            raise AuditError(f"worker database {path} does not exist")
        try:
            con.execute(f"ATTACH '{_quote(path)}' AS w{i} (READ_ONLY)")
        except Exception as exc:
            raise AuditError(f"cannot open worker database {path}: {str(exc).splitlines()[0]}") from None
        rows = con.execute(f"SELECT crawl_id, site, start_urls, hosts, options, started_at, finished_at, status "
                           f"FROM w{i}.crawls ORDER BY crawl_id DESC LIMIT 1").fetchall()
        if not rows:
            raise AuditError(f"worker database {path} holds no crawl")
        crawls.append(rows[0])
    sites = {c[1] for c in crawls}
    if len(sites) > 1:
        raise AuditError(f"the worker databases are crawls of different sites: {', '.join(sorted(sites))}")
    first = crawls[0]
    crawl_id = store.create_crawl(con, first[1], list(first[2]), list(first[3]),
                                  json.loads(first[4]) if isinstance(first[4], str) else first[4] or {})
    for i, (wid, *_rest) in enumerate(crawls):
        src = f"w{i}"
        # responses: URLs no earlier worker answered
        con.execute(f"""
            INSERT INTO responses BY NAME
            SELECT * REPLACE ({crawl_id} AS crawl_id) FROM {src}.responses r
            WHERE r.crawl_id = {wid}
              AND r.url NOT IN (SELECT url FROM responses WHERE crawl_id = {crawl_id})
            QUALIFY row_number() OVER (PARTITION BY r.url ORDER BY r.fetched_at) = 1
        """)
        for table, key in PAGE_TABLES.items():
            con.execute(f"""
                INSERT INTO {table} BY NAME
                SELECT * REPLACE ({crawl_id} AS crawl_id) FROM {src}.{table} t
                WHERE t.crawl_id = {wid}
                  AND t.{key} NOT IN (SELECT url FROM pages WHERE crawl_id = {crawl_id})
            """)
        con.execute(f"""
            INSERT INTO sitemap_urls BY NAME
            SELECT DISTINCT {crawl_id} AS crawl_id, url, sitemap FROM {src}.sitemap_urls
            WHERE crawl_id = {wid}
            EXCEPT SELECT crawl_id, url, sitemap FROM sitemap_urls WHERE crawl_id = {crawl_id}
        """)
    started = min(c[5] for c in crawls)
    finished = max((c[6] for c in crawls if c[6] is not None), default=None)
    status = "finished" if any(c[7] == "finished" for c in crawls) else "interrupted"
    con.execute("UPDATE crawls SET started_at = ? WHERE crawl_id = ?", [started, crawl_id])
    store.finish_crawl(con, crawl_id, status, {"merged_from": worker_dbs})
    if finished is not None:
        con.execute("UPDATE crawls SET finished_at = ? WHERE crawl_id = ?", [finished, crawl_id])
    for i in range(len(worker_dbs)):
        con.execute(f"DETACH w{i}")
    return crawl_id


def _quote(path: str) -> str:
    return str(path).replace("'", "''")
