"""The whole benchmark in one command: a synthetic site served by nginx on loopback, then a bare
Scrapy spider (the ceiling), the audit crawl, every analysis, the report, and a weekly rerun
with 5% of the pages changed, each in its own process: wall s, pages/s, CPU s, peak memory.

    python bench/run.py --pages 10000            # BENCHMARKS.md says how to read the table
    python bench/run.py --pages 2000 --profile   # where the crawl's CPU time goes (py-spy)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import sitegen  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") / 1024
STAGES = ("bare", "crawl", "analyse", "report", "weekly", "recheck")
BENCH_CONFIG = "autothrottle = false\ndelay = 0.0\n"   # what --config sets for the audit crawl
OTHER_BENCHES = ("readability_bench.py", "topics_bench.py", "near_duplicates_bench.py", "report_bench.py")
TARGETS = {"crawl_ratio": 0.8, "analyse_s": 15 * 60, "weekly_analyse_s": 3 * 60, "memory_ratio": 1.5,
           # issue 15, at 100,000 pages: the weekly analyses' share of the full ones, and seconds
           "weekly_share": 0.25, "weekly_100k_s": 60, "peak_mb": 1024, "recheck_s": 5}


@dataclass
class Measured:
    """One process tree's cost: wall time, CPU time of every process in it, peak memory."""
    wall_s: float
    cpu_s: float
    peak_mb: float          # largest sum of the tree's resident memory seen (sampled)
    max_rss_mb: float       # largest single process (the kernel's high-water mark)
    returncode: int
    stderr_tail: str = ""


@dataclass
class Row:
    stage: str
    pages: int | None
    wall_s: float | None
    cpu_s: float | None
    peak_mb: float | None
    note: str = ""
    load: float | None = None           # 1-minute load average when the stage started
    server_cpu_s: float | None = None   # nginx's CPU time during a crawl stage
    extra: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.note.startswith("FAILED")

    @property
    def pages_per_s(self) -> float | None:
        if self.pages and self.wall_s:
            return self.pages / self.wall_s
        return None


# --- measuring a process tree -------------------------------------------------------------------

