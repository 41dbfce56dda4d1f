"""Content Audit's command line: crawl, analyse, report, history, recheck, demo. A thin layer over the library."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from crawler.config import Options, apply_overrides, load_config
from crawler.errors import AuditError

EXIT_OK, EXIT_FAIL_ON, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 3

EXAMPLES = {
    "demo": "python pipeline.py demo --out demo-report",
    "run": "python pipeline.py run https://clinic.example/ https://blog.clinic.example/ --out report",
    "crawl": "python pipeline.py crawl https://clinic.example/ https://blog.clinic.example/ --max-pages 500",
    "analyse": "python pipeline.py analyse --site clinic.example",
    "report": "python pipeline.py report --out report",
    "history": "python pipeline.py history --site clinic.example",
    "recheck": "python pipeline.py recheck https://clinic.example/ketamine-therapy",
    "merge": "python pipeline.py merge worker1.duckdb worker2.duckdb --db audit.duckdb --redis redis://127.0.0.1:6379/0",
}
HELP = {
    "demo": "serve the bundled clinic site and blog on loopback and run the whole pipeline on it",
    "run": "the weekly job: crawl, analyse and report in one go",
    "crawl": "crawl only: fill the database and print a summary",
    "analyse": "run every analysis on a stored crawl (the latest of the site by default)",
    "report": "write the report files for a stored crawl, compared with the crawl before it",
    "history": "list stored crawls: id, site, start, pages, status, flags",
    "recheck": "fetch one page again and show its findings now beside those of the last crawl",
    "merge": "merge the databases of the workers of a --redis crawl into --db as one crawl",
}


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not a usage dump
        raise AuditError(f"{message} (see `python {self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--config", metavar="FILE", help="TOML file; every option below can be set there")
    g.add_argument("--site", metavar="NAME", help="site name (default: the first start URL's host)")
    g.add_argument("--db", metavar="PATH", help="DuckDB file (default audit.duckdb)")
    g.add_argument("--out", metavar="DIR", help="report folder (default report)")
    g.add_argument("--max-pages", type=int, metavar="N", help="pages of the site to crawl at most (default 10000)")
    g.add_argument("--max-depth", type=int, metavar="N", help="link hops from a start URL (default 50)")
    g.add_argument("--concurrency", type=int, metavar="N", help="requests at once per host of the site (default 8)")
    g.add_argument("--timeout", type=float, metavar="SECONDS", help="per request (default 20)")
    g.add_argument("--user-agent", metavar="STRING", help="User-Agent header")
    g.add_argument("--no-external", action="store_true", default=None, help="do not check links to other sites")
    g.add_argument("--fail-on", choices=["error", "warning"], help="exit 1 when findings of that severity or worse exist")
    g.add_argument("--resume", action="store_true", default=None, help="continue the site's interrupted crawl")
    g.add_argument("-v", "--verbose", action="store_true", default=None, help="Scrapy's log on stderr")
    g.add_argument("-q", "--quiet", action="store_true", default=None, help="no progress display, only results")

    parser = Parser(prog="pipeline.py", description="Content Audit: crawl a site and its blog, "
                    "find broken cross-links, hard-to-read pages and off-topic content.")
    subs = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in ("demo", "run", "crawl", "analyse", "report", "history", "recheck", "merge"):
        sp = subs.add_parser(name, parents=[common], help=HELP[name], description=HELP[name] + ".",
                             epilog=f"example: {EXAMPLES[name]}",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        if name in ("run", "crawl"):
            sp.add_argument("urls", nargs="*", metavar="URL", help="start URLs; their hosts are the site")
        if name in ("analyse", "report"):
            sp.add_argument("--crawl", type=int, metavar="ID", help="crawl id (default: the latest)")
        if name == "recheck":
            sp.add_argument("url", metavar="URL", help="the page to fetch again")
        if name in ("crawl", "merge"):
            sp.add_argument("--redis", metavar="URL", help="share the crawl's frontier through Redis "
                            "(redis://host:6379/0) so several workers crawl one site together")
        if name == "crawl":
            sp.add_argument("--worker", action="store_true", default=None,
                            help="this process is one worker of a --redis crawl (its own --db)")
        if name == "merge":
            sp.add_argument("worker_dbs", nargs="+", metavar="WORKER_DB", help="the workers' database files")
    return parser


def options_from(args) -> Options:
    options = load_config(args.config)
    overrides = {
        "site": args.site, "db": args.db, "out": args.out, "max_pages": args.max_pages,
        "max_depth": args.max_depth, "concurrency": args.concurrency, "timeout": args.timeout,
        "user_agent": args.user_agent, "no_external": args.no_external, "fail_on": args.fail_on,
        "resume": args.resume, "verbose": args.verbose, "quiet": args.quiet,
    }
    if getattr(args, "urls", None):
        overrides["urls"] = list(args.urls)
    for name in ("redis", "worker"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    return apply_overrides(options, overrides)


def say(options: Options, text: str = "") -> None:
    """Print a result line. A stdout that cannot be written (a full disk, `| head -1` gone)
    must not stop the crawl, analysis or report: printing stops, the work goes on."""
    global _stdout_ok
    if not _stdout_ok:
        return
    try:
        print(text, flush=True)
    except (OSError, ValueError):
        _stdout_ok = False
        _silence_stdout()


_stdout_ok = True


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail either
        os.close(devnull)
    except (OSError, ValueError):
        pass


def open_db(options: Options):
    """Open the database for writing; crawls left `running` by a process that is gone are
    closed as interrupted (and said so), so --resume can continue them."""
    from crawler import store
    from crawler.crawlstate import close_dead_crawls

    con = store.open_store(options.db)
    try:
        for dead in close_dead_crawls(con):
            who = f"process {dead['pid']}" if dead.get("pid") else "its process"
            print(f"Note: crawl {dead['crawl_id']} of {dead['site']} was left running by {who}, which "
                  f"is gone (killed or a power cut): marked interrupted with its "
                  f"{dead['pages_crawled']} pages; continue it with `python pipeline.py crawl --resume "
                  f"--site {dead['site']} --db {options.db}`", file=sys.stderr)
    except BaseException:
        con.close()
        raise
    return con


def print_crawl_summary(con, crawl_id: int, options: Options) -> None:
    from reports.summary import crawl_summary_lines
    for line in crawl_summary_lines(con, crawl_id):
        say(options, line)


def cmd_crawl(options: Options, analyse: bool, report: bool) -> int:
    from crawler.run import run_crawl

    if report:
        from reports.folder import check_writable
        check_writable(Path(options.out))  # before a long crawl, not after it
    con = open_db(options)
    try:
        result = run_crawl(con, options.db, options)
        if not options.quiet:
            try:
                print(file=sys.stderr)
            except OSError:
                pass
        say(options, f"Crawl {result.crawl_id} of {result.site}: {result.status}")
        print_crawl_summary(con, result.crawl_id, options)
        if result.status == "interrupted":
            say(options, f"Interrupted: what was fetched is kept. Continue with: "
                         f"python pipeline.py crawl --resume --site {result.site} --db {options.db}")
            return EXIT_INTERRUPTED
        code = EXIT_OK
        if analyse:
            code = do_analyse(con, result.crawl_id, options)
            if report:
                do_report(con, result.crawl_id, options)
        if result.status in ("failed", "partial"):
            # The site could not be seen (whole): never a quiet "no findings". The report says so too.
            raise AuditError(crawl_verdict_line(result, options))
        return code
    finally:
        con.close()


def crawl_verdict_line(result, options: Options) -> str:
    if result.status == "failed":
        return (f"the crawl could not see the site, {result.verdict}. Check the start URLs and that "
                "the site is up, then run again")
    return (f"crawl {result.crawl_id} is partial: {result.verdict}, so its findings cover only the pages "
            f"reached. Run again when the site is back, or continue it with `python pipeline.py crawl "
            f"--resume --site {result.site} --db {options.db}`")


def do_analyse(con, crawl_id: int, options: Options) -> int:
    import analysis
    from crawler import store

    # All or nothing: Ctrl-C midway leaves the last analysis whole (status, first_seen).
    with store.analysis_replaced(con, crawl_id):
        counts = analysis.run_all(con, crawl_id, options)
    say(options, "Findings:")
    for kind, n in counts.items():
        if n:
            say(options, f"  {kind:26} {n}")
    if not any(counts.values()):
        status = store.crawl_info(con, crawl_id)["status"]
        say(options, "  none" if status == "finished" else f"  none on the pages reached (the crawl is {status})")
    return fail_on_code(con, crawl_id, options)


def fail_on_code(con, crawl_id: int, options: Options) -> int:
    from analysis.findings import fail_on

    by_severity = dict(con.execute(
        "SELECT severity, count(*) FROM flags WHERE crawl_id = ? GROUP BY severity", [crawl_id]).fetchall())
    n = fail_on(by_severity, options.fail_on)
    if n:
        say(options, f"--fail-on {options.fail_on}: {n} findings of that severity or worse")
        return EXIT_FAIL_ON
    return EXIT_OK


def do_report(con, crawl_id: int, options: Options) -> None:
    from reports import write_report

    path = write_report(con, crawl_id, Path(options.out), options)
    say(options, f"Report: {path}")


def open_existing(options: Options):
    """The database of earlier crawls: a missing file is an error, not a new empty database."""
    if not Path(options.db).exists():
        raise AuditError(f"database {options.db} does not exist: crawl first "
                         f"(python pipeline.py crawl URL --db {options.db}) or pass --db")
    return open_db(options)


def stored_crawl(con, args, options: Options) -> int:
    from crawler import store

    if getattr(args, "crawl", None) is not None:
        store.crawl_info(con, args.crawl)
        return args.crawl
    return store.latest_crawl(con, options.site)


def cmd_analyse(args, options: Options) -> int:
    con = open_existing(options)
    try:
        crawl_id = stored_crawl(con, args, options)
        return do_analyse(con, crawl_id, options)
    finally:
        con.close()


def cmd_report(args, options: Options) -> int:
    con = open_existing(options)
    try:
        crawl_id = stored_crawl(con, args, options)
        do_report(con, crawl_id, options)
        return fail_on_code(con, crawl_id, options)
    finally:
        con.close()


def cmd_history(options: Options) -> int:
    from crawler import store
    from reports.summary import history_lines

    con = store.open_store(options.db, read_only=True)
    try:
        for line in history_lines(con, options.site):
            say(options, line)
    finally:
        con.close()
    return EXIT_OK


def cmd_demo(options: Options) -> int:
    from demo.server import PortBusyError
    from demo.site import start_demo_server

    try:
        server = start_demo_server()
    except PortBusyError as exc:
        raise AuditError(f"{exc} (is another demo running?)") from None
    try:
        options = replace(options, urls=[server.url("clinic"), server.url("blog")],
                          site=options.site or "demo-clinic")
        say(options, f"Demo site: {server.url('clinic')} (clinic) and {server.url('blog')} (blog)")
        return cmd_crawl(options, analyse=True, report=True)
    finally:
        server.stop()


def cmd_merge(args, options: Options) -> int:
    from crawler import store
    from crawler.merge import merge_workers

    con = open_db(options)
    try:
        crawl_id = merge_workers(con, args.worker_dbs)
        info = store.crawl_info(con, crawl_id)
        say(options, f"Crawl {crawl_id} of {info['site']}: merged from {len(args.worker_dbs)} workers, {info['status']}")
        print_crawl_summary(con, crawl_id, options)
        if options.redis:
            from crawler.distributed import RedisState, connect

            RedisState(connect(options.redis), info["site"]).clear()
            say(options, "Redis keys of the crawl cleared: the next distributed crawl starts afresh.")
        return EXIT_OK
    finally:
        con.close()


def cmd_recheck(args, options: Options) -> int:
    from analysis.recheck import recheck

    con = open_existing(options)
    try:
        return recheck(con, args.url, options)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        options = options_from(args)
        if args.command == "demo":
            return cmd_demo(options)
        if args.command in ("run", "crawl"):
            return cmd_crawl(options, analyse=args.command == "run", report=args.command == "run")
        if args.command == "analyse":
            return cmd_analyse(args, options)
        if args.command == "report":
            return cmd_report(args, options)
        if args.command == "history":
            return cmd_history(options)
        if args.command == "merge":
            return cmd_merge(args, options)
        return cmd_recheck(args, options)
    except AuditError as exc:
        return error_line(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return error_line("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # a bug, not bad input: still one line, the traceback with -v
        import duckdb
        from crawler.store import is_disk_full, write_error

        if is_interrupt(exc):
            return error_line("interrupted", EXIT_INTERRUPTED)

        if isinstance(exc, (OSError, duckdb.Error)) and (is_disk_full(exc) or "permission denied" in str(exc).lower()):
            return error_line(str(write_error(exc, f"to {getattr(exc, 'filename', None) or 'the database or report'}")),
                              EXIT_USAGE)
        if "-v" in (argv or sys.argv) or "--verbose" in (argv or sys.argv):
            raise
        return error_line(f"internal error, {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                          "(run again with -v for the traceback, and please report it)", EXIT_USAGE)
    finally:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            _silence_stdout()


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C that reached DuckDB during a query: it stops the query with its own error."""
    import duckdb

    return isinstance(exc, duckdb.InterruptException) or (
        isinstance(exc, RuntimeError) and str(exc).startswith("Query interrupted"))


def error_line(text: str, code: int) -> int:
    try:
        print(f"Error: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
    return code


if __name__ == "__main__":
    sys.exit(main())
