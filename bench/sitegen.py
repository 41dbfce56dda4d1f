"""Synthetic sites for the benchmarks: N static HTML pages of a clinic (topic text, navigation,
teasers, Zipf-distributed internal links, broken links, redirects, sitemaps), and the servers
that serve them on loopback: Debian's nginx for measurements, the project's SiteServer for tests.

    python bench/sitegen.py --pages 10000 --out /tmp/site [--serve]
"""

from __future__ import annotations

import argparse
import html
import itertools
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# --- what the site says ------------------------------------------------------------------------

# name -> (nouns, adjectives, verbs, heading words). Distinct vocabularies, so topic models can
# tell them apart; shared function words and templates, so the prose reads alike.
TOPICS: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {
    "depression": (
        "depression|low mood|antidepressant|ketamine therapy|psychiatrist|serotonin|relapse|"
        "talk therapy|treatment plan|hopelessness|energy level|medication dose|infusion|remission|"
        "symptom diary|support group|brain chemistry|side effect|glutamate|care team".split("|"),
        "persistent|treatment-resistant|mild|severe|seasonal|chronic|early|lasting|gentle|"
        "clinical".split("|"),
        "eases|lifts|worsens|affects|reduces|improves|changes|masks|signals|triggers".split("|"),
        "Symptoms|Treatment options|What to expect|Medication|Recovery|When to get help".split("|"),
    ),
    "anxiety": (
        "anxiety|panic attack|worry|breathing exercise|heart rate|exposure therapy|phobia|"
        "social situation|racing thought|nervous system|coping skill|trigger|avoidance|"
        "cognitive behavioural therapy|grounding technique|stress hormone|checklist|fear|"
        "muscle tension|relaxation".split("|"),
        "sudden|generalised|social|constant|intense|manageable|physical|anticipatory|calm|"
        "everyday".split("|"),
        "calms|provokes|builds|eases|fuels|interrupts|tightens|softens|predicts|follows".split("|"),
        "Signs of anxiety|Coping at home|Therapy|Panic attacks|Daily habits|Getting support".split("|"),
    ),
    "sleep": (
        "sleep|insomnia|bedtime routine|melatonin|circadian rhythm|nap|sleep apnea|snoring|"
        "deep sleep|dream|alarm clock|bedroom light|caffeine|night shift|sleep diary|pillow|"
        "wake time|restless leg|rem stage|mattress".split("|"),
        "restful|broken|deep|shallow|regular|late|early|restless|quiet|short".split("|"),
        "disturbs|restores|shortens|deepens|delays|resets|interrupts|lengthens|shapes|"
        "protects".split("|"),
        "Sleep hygiene|Insomnia|Napping|Shift work|Sleep studies|Better nights".split("|"),
    ),
    "nutrition": (
        "diet|vitamin d|omega-3 fatty acid|blood sugar|breakfast|gut bacteria|fibre|protein|"
        "meal plan|hydration|vegetable|whole grain|sugar craving|magnesium|appetite|snack|"
        "food diary|dietitian|iron level|portion".split("|"),
        "balanced|processed|fresh|regular|nutrient-rich|sugary|plant-based|small|hearty|"
        "seasonal".split("|"),
        "feeds|steadies|boosts|lowers|supports|fuels|balances|raises|protects|shapes".split("|"),
        "Eating well|Mood and food|Supplements|Meal planning|Cravings|Kitchen basics".split("|"),
    ),
    "adhd": (
        "adhd|attention span|focus|stimulant medication|task list|impulsivity|hyperfocus|"
        "executive function|school report|planner|distraction|reminder app|diagnosis|"
        "restlessness|routine|deadline|coaching session|working memory|time blindness|"
        "organisation".split("|"),
        "adult|childhood|scattered|steady|structured|impulsive|late|undiagnosed|busy|"
        "focused".split("|"),
        "sharpens|scatters|supports|organises|delays|improves|distracts|anchors|structures|"
        "interrupts".split("|"),
        "Diagnosis|Adult ADHD|Medication|Study tips|Work and focus|Family life".split("|"),
    ),
}
# Off-topic pages (about 1%): what the topic analysis should find drifting.
OFF_TOPICS: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {
    "fragrance": (
        "agarwood|oud oil|perfume note|resin|distillation|sandalwood|incense|base note|amber|"
        "fragrance house".split("|"),
        "rare|smoky|woody|precious|aged|sweet|heady|costly|dark|fragrant".split("|"),
        "perfumes|scents|ages|deepens|lingers|blends|infuses|sweetens|colours|marks".split("|"),
        "Origins|Harvesting|The scent|Buying guide".split("|"),
    ),
    "architecture": (
        "skyscraper|elevator shaft|steel frame|facade|floor plate|wind load|foundation|atrium|"
        "tower crane|concrete core".split("|"),
        "tall|slender|glass|structural|vertical|modern|vast|heavy|iconic|tapered".split("|"),
        "supports|carries|rises|sways|frames|spans|anchors|lifts|shades|crowns".split("|"),
        "Design|Engineering|Elevators|Famous towers".split("|"),
    ),
}
TEMPLATES = [
    "Many people find that {a} {n} {v} their {n2} more than they expect.",
    "Our {n} specialists explain how {n2} {v} {a} {n3} over several weeks.",
    "If {n} {v} your {n2}, talk to a member of the {n3} team before changing anything.",
    "Research on {a} {n} suggests that {n2} often {v} {n3}, although results vary from person to person.",
    "A {a} {n} is not a sign of weakness, and it usually {v} with the right support.",
    "Keep a note of your {n} and {n2} for two weeks so that we can see what {v} your {n3}.",
    "Small changes to {n} can make a real difference to {a} {n2}.",
    "Because {n} {v} {n2}, our clinicians look at both together during the first visit.",
    "Some patients describe {a} {n} as the hardest part, while others notice {n2} first.",
    "There is no single test for {n}; a careful conversation about {n2} and {n3} comes first.",
    "We explain every step, including how long {a} {n} usually takes and what it costs.",
    "Ask about {n} at your next appointment, especially if {a} {n2} has lasted more than a month.",
    "Family members often notice that {n} {v} {n2} before the person does.",
    "The evidence for {a} {n} is strongest when it is combined with {n2}.",
    "You can book a {a} {n} review online, by phone or at the front desk.",
]
SITE_NAME = "Northside Clinic"
STATIC_PAGES = {
    "about": ("About us", "Northside Clinic has cared for patients in the harbour district since 1998."),
    "contact": ("Contact us", "Call us on weekdays or send us a message through the form."),
    "privacy": ("Privacy policy", "We keep your records private and never sell your data."),
    "terms": ("Terms of use", "These terms apply to every page of this website."),
    "careers": ("Careers", "We are hiring nurses, psychiatrists and front-desk staff."),
    "insurance": ("Insurance and costs", "Most plans cover part of the cost of treatment."),
}
EXTERNAL = ["https://www.nimh.example/health", "https://facebook.example/northsideclinic",
            "https://partner-hospital.example/referrals"]