def _proc_table() -> dict[int, tuple[int, float, int]]:
    """pid -> (parent pid, own CPU seconds, resident pages) of every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # After the name: state ppid ... utime(12) stime(13) ... rss(22), counted from state = 0.
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK, int(fields[21]))
    return table


def _descendants(table: dict, root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def measure(cmd: list[str], env: dict | None = None, cwd: Path = ROOT, timeout: float | None = None,
            stdout=subprocess.DEVNULL, interval: float = 0.2) -> Measured:
    """Run cmd and measure it and every process it starts (analyses use worker processes).

    CPU: the larger of what wait4 reports (the process and its waited-for descendants) and the
    sum of each descendant's own CPU time last seen in /proc (catches a forkserver nobody waits
    for). Peak memory: the largest sum of the tree's RSS over samples every `interval` s."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=stdout, stderr=subprocess.PIPE)
    seen_cpu: dict[int, float] = {}
    peak = [0.0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            table = _proc_table()
            pids = _descendants(table, proc.pid)
            rss = 0.0
            for pid in pids:
                _, cpu, pages = table[pid]
                seen_cpu[pid] = cpu
                rss += pages * PAGE_KB / 1024
            peak[0] = max(peak[0], rss)
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    deadline = None if timeout is None else t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline and time.perf_counter() > deadline:
            proc.kill()
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    reader.join(timeout=5)
    cpu = max(usage.ru_utime + usage.ru_stime, sum(seen_cpu.values()))
    tail = b"".join(err_chunks).decode("utf-8", "replace").strip().splitlines()[-5:]
    return Measured(round(wall, 2), round(cpu, 2), round(max(peak[0], usage.ru_maxrss / 1024), 1),
                    round(usage.ru_maxrss / 1024, 1), proc.returncode, "\n".join(tail))


def _cpu_of(pids: list[int]) -> float:
    table = _proc_table()
    return sum(table[p][1] for p in pids if p in table)


# --- the stages -----------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.temporary = args.workdir is None and not args.keep   # removed when the run ends
        self.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="content-audit-bench-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.site_dir = self.workdir / "site"
        self.db = self.workdir / "audit.duckdb"
        for stale in (self.db, Path(f"{self.db}.wal")):   # a reused --workdir starts afresh
            stale.unlink(missing_ok=True)
        shutil.rmtree(f"{self.db}.jobs", ignore_errors=True)
        self.config = self.workdir / "bench.toml"
        self.config.write_text(BENCH_CONFIG)
        self.rows: list[Row] = []
        self.server = None
        self.server_pids: list[int] = []
        self.base_url = ""

    # server ---------------------------------------------------------------------------------------
    def start_server(self) -> None:
        if self.args.server == "nginx":
            self.server = sitegen.NginxServer(self.site_dir, self.args.port, workers=1).start()
            self.server_pids = self.server.pids()
        else:
            from demo.server import SiteServer
            self.server = SiteServer({"site": sitegen.site_server_spec(self.site_dir)},
                                     {"site": self.args.port}).start()
        self.base_url = self.server.base_url if self.args.server == "nginx" else self.server.base_url("site")

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def port(self) -> int:
        if self.args.port:
            return self.args.port
        return sitegen._free_port()

    # stages ---------------------------------------------------------------------------------------
    def generate(self, revision: int = 0) -> sitegen.Site:
        t0, c0 = time.perf_counter(), _self_cpu()
        base = self.base_url or f"http://127.0.0.1:{self.args.port}"
        if self.args.server == "siteserver":
            base = "{{host:site}}"
        site = sitegen.generate(self.site_dir, self.args.pages, base, seed=self.args.seed,
                                revision=revision, update=revision > 0)
        wall = time.perf_counter() - t0
        name = "generate site" if revision == 0 else f"edit {len(site.changed)} pages (5%)"
        self.rows.append(Row(name, site.pages if revision == 0 else len(site.changed), round(wall, 2),
                             round(_self_cpu() - c0, 2), None, note="in-process" + ("" if revision else f", {site.words:,} words, {site.links:,} links")))
        return site

    def stage(self, name: str, cmd: list[str], pages_sql: str | None = None, stdout=subprocess.DEVNULL,
              pages: int | None = None, after=None) -> Row:
        load = os.getloadavg()[0]
        server_before = _cpu_of(self.server_pids)
        m = measure(cmd, stdout=stdout, timeout=self.args.timeout)
        server_cpu = round(_cpu_of(self.server_pids) - server_before, 2) if self.server_pids else None
        note = "" if m.returncode == 0 else f"FAILED (exit {m.returncode}): {m.stderr_tail.splitlines()[-1] if m.stderr_tail else ''}"
        if pages is None and pages_sql and m.returncode == 0:
            pages = self.query(pages_sql)
        row = Row(name, pages, m.wall_s, m.cpu_s, m.peak_mb, note=note, load=round(load, 2),
                  server_cpu_s=server_cpu, extra={"max_rss_mb": m.max_rss_mb})
        if after is not None:
            after(row)
        self.rows.append(row)
        self.say(row)
        return row

    def query(self, sql: str, params: list | None = None):
        """One value from the benchmark's database; None when there is no crawl to ask about."""
        import duckdb
        try:
            con = duckdb.connect(str(self.db), read_only=True)
        except duckdb.Error:
            return None
        try:
            return con.execute(sql, params or []).fetchone()[0]
        except duckdb.Error:
            return None
        finally:
            con.close()

    def bare(self) -> Row:
        out = self.workdir / "bare.json"
        cmd = [sys.executable, str(BENCH / "bare_spider.py"), self.base_url + "/",
               "--concurrency", str(self.args.concurrency), "--stats-json", str(out)]
        out.unlink(missing_ok=True)

        def pages(row: Row) -> None:
            if out.exists():
                stats = json.loads(out.read_text())
                row.pages = stats["pages"]
                row.extra["responses"] = stats["responses"]
        return self.stage("bare Scrapy spider", cmd, after=pages)

    def crawl(self, name: str = "audit crawl") -> Row:
        cmd = [sys.executable, str(ROOT / "pipeline.py"), "crawl", self.base_url + "/", "--db", str(self.db),
               "--config", str(self.config), "--max-pages", str(self.args.pages * 2 + 1000),
               "--concurrency", str(self.args.concurrency), "-q", "--no-external"]
        def responses(row: Row) -> None:
            if not row.failed:
                row.extra["responses"] = self.query(
                    "SELECT count(*) FROM responses WHERE crawl_id = (SELECT max(crawl_id) FROM crawls)")
        return self.stage(name, cmd, "SELECT count(*) FROM pages WHERE crawl_id = (SELECT max(crawl_id) FROM crawls)",
                          after=responses)

    def analyse(self, label: str = "") -> Row:
        """run_all in a child process, each analysis timed inside it (bench/run.py _analyse)."""
        out = self.workdir / "analyses.json"
        out.unlink(missing_ok=True)
        cmd = [sys.executable, str(BENCH / "run.py"), "_analyse", "--db", str(self.db),
               "--config", str(self.config), "--json", str(out)]
        pages = self.query("SELECT count(*) FROM pages WHERE crawl_id = (SELECT max(crawl_id) FROM crawls)")
        row = self.stage(f"analyse, all{label}", cmd, pages=pages)
        if out.exists():
            for name, r in json.loads(out.read_text()).items():
                note = r.get("note") or (f"main process {r['main_process_peak_mb']:.0f} MB"
                                         if r.get("main_process_peak_mb") else "")
                sub = Row(f"  - {name}{label}", pages, r.get("wall_s"), r.get("cpu_s"), r.get("peak_mb"), note=note)
                self.rows.insert(len(self.rows) - 1, sub)
                self.say(sub)
        return row

    def report(self) -> Row:
        cmd = [sys.executable, str(ROOT / "pipeline.py"), "report", "--db", str(self.db),
               "--config", str(self.config), "--out", str(self.workdir / "report")]
        pages = self.query("SELECT count(*) FROM pages WHERE crawl_id = (SELECT max(crawl_id) FROM crawls)")
        return self.stage("report", cmd, pages=pages)

    def recheck(self, site: sitegen.Site) -> Row:
        """`pipeline.py recheck` of one page of the latest crawl: an off-topic article if the
        site has one (its topic is scored against the stored model), else the first changed."""
        path = (site.off_topic or site.changed or ["/"])[0]
        cmd = [sys.executable, str(ROOT / "pipeline.py"), "recheck", self.base_url + path, "--db",
               str(self.db), "--config", str(self.config), "-q"]
        return self.stage("recheck one page", cmd, pages=1)

    def say(self, row: Row) -> None:
        if not self.args.json_only:
            print(format_row(row), flush=True)

    # the run ----------------------------------------------------------------------------------------
    def run(self) -> list[Row]:
        stages = self.args.stages
        if self.args.server == "nginx" and not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
            raise SystemExit(f"Error: {sitegen.NGINX_HELP}, or pass --server siteserver (slower: "
                             "the server then competes with the crawler for CPU)")
        self.args.port = self.port()
        if not self.args.json_only:
            print(machine_line())
            print(f"site: {self.args.pages} pages in {self.site_dir}; concurrency {self.args.concurrency}; "
                  f"server {self.args.server}; work folder {self.workdir}")
            print(HEADER)
        site = self.generate()
        self.say(self.rows[-1])
        self.start_server()
        try:
            for k in range(self.args.repeat):
                if "bare" in stages:
                    self.bare()
                if "crawl" in stages:
                    if k:   # each repeat crawls into an empty database, as the first did
                        for stale in (self.db, Path(f"{self.db}.wal")):
                            stale.unlink(missing_ok=True)
                    self.crawl()
            if "analyse" in stages:
                self.analyse()
            if "report" in stages:
                self.report()
            if "weekly" in stages:
                self.generate(revision=1)
                self.say(self.rows[-1])
                self.crawl("weekly crawl (5% changed)")
                if "analyse" in stages:
                    self.analyse(" (weekly)")
            if "recheck" in stages:
                self.recheck(site)
        finally:
            self.stop_server()
        self.summary(site)
        return self.rows

    def summary(self, site: sitegen.Site) -> None:
        lines = summary_lines(self.rows)
        result = {"machine": machine_info(), "pages": self.args.pages, "concurrency": self.args.concurrency,
                  "server": self.args.server, "rows": [dict(asdict(r), pages_per_s=r.pages_per_s) for r in self.rows],
                  "summary": lines}
        (self.workdir / "results.json").write_text(json.dumps(result, indent=1))
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(result, indent=1))
        if self.args.baseline:
            lines += baseline_lines(self.rows, self.args.pages, json.loads(Path(self.args.baseline).read_text()))
            result["summary"] = lines
            (self.workdir / "results.json").write_text(json.dumps(result, indent=1))
        if self.args.json_only:
            return
        for line in lines:
            print(line)
        if self.temporary:
            print("results: not kept (pass --workdir DIR, --keep or --json FILE to keep them)")
        else:
            print(f"results: {self.workdir / 'results.json'}")
        others = [name for name in OTHER_BENCHES if (BENCH / name).exists()]
        if others:
            print("per-analysis micro-benchmarks: " + ", ".join(f"python bench/{n}" for n in others))


