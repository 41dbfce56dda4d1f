"""The report's charts as inline SVG, drawn in Python from the rows of the named queries:
no chart library, no script, so they show offline and print as they look."""

from __future__ import annotations

import math
import zlib

from markupsafe import Markup, escape

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
OK, BAD, MUTED, INK = "#3b7dd8", "#c0392b", "#9aa5b1", "#1f2933"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" {FONT} '
        f'font-size="12">' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 12,
          fill: str = INK, extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}" {extra}>{escape(text)}</text>')


def nice_max(value: float) -> float:
    """A round axis maximum at or above value: 1, 2, 5, 10, 20, 50, ..."""
    if value <= 0:
        return 1
    step = 10.0 ** math.floor(math.log10(value))
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def _y_axis(x0: int, y0: int, height: int, top: float, right: int, ticks: int = 4) -> list[str]:
    out = []
    for i in range(ticks + 1):
        v = top * i / ticks
        y = y0 - height * i / ticks
        out.append(f'<line x1="{x0}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e7eb"/>')
        label = f"{v:g}" if v < 10_000 else f"{v / 1000:g}k"
        out.append(_text(x0 - 6, y + 4, label, "end", 11, "#52606d"))
    return out


def trend_chart(rows: list[dict], max_lines: int = 8) -> Markup:
    """Findings per kind over the stored crawls: one line per kind (the kinds with most findings)."""
    crawls = sorted({(r["crawl_id"], r["started_at"]) for r in rows})
    series: dict[str, dict[int, int]] = {}
    for r in rows:
        if r["kind"]:
            series.setdefault(r["kind"], {})[r["crawl_id"]] = r["n"]
    if not crawls or not series:
        return _empty("No findings in any stored crawl of this site.")
    kinds = sorted(series, key=lambda k: (-max(series[k].values()), k))[:max_lines]
    width, height, left, right, top, bottom = 760, 300, 48, 190, 16, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    ymax = nice_max(max(max(series[k].values()) for k in kinds))
    body = _y_axis(left, height - bottom, plot_h, ymax, width - right)
    n = len(crawls)

    def x_of(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    step = max(1, n // 8)
    for i, (cid, started) in enumerate(crawls):
        if i % step == 0 or i == n - 1:
            body.append(_text(x_of(i), height - bottom + 16, started.strftime("%d %b") if started else "",
                              "middle", 11, "#52606d"))
            body.append(_text(x_of(i), height - bottom + 30, f"#{cid}", "middle", 10, MUTED))
    for j, kind in enumerate(kinds):
        color = PALETTE[j % len(PALETTE)]
        pts = [(x_of(i), height - bottom - plot_h * series[kind].get(cid, 0) / ymax)
               for i, (cid, _) in enumerate(crawls)]
        if n > 1:
            body.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                        + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for (x, y), (cid, _) in zip(pts, crawls):
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                        f'<title>{escape(kind)}: {series[kind].get(cid, 0)} in crawl {cid}</title></circle>')
        ly = top + 8 + j * 18
        body.append(f'<rect x="{width - right + 14}" y="{ly - 9}" width="12" height="3" fill="{color}"/>')
        body.append(_text(width - right + 32, ly - 4, f"{kind} ({series[kind].get(crawls[-1][0], 0)})",
                          size=11))
    if len(series) > len(kinds):
        body.append(_text(width - right + 14, top + 8 + len(kinds) * 18, f"+ {len(series) - len(kinds)} "
                          "more kinds (table above)", size=10, fill="#52606d"))
    return _svg(width, height, body, "Findings per kind over the stored crawls")


def sparkline(values: list[int], width: int = 90, height: int = 20) -> Markup:
    """A small line of a kind's findings over the crawls, for the health table."""
    if len(values) < 2:
        return Markup("")
    top = max(values) or 1
    pts = " ".join(f"{width * i / (len(values) - 1):.1f},{height - 2 - (height - 4) * v / top:.1f}"
                   for i, v in enumerate(values))
    return Markup(f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
                  f'aria-hidden="true"><polyline fill="none" stroke="{OK}" stroke-width="1.5" '
                  f'points="{pts}"/></svg>')


def grade_histogram(rows: list[dict], target: float) -> Markup:
    """Pages per reading grade, bars above the target grade in red, the target as a line."""
    if not rows:
        return _empty("No page had enough text to score its reading grade.")
    counts = {r["grade"]: r["pages"] for r in rows}
    width, height, left, bottom, top = 760, 260, 48, 40, 24
    plot_w, plot_h = width - left - 16, height - top - bottom
    ymax = nice_max(max(counts.values()))
    body = _y_axis(left, height - bottom, plot_h, ymax, width - 16)
    bar = plot_w / 21
    for g in range(21):
        n = counts.get(g, 0)
        h = plot_h * n / ymax
        x = left + g * bar
        color = BAD if g + 1 > target else OK
        if n:
            body.append(f'<rect x="{x + 2:.1f}" y="{height - bottom - h:.1f}" width="{bar - 4:.1f}" '
                        f'height="{h:.1f}" fill="{color}"><title>grade {g}{"+" if g == 20 else ""}: '
                        f'{n} pages</title></rect>')
        body.append(_text(x + bar / 2, height - bottom + 14, f"{g}{'+' if g == 20 else ''}", "middle", 11,
                          "#52606d"))
    tx = left + min(max(target, 0), 21) * bar
    body.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top - 6}" y2="{height - bottom}" '
                f'stroke="{INK}" stroke-dasharray="4 3" stroke-width="1.5"/>')
    body.append(_text(tx + 4, top + 4, f"target grade {target:g}", size=11))
    body.append(_text(left + plot_w / 2, height - 6, "reading grade (school years)", "middle", 11, "#52606d"))
    return _svg(width, height, body, f"Pages per reading grade; target {target:g}")