LOGO_PNG = bytes.fromhex(  # a 1x1 transparent PNG
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6300010000050001e2260f0d0000000049454e44ae426082")

# --- shape of the site -------------------------------------------------------------------------

CHILDREN = 5                 # "Further reading" tree: page i links pages 5i+1..5i+5 (depth ~log5 N)
BODY_LINKS = (4, 12)         # in-text links per article
TEASERS = 6                  # related-article teasers in the aside
ZIPF_S = 1.1                 # exponent of link-target popularity (heavy-tailed in-degree)
BROKEN_SHARE = 0.01          # in-text links to a deleted article (404)
REDIRECT_SHARE = 0.02        # in-text links to an old URL (301 to the article)
CHAIN_SHARE = 0.003          # in-text links to a legacy URL (302, then 301: a chain)
OFF_TOPIC_SHARE = 0.01
SITEMAP_CHUNK = 10_000       # URLs per sitemap file (sitemaps.org allows 50,000)


@dataclass
class Site:
    """What was generated: where, how many of each thing, and a few URLs tests can look for."""
    root: Path
    base_url: str
    pages: int                        # HTML pages that answer 200 (articles, hubs, home, static)
    articles: int
    broken_targets: set[str] = field(default_factory=set)    # paths that answer 404
    redirect_prefixes: tuple[str, ...] = ("/old/", "/legacy/")  # /old/P: 301 to /P; /legacy/P: 302 to /old/P
    changed: list[str] = field(default_factory=list)         # article paths changed in this revision
    off_topic: list[str] = field(default_factory=list)       # article paths of off-topic pages
    links: int = 0                    # <a> links in the articles written
    words: int = 0                    # words of article text written


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:50].rstrip("-")