def best(rows: list[Row], stage: str) -> Row | None:
    ok = [r for r in rows if r.stage == stage and not r.failed and r.pages_per_s]
    return max(ok, key=lambda r: r.pages_per_s) if ok else None


def summary_lines(rows: list[Row]) -> list[str]:
    lines = []
    bare, crawl = best(rows, "bare Scrapy spider"), best(rows, "audit crawl")
    if bare and crawl:
        ratio = crawl.pages_per_s / bare.pages_per_s
        cpu_ratio = (crawl.pages / crawl.cpu_s) / (bare.pages / bare.cpu_s)
        lines.append(f"crawl / bare ratio: {ratio:.2f} in pages per wall second, {cpu_ratio:.2f} in pages per "
                     f"CPU second (target >= {TARGETS['crawl_ratio']}); CPU per page: bare "
                     f"{1000 * bare.cpu_s / bare.pages:.1f} ms, crawl {1000 * crawl.cpu_s / crawl.pages:.1f} ms")
    for stage, target in (("analyse, all", "analyse_s"), ("analyse, all (weekly)", "weekly_analyse_s")):
        r = next((r for r in rows if r.stage == stage), None)
        if r and r.failed:
            lines.append(f"{stage}: {r.note}")
        elif r and r.wall_s is not None:
            verdict = "meets" if r.wall_s <= TARGETS[target] else "misses"
            lines.append(f"{stage}: {r.wall_s:.0f} s for {r.pages} pages, {verdict} the {TARGETS[target] / 60:.0f}-minute "
                         "target" + ("" if r.pages and r.pages >= 100_000 or "weekly" in stage else
                                     " (the target is for 100,000 pages)"))
    loads = [r.load for r in rows if r.load is not None]
    if loads and max(loads) > 1.5:
        lines.append(f"warning: the machine was busy (1-minute load up to {max(loads):.1f} on 2 cores): wall "
                     "times are inflated; CPU seconds are the steadier figure")
    return lines