def similarity_chart(points: list[dict], histogram: list[dict], total: int) -> Markup:
    """Each page's similarity to the site's core: one dot per page, off-topic dots red; for a
    site with more pages than points holds, a histogram of pages per similarity band instead."""
    if total == 0:
        return _empty("No page was given a topic (too little text, or the site is too small).")
    width, height, left, bottom, top = 760, 240, 48, 40, 16
    plot_w, plot_h = width - left - 16, height - top - bottom
    body = []
    if total <= len(points):
        xmax = nice_max(max(p["similarity"] for p in points) or 0.1)
        lanes = 8
        for p in points:
            x = left + plot_w * p["similarity"] / xmax
            # A lane from the URL's hash spreads dots of equal similarity apart, the same every run.
            y = top + plot_h * ((zlib.crc32(p["url"].encode()) % lanes) + 0.5) / lanes
            color, r = (BAD, 5) if p["off_topic"] else (OK, 4)
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{color}" fill-opacity="0.75">'
                        f'<title>{escape(p["url"])}: {p["similarity"]:.2f}'
                        f'{" (off topic)" if p["off_topic"] else ""}</title></circle>')
    else:
        xmax = 1.0
        bands = {h["band"]: h for h in histogram}
        ymax = nice_max(max(h["on_topic"] + h["off_topic"] for h in histogram))
        body += _y_axis(left, height - bottom, plot_h, ymax, width - 16)
        bw = plot_w / 50
        for b, h in bands.items():
            x = left + b * bw
            h_on, h_off = plot_h * h["on_topic"] / ymax, plot_h * h["off_topic"] / ymax
            base = height - bottom
            if h["off_topic"]:
                body.append(f'<rect x="{x:.1f}" y="{base - h_off:.1f}" width="{bw - 1:.1f}" height="{h_off:.1f}" '
                            f'fill="{BAD}"><title>{h["off_topic"]} off-topic pages</title></rect>')
            if h["on_topic"]:
                body.append(f'<rect x="{x:.1f}" y="{base - h_off - h_on:.1f}" width="{bw - 1:.1f}" '
                            f'height="{h_on:.1f}" fill="{OK}"><title>{h["on_topic"]} pages</title></rect>')
    for i in range(6):
        v = xmax * i / 5
        x = left + plot_w * i / 5
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{height - bottom}" y2="{height - bottom + 4}" stroke="{MUTED}"/>')
        body.append(_text(x, height - bottom + 16, f"{v:.2f}", "middle", 11, "#52606d"))
    body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{height - bottom}" y2="{height - bottom}" stroke="{MUTED}"/>')
    body.append(_text(left + plot_w / 2, height - 6, "similarity to the site's core topic (red: off topic)",
                      "middle", 11, "#52606d"))
    return _svg(width, height, body, "Each page's similarity to the site's core topic")


def broken_hosts_chart(rows: list[dict]) -> Markup:
    """Broken links per host of their target, the site's own hosts marked."""
    if not rows:
        return _empty("No broken links.")
    rows = rows[:15]
    bar_h, left, width = 22, 230, 760
    height = 16 + bar_h * len(rows) + 24
    xmax = nice_max(max(r["n"] for r in rows))
    body = []
    for i, r in enumerate(rows):
        y = 8 + i * bar_h
        w = (width - left - 60) * r["n"] / xmax
        host = r["target_host"] or "(not a URL)"
        label = f"{host}{' (site)' if r['internal'] else ''}"
        body.append(_text(left - 8, y + 15, label[:36], "end", 12))
        body.append(f'<rect x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="{bar_h - 6}" '
                    f'fill="{BAD if r["internal"] else "#e67e22"}"><title>{escape(host)}: {r["n"]} broken '
                    f'links to {r["targets"]} URLs</title></rect>')
        body.append(_text(left + w + 6, y + 15, str(r["n"]), size=12))
    return _svg(width, height, body, "Broken links per host")


def _empty(message: str) -> Markup:
    return Markup(f'<p class="empty">{escape(message)}</p>')