_AN = re.compile(r"(^|\s)[Aa] ([aeiou])")


def _sentence_pool(rng: random.Random, vocab, size: int) -> list[str]:
    nouns, adjs, verbs, _ = vocab
    pool = []
    for _ in range(size):
        t = rng.choice(TEMPLATES)
        n, n2, n3 = rng.sample(nouns, 3)
        s = _AN.sub(r"\1an \2", t.format(n=n, n2=n2, n3=n3, a=rng.choice(adjs), v=rng.choice(verbs)))
        pool.append(s[0].upper() + s[1:])
    return pool


def _title(rng: random.Random, vocab) -> str:
    nouns, adjs, _, _ = vocab
    n, n2 = rng.sample(nouns, 2)
    form = rng.randrange(6)
    if form == 0:
        t = f"How {n} affects {n2}"
    elif form == 1:
        t = f"{adjs[rng.randrange(len(adjs))]} {n}: what to know"
    elif form == 2:
        t = f"{n} and {n2} explained"
    elif form == 3:
        t = f"Questions patients ask about {n}"
    elif form == 4:
        t = f"A guide to {adjs[rng.randrange(len(adjs))]} {n}"
    else:
        t = f"When {n} meets {n2}"
    return t[0].upper() + t[1:]


class _Plan:
    """Every article's topic, title and path, and the popularity order links are drawn from."""

    def __init__(self, n: int, seed: int):
        rng = random.Random(seed)
        names = list(TOPICS)
        weights = [5, 4, 3, 2, 2][: len(names)]   # topics of different sizes, as on real sites
        self.topic = rng.choices(names, weights=weights, k=n)
        off = list(OFF_TOPICS)
        for i in rng.sample(range(n), k=int(n * OFF_TOPIC_SHARE)) if n >= 100 else []:
            self.topic[i] = off[i % len(off)]
        self.vocab = {**TOPICS, **OFF_TOPICS}
        self.title, self.path = [], []
        for i in range(n):
            title = _title(random.Random(seed * 7_919 + i), self.vocab[self.topic[i]])
            self.title.append(title)
            section = self.topic[i] if self.topic[i] in TOPICS else "blog"
            self.path.append(f"/{section}/{_slug(title)}-{i}")
        self.popular = list(range(n))
        rng.shuffle(self.popular)
        self.cum = list(itertools.accumulate(1.0 / (r + 1) ** ZIPF_S for r in range(n)))
        self.pools = {name: _sentence_pool(random.Random(seed + k), v, 4000 if name in TOPICS else 600)
                      for k, (name, v) in enumerate(self.vocab.items())}
        self.deleted = max(5, n // 300)  # distinct deleted-article URLs broken links point to

    def zipf(self, rng: random.Random, k: int) -> list[int]:
        return rng.choices(self.popular, cum_weights=self.cum, k=k)


def _nav(current: str | None) -> str:
    items = ['<li><a href="/">Home</a></li>']
    for name in TOPICS:
        cls = ' class="active"' if name == current else ""
        items.append(f'<li{cls}><a href="/{name}/">{name.capitalize() if name != "adhd" else "ADHD"}</a></li>')
    items.append('<li><a href="/insurance">Costs</a></li><li><a href="/contact">Contact</a></li>')
    return ('<header class="site-header"><a class="logo" href="/"><img src="/static/logo.png" '
            f'alt="{SITE_NAME}"></a><nav class="main-nav"><ul>{"".join(items)}</ul></nav>'
            '<form action="/search" role="search"><input name="q"></form></header>')


FOOTER = (
    '<footer class="site-footer"><nav><ul>'
    + "".join(f'<li><a href="/{slug}">{title}</a></li>' for slug, (title, _) in STATIC_PAGES.items())
    + '<li><a href="/search?q=appointments">Search</a></li></ul></nav>'
    + "".join(f'<a href="{url}" rel="noopener">{url.split("/")[2]}</a> ' for url in EXTERNAL)
    + f'<p>&copy; 2024 {SITE_NAME} &middot; 12 Harbour Street &middot; '
    '<a href="tel:+15550100">555 0100</a> &middot; <a href="mailto:care@northside.example">'
    'care@northside.example</a></p></footer>')


def _document(base_url: str, path: str, title: str, description: str, current: str | None,
              body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} | {SITE_NAME}</title>"
        f'<meta name="description" content="{html.escape(description, quote=True)}">'
        f'<link rel="canonical" href="{base_url}{path}">'
        '<link rel="stylesheet" href="/static/site.css">'
        f"</head><body>{_nav(current)}{body}{FOOTER}</body></html>\n")