def baseline_lines(rows: list[Row], pages: int, baseline: dict) -> list[str]:
    """Peak memory of each stage against the same stage of a smaller run (its results.json):
    the target is a crawl peak at most 1.5 times as high for 10 times the pages."""
    def peaks(items) -> dict[str, float]:   # the highest of repeated runs of a stage
        out: dict[str, float] = {}
        for stage, peak, failed in items:
            if peak and not failed:
                out[stage] = max(out.get(stage, 0.0), peak)
        return out

    before = peaks((r["stage"], r.get("peak_mb"), str(r.get("note", "")).startswith("FAILED"))
                   for r in baseline["rows"])
    now = peaks((r.stage, r.peak_mb, r.failed) for r in rows)
    lines = []
    for stage, peak in now.items():
        if stage in before:
            target = f" (target <= {TARGETS['memory_ratio']})" if stage == "audit crawl" else ""
            lines.append(f"peak memory of {stage.strip(' -')}: {peak:.0f} MB at {pages} pages, "
                         f"{before[stage]:.0f} MB at {baseline['pages']}: x{peak / before[stage]:.2f}{target}")
    return lines


def _comparable(rows: list[Row]) -> dict[str, Row]:
    """Each stage's row (the best of repeated runs: the fastest), failed runs left out."""
    out: dict[str, Row] = {}
    for r in rows:
        if r.failed or r.wall_s is None:
            continue
        kept = out.get(r.stage)
        if kept is None or r.wall_s < kept.wall_s:
            out[r.stage] = r
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def size_table(small: list[Row], large: list[Row]) -> list[tuple]:
    """(stage, small row, large row, wall ratio, CPU ratio, peak ratio) of every stage measured
    at both sizes, in the large run's order."""
    a, b = _comparable(small), _comparable(large)
    return [(stage, a[stage], row, _ratio(row.wall_s, a[stage].wall_s), _ratio(row.cpu_s, a[stage].cpu_s),
             _ratio(row.peak_mb, a[stage].peak_mb)) for stage, row in b.items() if stage in a]


