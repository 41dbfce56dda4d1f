"""Benchmark: the project's main text against trafilatura and resiliparse (when installed, the
`bench` extra) on the article-extraction benchmark, all in one process, scored by its own
evaluate.py (`python bench/extraction.py [--data DIR] [--out DIR] [--repeat N]`)."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.extract import extract  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared/benchmarks/article-extraction"
_RESULT = re.compile(r"^(\S+)\s+(\S*)\s+([\d.]+) ± [\d.]+\s+([\d.]+) ± [\d.]+\s+([\d.]+) ± [\d.]+", re.M)


def content_audit(html: str, url: str) -> str:
    """The page's main text as the analyses read it: its main blocks, in order."""
    page = extract(html, url, frozenset())
    return "\n".join(b["text"] for b in page.blocks if b["role"] == "main")


def extractors() -> dict:
    """name -> (version, function(html, url) -> text) for every extractor installed."""
    out = {"content-audit": (metadata.version("content-audit"), content_audit)}
    try:
        import trafilatura
    except ImportError:
        print("trafilatura is not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
    else:
        out["trafilatura"] = (metadata.version("trafilatura"),
                              lambda html, url: trafilatura.extract(html, url=url) or "")
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree
    except ImportError:
        print("resiliparse is not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
    else:
        out["resiliparse"] = (metadata.version("resiliparse"),
                              lambda html, url: extract_plain_text(HTMLTree.parse(html), main_content=True))
    return out


def load_pages(data: Path) -> list[tuple[str, str, str]]:
    """(id, url, html) of every benchmark page, in id order."""
    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    pages = []
    for key in sorted(truth):
        raw = gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes())
        pages.append((key, truth[key]["url"], raw.decode("utf-8", "replace")))
    return pages


def run(name: str, fn, pages, repeat: int) -> tuple[dict, float]:
    """Every page's text and the best pages/second over repeat passes."""
    best, output = 0.0, {}
    for _ in range(repeat):
        start = time.perf_counter()
        output = {key: {"articleBody": fn(html, url)} for key, url, html in pages}
        best = max(best, len(pages) / (time.perf_counter() - start))
    return output, best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"benchmark folder (default {DEFAULT_DATA})")
    ap.add_argument("--out", type=Path, help="folder for output/*.json (default: a temp folder, removed)")
    ap.add_argument("--repeat", type=int, default=2, help="timed passes per extractor; the best counts")
    ap.add_argument("--only", help="comma-separated extractor names")
    args = ap.parse_args(argv)
    args.data = args.data.resolve()   # evaluate.py runs in the work folder
    if not (args.data / "ground-truth.json").is_file() or not (args.data / "evaluate.py").is_file():
        print(f"Error: {args.data} holds no benchmark (ground-truth.json, evaluate.py): pass --data DIR",
              file=sys.stderr)
        return 2
    work = args.out or Path(tempfile.mkdtemp(prefix="extraction-bench-"))
    (work / "output").mkdir(parents=True, exist_ok=True)
    shutil.copy(args.data / "ground-truth.json", work / "ground-truth.json")
    pages = load_pages(args.data)
    chosen = extractors()
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    speed = {}
    for name, (version, fn) in chosen.items():
        output, speed[name] = run(name, fn, pages, args.repeat)
        (work / "output" / f"{name}.json").write_text(
            json.dumps({"version": version, "output": output}, ensure_ascii=False), "utf-8")
        print(f"{name}: {speed[name]:.1f} pages/s", file=sys.stderr)
    scored = subprocess.run([sys.executable, str(args.data / "evaluate.py"), "--n-bootstrap", "100"],
                            cwd=work, capture_output=True, text=True, check=True).stdout
    scores = {m[0]: (m[1], float(m[2]), float(m[3]), float(m[4])) for m in _RESULT.findall(scored)}
    base = speed.get("trafilatura")
    print(f"{len(pages)} pages, load {os.getloadavg()[0]:.1f}")
    print(f"| extractor | version | F1 | precision | recall | pages/s | × trafilatura |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name in chosen:
        version, f1, p, r = scores[name]
        ratio = f"{speed[name] / base:.2f}" if base else "–"
        print(f"| {name} | {version} | {f1:.3f} | {p:.3f} | {r:.3f} | {speed[name]:.1f} | {ratio} |")
    if args.out is None:
        shutil.rmtree(work)
    else:
        print(f"outputs in {work / 'output'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