def _link_target(plan: _Plan, rng: random.Random, i: int) -> tuple[str, str]:
    """(href, anchor text) of one in-text link: mostly a popular article, sometimes broken or moved."""
    j = plan.zipf(rng, 1)[0]
    r = rng.random()
    if r < BROKEN_SHARE:
        k = int(rng.random() * plan.deleted)
        return f"/{plan.path[j].split('/')[1]}/deleted-article-{k}", plan.title[j]
    if r < BROKEN_SHARE + REDIRECT_SHARE:
        return "/old" + plan.path[j], plan.title[j]
    if r < BROKEN_SHARE + REDIRECT_SHARE + CHAIN_SHARE:
        return "/legacy" + plan.path[j], plan.title[j]
    return plan.path[j], plan.title[j]


def _article(plan: _Plan, base_url: str, i: int, seed: int, revision: int, n: int) -> tuple[str, int, int]:
    """(html, words, links) of article i; its text depends on the revision, its links do not."""
    topic = plan.topic[i]
    nouns, _, _, heads = plan.vocab[topic]
    pool = plan.pools[topic]
    others = [name for name in TOPICS if name != topic]
    text_rng = random.Random((seed * 1_000_003 + i) * 31 + revision)
    link_rng = random.Random(seed * 1_000_003 + i)
    title = plan.title[i]

    target_words = max(150, int(text_rng.lognormvariate(6.35, 0.35)))   # median ~570 words
    n_links = link_rng.randint(*BODY_LINKS)
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="byline">By the {SITE_NAME} care team &middot; reviewed {2020 + i % 5}-0{1 + i % 9}-1{i % 10}</p>']
    words = 0
    paragraphs = 0
    links = []
    for _ in range(n_links):
        href, anchor = _link_target(plan, link_rng, i)
        links.append(f'<a href="{href}">{html.escape(anchor)}</a>')
    rand = text_rng.random   # int(rand() * n) is several times faster than randrange(n)
    npool = len(pool)
    mixed = topic in TOPICS  # on-topic pages borrow a few sentences from neighbouring topics
    while words < target_words:
        if paragraphs and paragraphs % 3 == 0:
            parts.append(f"<h2>{heads[int(rand() * len(heads))]}</h2>")
        k = 3 + int(rand() * 4)
        sentences = [pool[int(rand() * npool)] if not mixed or rand() > 0.08
                     else plan.pools[others[int(rand() * len(others))]][int(rand() * 4000)]
                     for _ in range(k)]
        # A page-specific clause: no two paragraphs on the site are the same text.
        sentences.insert(int(rand() * k), f"This note on {nouns[i % len(nouns)]} is number {i}-{paragraphs}.")
        text = " ".join(sentences)
        words += text.count(" ") + 1
        if links and rand() < 0.7:
            text += f" Read more in {links.pop()}."
        parts.append(f"<p>{text}</p>")
        paragraphs += 1
    if links:
        parts.append("<p>See also: " + ", ".join(links) + ".</p>")
    teasers = [c for c in range(CHILDREN * i + 1, CHILDREN * i + CHILDREN + 1) if c < n]
    teasers += [j for j in dict.fromkeys(plan.zipf(link_rng, TEASERS)) if j != i and j not in teasers]
    teasers = teasers[:TEASERS]
    aside = ['<aside class="related"><h2>Related articles</h2><ul>']
    for j in teasers:
        jpool = plan.pools[plan.topic[j]]
        excerpt = jpool[(j * 2_654_435_761) % len(jpool)]
        aside.append(f'<li><article class="teaser"><h3><a href="{plan.path[j]}">{html.escape(plan.title[j])}</a></h3>'
                     f'<p>{excerpt}</p><a href="{plan.path[j]}" class="more">Read more</a></article></li>')
    aside.append("</ul></aside>")
    section = plan.path[i].split("/")[1]
    crumbs = (f'<nav class="breadcrumb"><a href="/">Home</a> &rsaquo; <a href="/{section}/">'
              f'{section.capitalize()}</a> &rsaquo; <span>{html.escape(title)}</span></nav>')
    body = f'{crumbs}<main><article>{"".join(parts)}</article></main>{"".join(aside)}'
    description = f"{title}: what our clinicians tell patients about {nouns[(i // 7) % len(nouns)]}."
    doc = _document(base_url, plan.path[i], title, description, topic, body)
    return doc, words, doc.count("<a ")