def size_lines(small: list[Row], n_small: int, large: list[Row], n_large: int) -> list[str]:
    """The stage-by-stage comparison of two sizes, and the issue-15 targets checked on it."""
    def num(v, spec):
        return format(v, spec) if v is not None else "-"
    lines = [f"{n_large:,} pages against {n_small:,} ({n_large / n_small:.0f}x the pages): "
             "wall, CPU and peak memory, and the ratio of each",
             f"{'stage':34} {'wall s':>15} {'CPU s':>15} {'peak MB':>13} {'x wall':>7} {'x CPU':>6} {'x peak':>6}"]
    table = size_table(small, large)
    for stage, a, b, rw, rc, rp in table:
        lines.append(f"{stage:34} {num(a.wall_s, '7.1f')} {num(b.wall_s, '7.1f')} {num(a.cpu_s, '7.1f')} "
                     f"{num(b.cpu_s, '7.1f')} {num(a.peak_mb, '6.0f')} {num(b.peak_mb, '6.0f')} "
                     f"{num(rw, '7.2f')} {num(rc, '6.2f')} {num(rp, '6.2f')}")
    rows = {stage: (a, b, rp) for stage, a, b, _, _, rp in table}

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"
    for stage in ("analyse, all", "report", "audit crawl"):
        if stage in rows:
            a, b, rp = rows[stage]
            limit = "" if stage == "audit crawl" else f" and <= {TARGETS['peak_mb']} MB"
            ok = rp is not None and rp <= TARGETS["memory_ratio"] and (
                stage == "audit crawl" or b.peak_mb <= TARGETS["peak_mb"])
            lines.append(f"peak memory of {stage}: {b.peak_mb:.0f} MB at {n_large:,} pages, x{rp:.2f} "
                         f"its peak at {n_small:,} (target <= {TARGETS['memory_ratio']}x{limit}): {verdict(ok)}")
    b = _comparable(large)
    full, weekly = b.get("analyse, all"), b.get("analyse, all (weekly)")
    if full and weekly:
        share = weekly.wall_s / full.wall_s
        ok = share <= TARGETS["weekly_share"] and (n_large < 100_000 or weekly.wall_s < TARGETS["weekly_100k_s"])
        lines.append(f"weekly analyses at {n_large:,} pages: {weekly.wall_s:.1f} s, {share:.2f} of the full "
                     f"analyses' {full.wall_s:.1f} s (target <= {TARGETS['weekly_share']} and < "
                     f"{TARGETS['weekly_100k_s']} s at 100,000 pages): {verdict(ok)}")
    if "recheck one page" in b:
        r = b["recheck one page"]
        lines.append(f"recheck of one page of a {n_large:,}-page crawl: {r.wall_s:.1f} s (target < "
                     f"{TARGETS['recheck_s']} s): {verdict(r.wall_s < TARGETS['recheck_s'])}")
    return lines


def size_markdown(small: list[Row], n_small: int, large: list[Row], n_large: int) -> str:
    f = lambda v, spec: format(v, spec) if v is not None else "–"  # noqa: E731
    out = [f"| stage | wall s {n_small:,} | wall s {n_large:,} | CPU s {n_small:,} | CPU s {n_large:,} | "
           f"peak MB {n_small:,} | peak MB {n_large:,} | × wall | × CPU | × peak |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for stage, a, b, rw, rc, rp in size_table(small, large):
        name = stage.strip().replace("- ", "&nbsp;&nbsp;↳ ", 1) if stage.startswith("  - ") else stage
        out.append(f"| {name} | {f(a.wall_s, '.1f')} | {f(b.wall_s, '.1f')} | {f(a.cpu_s, '.1f')} | "
                   f"{f(b.cpu_s, '.1f')} | {f(a.peak_mb, '.0f')} | {f(b.peak_mb, '.0f')} | {f(rw, '.2f')} | "
                   f"{f(rc, '.2f')} | {f(rp, '.2f')} |")
    return "\n".join(out)


HEADER = (f"{'stage':34} {'pages':>7} {'wall s':>8} {'pages/s':>8} {'CPU s':>8} {'peak MB':>8} "
          f"{'load':>5}  note")


def format_row(r: Row) -> str:
    def num(v, fmt):
        return format(v, fmt) if v is not None else format("-", fmt[0] + fmt[1:].split(".")[0].rstrip("df"))
    note = r.note
    if r.server_cpu_s is not None and not note:
        note = f"nginx CPU {r.server_cpu_s:.1f} s"
    return (f"{r.stage:34} {num(r.pages, '>7')} {num(r.wall_s, '>8.1f')} {num(r.pages_per_s, '>8.1f')} "
            f"{num(r.cpu_s, '>8.1f')} {num(r.peak_mb, '>8.0f')} {num(r.load, '>5.1f')}  {note}")


def markdown(rows: list[Row]) -> str:
    out = ["| stage | pages | wall s | pages/s | CPU s | peak MB | note |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        f = lambda v, spec: format(v, spec) if v is not None else "–"  # noqa: E731
        out.append(f"| {r.stage.strip().replace('- ', '&nbsp;&nbsp;↳ ', 1) if r.stage.startswith('  - ') else r.stage} | {f(r.pages, ',')} | {f(r.wall_s, '.1f')} | {f(r.pages_per_s, '.1f')} | "
                   f"{f(r.cpu_s, '.1f')} | {f(r.peak_mb, '.0f')} | {r.note} |")
    return "\n".join(out)


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def machine_info() -> dict:
    import duckdb
    import scrapy
    mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip() if shutil.which("nginx") else None
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024 ** 2, 1),
            "python": platform.python_version(), "scrapy": scrapy.__version__, "duckdb": duckdb.__version__,
            "nginx": nginx, "kernel": platform.release()}


