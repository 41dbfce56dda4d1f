"""Terminal summaries: what a crawl found (pages per host, statuses, links, errors) and the crawl history."""

from __future__ import annotations


def crawl_summary_lines(con, crawl_id: int) -> list[str]:
    lines = []
    hosts = con.execute(
        """
        SELECT host, count(*) FILTER (WHERE purpose = 'crawl' AND outcome = 'fetched') AS fetched,
               count(p.url) AS pages
        FROM responses r LEFT JOIN pages p ON p.crawl_id = r.crawl_id AND p.url = r.url
        WHERE r.crawl_id = ? AND r.is_internal
        GROUP BY host ORDER BY host
        """,
        [crawl_id],
    ).fetchall()
    for host, fetched, pages in hosts:
        lines.append(f"  {host:28} {pages} pages ({fetched} responses)")
    statuses = con.execute(
        """
        SELECT coalesce(CAST(status AS VARCHAR), outcome) AS s, count(*) FROM responses
        WHERE crawl_id = ? AND is_internal GROUP BY s ORDER BY s
        """,
        [crawl_id],
    ).fetchall()
    lines.append("  site responses: " + (", ".join(f"{s} x{n}" for s, n in statuses) or "none"))
    ext = con.execute(
        """
        SELECT count(*), count(*) FILTER (WHERE outcome = 'cached'),
               count(*) FILTER (WHERE outcome = 'error' OR status >= 400)
        FROM responses WHERE crawl_id = ? AND NOT is_internal
        """,
        [crawl_id],
    ).fetchone()
    lines.append(f"  external URLs checked: {ext[0]} ({ext[1]} from the cache), {ext[2]} failing")
    links = con.execute(
        "SELECT count(*), count(DISTINCT url) FROM links WHERE crawl_id = ?", [crawl_id]
    ).fetchone()
    lines.append(f"  links found: {links[0]} ({links[1]} distinct targets)")
    errors = con.execute(
        "SELECT error, count(*) FROM responses WHERE crawl_id = ? "
        "AND outcome IN ('error', 'too_large', 'not_fetched') "
        "GROUP BY error ORDER BY count(*) DESC, error",
        [crawl_id],
    ).fetchall()
    if errors:
        lines.append("  errors: " + ", ".join(f"{e} x{n}" for e, n in errors))
    traps = con.execute(
        "SELECT error FROM responses WHERE crawl_id = ? AND outcome = 'trap' ORDER BY error", [crawl_id]
    ).fetchall()
    for (pattern,) in traps:
        lines.append(f"  crawler trap not followed: {pattern}")
    return lines


def history_lines(con, site: str | None) -> list[str]:
    rows = con.execute(
        """
        SELECT c.crawl_id, c.site, strftime(c.started_at, '%Y-%m-%d %H:%M'), c.pages_crawled, c.status,
               (SELECT count(*) FROM flags f WHERE f.crawl_id = c.crawl_id)
        FROM crawls c WHERE ? IS NULL OR c.site = ? ORDER BY c.crawl_id
        """,
        [site, site],
    ).fetchall()
    if not rows:
        return ["No crawls stored" + (f" for site {site}" if site else "") + "."]
    out = [f"{'id':>5}  {'site':30} {'started (UTC)':17} {'pages':>6}  {'status':12} {'flags':>6}"]
    for cid, s, started, pages, status, flags in rows:
        out.append(f"{cid:>5}  {s[:30]:30} {started:17} {pages or 0:>6}  {status:12} {flags:>6}")
    return out