def _listing(base_url: str, path: str, title: str, intro: str, plan: _Plan, ids: list[int],
             current: str | None) -> str:
    items = "".join(f'<li><a href="{plan.path[j]}">{html.escape(plan.title[j])}</a></li>' for j in ids)
    body = f"<main><h1>{title}</h1><p>{intro}</p><ul class=\"articles\">{items}</ul></main>"
    return _document(base_url, path, title, intro, current, body)


def _write(root: Path, path: str, text: str | bytes) -> None:
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    with open(f"{root}{path}", "wb") as fh:
        fh.write(data)


def _write_articles(root: Path, plan: _Plan, base_url: str, seed: int, revision: int,
                    changed: set[int], n: int, part: int, parts: int) -> tuple[int, int]:
    words = links = 0
    for i in range(part, n, parts):
        doc, w, a = _article(plan, base_url, i, seed, revision if i in changed else 0, n)
        _write(root, plan.path[i] + ".html", doc)
        words += w
        links += a
    return words, links


def generate(out: str | Path, pages: int, base_url: str, seed: int = 1, revision: int = 0,
             changed_share: float = 0.05, workers: int | None = None, update: bool = False) -> Site:
    """Write a site of `pages` HTML pages under out/ (its old content is replaced).

    base_url ('http://127.0.0.1:8088', or '{{host:site}}' for SiteServer) is used where
    absolute URLs are needed: canonical links, robots.txt, sitemaps. Revision 0 is the first
    version; revision r > 0 rewrites the text of `changed_share` of the articles (the same
    pages for the same seed and revision), keeping every URL and link, as a weekly edit would.
    update=True writes only those changed articles over a site generated with the same pages,
    seed and base_url (every other file would come out byte for byte the same). workers:
    processes writing articles (default: one per core for large sites); the output is the same.
    """
    root = Path(out)
    extra = 1 + len(TOPICS) + len(STATIC_PAGES) + 1   # home, hubs, static pages, blog hub
    n = max(10, pages - extra)
    plan = _Plan(n, seed)
    changed: set[int] = set()
    if revision:
        changed = set(random.Random(seed * 13 + revision).sample(range(n), k=max(1, round(n * changed_share))))
    site = Site(root=root, base_url=base_url, pages=n + extra, articles=n)
    site.changed = sorted(plan.path[i] for i in changed)
    site.off_topic = [plan.path[i] for i in range(n) if plan.topic[i] not in TOPICS]
    if update:
        if not (root / "sitemap.xml").is_file():
            raise FileNotFoundError(f"no generated site in {root} to update")
        for i in sorted(changed):
            doc, words, links = _article(plan, base_url, i, seed, revision, n)
            _write(root, plan.path[i] + ".html", doc)
        return site
    if root.exists():
        for child in root.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    for section in [*TOPICS, "blog", "static", "sitemaps"]:
        (root / section).mkdir(exist_ok=True)

    # Each page has its own random generators, so splitting the pages over processes changes
    # nothing in the output; forked workers share the plan without copying it.
    parts = max(1, min(os.cpu_count() or 1, n // 2000)) if workers is None else max(1, workers)
    if parts == 1:
        totals = [_write_articles(root, plan, base_url, seed, revision, changed, n, 0, 1)]
    else:
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(parts) as pool:
            totals = pool.starmap(_write_articles, [(root, plan, base_url, seed, revision, changed, n, k, parts)
                                                    for k in range(parts)])
    site.words = sum(t[0] for t in totals)
    site.links = sum(t[1] for t in totals)

    by_topic: dict[str, list[int]] = {}
    for j in plan.popular:
        by_topic.setdefault(plan.path[j].split("/")[1], []).append(j)
    roots = list(range(min(n, 20)))
    _write(root, "/index.html", _listing(base_url, "/", f"{SITE_NAME}: mental health care",
                                         "Care for depression, anxiety, sleep, nutrition and ADHD.",
                                         plan, roots, None))
    for section, ids in by_topic.items():
        _write(root, f"/{section}/index.html",
               _listing(base_url, f"/{section}/", section.capitalize(),
                        f"Our most read articles about {section}.", plan, ids[:60],
                        section if section in TOPICS else None))
    for name in TOPICS:   # a topic with no article still has its hub page
        if name not in by_topic:
            _write(root, f"/{name}/index.html", _listing(base_url, f"/{name}/", name, "Coming soon.", plan, [], name))
    if "blog" not in by_topic:
        _write(root, "/blog/index.html", _listing(base_url, "/blog/", "Blog", "Coming soon.", plan, [], None))
    for slug, (title, intro) in STATIC_PAGES.items():
        _write(root, f"/{slug}.html", _listing(base_url, f"/{slug}", title, intro, plan, roots[:3], None))
    _write(root, "/404.html", _document(base_url, "/404", "Page not found", "Page not found", None,
                                        "<main><h1>Page not found</h1><p>Try the search.</p></main>"))
    _write(root, "/static/logo.png", LOGO_PNG)
    _write(root, "/static/site.css", "body{font-family:sans-serif;max-width:60em;margin:auto}\n")
    _write(root, "/robots.txt", f"User-agent: *\nDisallow: /search\n\nSitemap: {base_url}/sitemap.xml\n")

    urls = ["/", *[f"/{s}/" for s in [*TOPICS, "blog"]], *[f"/{s}" for s in STATIC_PAGES], *plan.path]
    chunks = [urls[k:k + SITEMAP_CHUNK] for k in range(0, len(urls), SITEMAP_CHUNK)]
    index = ['<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for k, chunk in enumerate(chunks):
        body = "".join(f"<url><loc>{base_url}{u}</loc></url>\n" for u in chunk)
        _write(root, f"/sitemaps/sitemap-{k}.xml",
               '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/'
               f'sitemap/0.9">\n{body}</urlset>\n')
        index.append(f"<sitemap><loc>{base_url}/sitemaps/sitemap-{k}.xml</loc></sitemap>")
    index.append("</sitemapindex>\n")
    _write(root, "/sitemap.xml", "\n".join(index))

    sections = {p.split("/")[1] for p in plan.path}
    site.broken_targets = {f"/{s}/deleted-article-{k}" for s in sections for k in range(plan.deleted)}
    return site


# --- serving -----------------------------------------------------------------------------------

NGINX_HELP = ("nginx is not installed: install Debian's nginx with `apt-get install -y nginx-light` "
              "(or `nginx`); the benchmark serves the generated site with it so that the server is "
              "not the bottleneck")


def nginx_config(site_root: Path, port: int, workdir: Path, workers: int = 1) -> str:
    """An nginx.conf serving site_root on 127.0.0.1:port in the foreground, state in workdir.

    /old/PATH answers 301 to /PATH and /legacy/PATH answers 302 to /old/PATH (a two-hop
    chain); /PATH is served from PATH, PATH.html or PATH/index.html; anything else is a 404."""
    user = ""
    if os.geteuid() == 0:
        # Started as root, nginx runs its workers as nobody, who may not reach a site under a
        # private folder (pytest's /tmp/pytest-of-root is 0700); then they stay root.
        user = "user nobody nogroup;\n" if _others_can_read(site_root) else "user root root;\n"
    temp = "\n".join(f"    {name}_temp_path {workdir}/{name};" for name in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}worker_processes {workers};
daemon off;
master_process on;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
{temp}
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60;
    types {{ text/html html; application/xml xml; text/plain txt; text/css css; image/png png; }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/html text/plain text/css application/xml;
    server {{
        listen 127.0.0.1:{port};
        root {site_root};
        error_page 404 /404.html;
        rewrite ^/old/(.+)$ /$1 permanent;
        rewrite ^/legacy/(.+)$ /old/$1 redirect;
        location / {{ try_files $uri $uri.html $uri/ =404; }}
    }}
}}
"""


class NginxServer:
    """Debian's nginx serving a generated site on loopback, as a foreground child process."""

    def __init__(self, site_root: str | Path, port: int = 0, workers: int = 1):
        self.site_root = Path(site_root).resolve()
        self.port = port or _free_port()
        self.workers = workers
        self.workdir: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "NginxServer":
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if binary is None:
            raise RuntimeError(NGINX_HELP)
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        conf = self.workdir / "nginx.conf"
        conf.write_text(nginx_config(self.site_root, self.port, self.workdir, self.workers))
        self.proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(self.workdir), "-e",
                                      str(self.workdir / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                log = (self.workdir / "error.log").read_text(errors="replace") if (self.workdir / "error.log").exists() else ""
                raise RuntimeError(f"nginx exited at start: {(err + log).strip()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not start listening on 127.0.0.1:{self.port} within 10 s")

    def pids(self) -> list[int]:
        """The master and its workers, for measuring the server's own CPU time."""
        if not self.proc:
            return []
        out = [self.proc.pid]
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                out.append(int(status.parent.name))
        return out

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)   # graceful: workers finish, then exit
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> "NginxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _others_can_read(root: Path) -> bool:
    """Whether a user with no rights of its own can list root and reach it."""
    return bool(root.stat().st_mode & 0o005 == 0o005
                and all(d.stat().st_mode & 0o001 for d in root.resolve().parents))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_server_spec(site_root: str | Path):
    """HostSpec serving the site with the project's SiteServer (tests; slower than nginx), with
    the same redirects and 404 page as nginx_config."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from demo.server import HostSpec, Route

    not_found = Path(site_root, "404.html").read_text(encoding="utf-8")

    def moved(prefix: str, to: str, status: int):
        return lambda info: Route.redirect(to + info.path[len(prefix):], status=status)

    def missing(info):
        return Route.html(not_found, status=404)

    return HostSpec(root=site_root, routes={
        "/old/*": moved("/old", "", 301),
        "/legacy/*": moved("/legacy", "/old", 302),
        "/search*": missing,
    })


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--out", required=True, help="folder for the site (its content is replaced)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--revision", type=int, default=0, help="r > 0: 5%% of the articles' text changed")
    ap.add_argument("--port", type=int, default=8088)
    ap.add_argument("--serve", action="store_true", help="serve it with nginx until Ctrl-C")
    args = ap.parse_args(argv)
    base = f"http://127.0.0.1:{args.port}"
    t0 = time.perf_counter()
    site = generate(args.out, args.pages, base, seed=args.seed, revision=args.revision)
    print(f"{site.pages} pages ({site.articles} articles, {site.words} words, {site.links} links) "
          f"in {site.root} in {time.perf_counter() - t0:.1f} s")
    if args.serve:
        with NginxServer(site.root, args.port) as server:
            print(f"serving {server.base_url}/ (Ctrl-C stops)")
            try:
                server.proc.wait()
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