def machine_line() -> str:
    m = machine_info()
    return (f"machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}, "
            f"Scrapy {m['scrapy']}, DuckDB {m['duckdb']}, {m['nginx'] or 'no nginx'}")


# --- child process: the analyses, each timed ------------------------------------------------------

def analyse_child(argv: list[str]) -> int:
    """`run.py _analyse`: analysis.run_all on the latest crawl, with each analysis' analyse()
    wrapped to time it; so the whole is exactly what `pipeline.py analyse` runs."""
    ap = argparse.ArgumentParser(prog="run.py _analyse")
    ap.add_argument("--db", required=True)
    ap.add_argument("--config")
    ap.add_argument("--json", required=True)
    ap.add_argument("--crawl", type=int, help="crawl id (default: the latest)")
    args = ap.parse_args(argv)
    import importlib

    import analysis
    from crawler import store
    from crawler.config import load_config

    options = load_config(args.config)
    timings: dict[str, dict] = {}
    seen: dict[int, float] = {}   # pid -> CPU seconds last seen, shared: a forkserver outlives one analysis
    names = analysis.ANALYSES
    for name in names:
        module = importlib.import_module(f"analysis.{name}")
        module.analyse = _timed(name, module.analyse, timings, seen)
    con = store.open_store(args.db)
    try:
        crawl_id = args.crawl if args.crawl is not None else store.latest_crawl(con)
        analysis.run_all(con, crawl_id, options)
    finally:
        con.close()
        Path(args.json).write_text(json.dumps(timings, indent=1))
    return 0


def _timed(name: str, fn, timings: dict, seen: dict[int, float]):
    me = os.getpid()

    def wrapper(con, crawl_id, options):
        peak = [0.0, 0.0]   # the process tree's resident memory, and this process' own
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                table = _proc_table()
                pids = _descendants(table, me)
                peak[0] = max(peak[0], sum(table[p][2] for p in pids) * PAGE_KB / 1024)
                peak[1] = max(peak[1], table[me][2] * PAGE_KB / 1024 if me in table else 0.0)
                for p in pids:
                    if p != me:
                        seen[p] = table[p][1]
                stop.wait(0.2)

        before_children = dict(seen)
        t = threading.Thread(target=sample, daemon=True)
        t.start()
        c0, w0 = os.times(), time.perf_counter()
        try:
            return fn(con, crawl_id, options)
        except Exception as exc:
            timings[name] = {"note": f"FAILED: {type(exc).__name__}: {str(exc)[:120]}"}
            raise
        finally:
            wall = time.perf_counter() - w0
            c1 = os.times()
            stop.set()
            t.join()
            own = (c1.user - c0.user) + (c1.system - c0.system)
            waited = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
            unwaited = sum(v - before_children.get(p, 0.0) for p, v in seen.items())
            entry = timings.setdefault(name, {})
            entry.update(wall_s=round(wall, 2), cpu_s=round(own + max(waited, unwaited), 2),
                         peak_mb=round(peak[0], 1), main_process_peak_mb=round(peak[1], 1))
    return wrapper


# --- profile ----------------------------------------------------------------------------------------

def profile(args) -> int:
    """Run the bare spider and the audit crawl under py-spy (or the crawl under cProfile) and
    print where their CPU time goes."""
    bench = Bench(args)
    args.port = bench.port()
    if not args.keep and args.workdir is None:
        args.workdir = str(bench.workdir)
    bench.generate()
    bench.start_server()
    crawl = [str(ROOT / "pipeline.py"), "crawl", bench.base_url + "/", "--db", str(bench.db), "--config",
             str(bench.config), "--max-pages", str(args.pages * 2 + 1000), "--concurrency",
             str(args.concurrency), "-q", "--no-external"]
    bare_stats = bench.workdir / "bare.json"
    bare = [str(BENCH / "bare_spider.py"), bench.base_url + "/", "--concurrency", str(args.concurrency),
            "--stats-json", str(bare_stats)]
    use_pyspy = shutil.which("py-spy") and not args.cprofile
    if not use_pyspy and not args.cprofile:
        print("py-spy is not installed (`pip install py-spy`): profiling the crawl with cProfile, "
              "which inflates the cost of small calls")
    results = []
    try:
        for name, target in (("bare Scrapy spider", bare), ("audit crawl", crawl)):
            out = bench.workdir / f"profile-{'bare' if 'bare' in name else 'crawl'}"
            if use_pyspy:
                cmd = ["py-spy", "record", "--format", "raw", "--rate", "250", "--output", f"{out}.txt",
                       "--", sys.executable, *target]
            elif "bare" in name:
                continue
            else:
                cmd = [sys.executable, "-m", "cProfile", "-o", f"{out}.pstats", *target]
            m = measure(cmd, timeout=args.timeout)
            results.append((name, out, m))
    finally:
        bench.stop_server()
    crawl_pages = bench.query("SELECT count(*) FROM pages")
    bare_pages = json.loads(bare_stats.read_text())["pages"] if bare_stats.exists() else 0
    for name, out, m in results:
        pages = bare_pages if "bare" in name else crawl_pages
        print(f"\n== {name}: {pages} pages, {m.wall_s} s wall, {m.cpu_s} s CPU "
              f"({1000 * m.cpu_s / max(pages, 1):.1f} ms CPU per page, under the profiler), exit {m.returncode}")
        if use_pyspy:
            print(profile_tables(_read_raw(Path(f"{out}.txt")), args.top))
        else:
            import pstats
            pstats.Stats(f"{out}.pstats").sort_stats("tottime").print_stats(args.top)
    return 0


def _read_raw(path: Path) -> dict[tuple[str, ...], int]:
    stacks: dict[tuple[str, ...], int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            key = tuple(stack.split(";"))
            stacks[key] = stacks.get(key, 0) + int(count)
    return stacks


def _short(frame: str) -> str:
    # 'func (path/to/module.py:123)' -> 'func (module.py)'; the line number splits one function.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", str(ROOT) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def profile_tables(stacks: dict[tuple[str, ...], int], top: int = 25) -> str:
    """Self time per function, inclusive time per function, and time per area of the code."""
    # A thread-pool thread waiting for work is idle, even where py-spy samples it as active.
    stacks = {k: v for k, v in stacks.items() if not (k and k[-1].startswith(("Condition.wait", "wait (threading")))}
    total = sum(stacks.values()) or 1
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    areas: dict[str, int] = {}
    for stack, n in stacks.items():
        frames = [_short(f) for f in stack if "(" in f]
        if not frames:
            continue
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
        areas[_area(stack)] = areas.get(_area(stack), 0) + n
    lines = [f"samples: {total} (py-spy, all threads, idle waits left out); shares of those samples", "",
             "where the time goes (innermost project frame on the stack, else innermost library):"]
    lines += [f"  {100 * n / total:5.1f}%  {a}" for a, n in sorted(areas.items(), key=lambda x: -x[1])]
    lines += ["", f"top {top} functions by self time:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in sorted(own.items(), key=lambda x: -x[1])[:top]]
    lines += ["", f"top {top} functions by inclusive time:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in sorted(incl.items(), key=lambda x: -x[1])[:top]]
    return "\n".join(lines)


PROJECT_AREAS = (  # the innermost project frame on a stack names its area ...
    ("(crawler/markup.py", "crawler/markup.py: parse (Lexbor, then lxml), visible text"),
    ("(crawler/blocks.py", "crawler/blocks.py: cut the text into blocks"),
    ("(crawler/maincontent.py", "crawler/maincontent.py: landmarks, content root, roles"),
    ("(crawler/teasers.py", "crawler/teasers.py: find teasers"),
    ("(crawler/text.py", "crawler/text.py: count words, clean, hash"),
    ("(crawler/extract.py", "crawler/extract.py: head, links, orchestration"),
    ("(crawler/repeats.py", "crawler/repeats.py: page repetition sketch"),
    ("(crawler/responses.py", "crawler/responses.py: response rows, decoding"),
    ("(crawler/urls.py", "crawler/urls.py: normalise and resolve URLs"),
    ("(crawler/store.py", "crawler/store.py: Arrow batches into DuckDB"),
    ("(crawler/pipelines.py", "crawler/pipelines.py: items to rows"),
    ("(crawler/spider.py", "crawler/spider.py: rows, requests (incl. building them)"),
    ("(crawler/middlewares.py", "crawler/middlewares.py"),
    ("(crawler/progress.py", "crawler/progress.py"),
)
LIBRARY_AREAS = (  # ... else the innermost library frame does
    ("scrapy/linkextractors", "Scrapy LinkExtractor"),
    ("parsel/", "parsel (lxml parse of the response)"),
    ("w3lib/", "w3lib URL work"),
    ("scrapy/utils/sitemap", "sitemap parsing"),
    ("queuelib/", "Scrapy disk queue (JOBDIR)"),
    ("scrapy/squeues", "Scrapy disk queue (JOBDIR)"),
    ("scrapy/utils/asyncio.py", "Scrapy per-response task fan-out (CONCURRENT_ITEMS)"),
    ("scrapy/", "Scrapy engine, scheduler, middlewares"),
    ("twisted/", "Twisted reactor and HTTP client"),
    ("asyncio/", "asyncio event loop"),
)


def _area(stack: tuple[str, ...]) -> str:
    for areas in (PROJECT_AREAS, LIBRARY_AREAS):
        for frame in reversed(stack):
            for marker, name in areas:
                if marker in frame:
                    return name
    return "other (interpreter start-up, imports, idle threads)"


# --- command line -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bench/run.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", default="10000",
                    help="pages of the synthetic site (default 10000); two sizes, like 10000,100000, "
                         "run the bench at each and compare them stage by stage")
    ap.add_argument("--concurrency", type=int, default=8, help="requests at once to the site, both crawlers (default 8)")
    ap.add_argument("--stages", default=",".join(STAGES),
                    help=f"comma-separated, from {','.join(STAGES)} (default all)")
    ap.add_argument("--repeat", type=int, default=1, help="run bare spider and crawl this many times, alternating; the best counts")
    ap.add_argument("--server", choices=["nginx", "siteserver"], default="nginx",
                    help="nginx (default; `apt-get install -y nginx-light`) or the project's SiteServer (tests)")
    ap.add_argument("--port", type=int, default=0, help="loopback port of the site (default: a free one)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", help="folder for the site, database and results (default: a new temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (default: removed unless --workdir)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds after which a stage is killed")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--json-only", action="store_true", help="print nothing; write results.json (tests)")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown at the end")
    ap.add_argument("--baseline", metavar="RESULTS_JSON",
                    help="results.json of a smaller run: print each stage's peak memory against it")
    ap.add_argument("--profile", action="store_true", help="instead: profile the audit crawl (py-spy, else cProfile)")
    ap.add_argument("--cprofile", action="store_true", help="with --profile: use cProfile even if py-spy exists")
    ap.add_argument("--top", type=int, default=25, help="with --profile: functions to list")
    return ap


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(v.replace("_", "")) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"Error: --pages takes page counts, like --pages 10000 or --pages 10000,100000; got {text!r}") from None
    if not sizes or min(sizes) < 20:
        raise SystemExit("Error: --pages must be at least 20, like --pages 10000")
    return sorted(set(sizes))


def run_sizes(args, sizes: list[int]) -> list[list[Row]]:
    """The bench at each size in turn, each in its own folder under the work folder, then the
    two largest compared stage by stage (size_lines)."""
    import copy
    root = Path(args.workdir or tempfile.mkdtemp(prefix="content-audit-bench-"))
    runs = []
    for size in sizes:
        one = copy.copy(args)
        one.pages, one.workdir, one.json, one.keep = size, str(root / f"{size}-pages"), None, True
        if not args.json_only:
            print(f"\n== {size:,} pages ==")
        runs.append(Bench(one).run())
        if args.markdown:
            print(markdown(runs[-1]))
    lines = size_lines(runs[-2], sizes[-2], runs[-1], sizes[-1])
    result = {"machine": machine_info(), "sizes": sizes, "concurrency": args.concurrency,
              "runs": {str(n): [dict(asdict(r), pages_per_s=r.pages_per_s) for r in rows]
                       for n, rows in zip(sizes, runs)}, "summary": lines}
    (root / "results.json").write_text(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if not args.json_only:
        print()
        print("\n".join(lines))
        if args.markdown:
            print(size_markdown(runs[-2], sizes[-2], runs[-1], sizes[-1]))
        print(f"results: {root / 'results.json'}")
    return runs


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_analyse"]:
        return analyse_child(argv[1:])
    args = build_parser().parse_args(argv)
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"Error: unknown stage {sorted(unknown)}; stages are {', '.join(STAGES)}")
    sizes = _sizes(args.pages)
    args.pages = sizes[-1]
    temp = args.workdir is None and not args.keep
    if args.profile:
        code = profile(args)
    elif len(sizes) > 1:
        runs = run_sizes(args, sizes)
        code = 1 if any(r.failed for rows in runs for r in rows) else 0
        temp = False   # each size's folder is kept: results.json names it
    else:
        bench = Bench(args)
        args.workdir = str(bench.workdir)
        rows = bench.run()
        if args.markdown:
            print(markdown(rows))
        code = 1 if any(r.failed for r in rows) else 0
    if temp and args.workdir:
        shutil.rmtree(args.workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
