"""Two sites the analyses have never seen, served on 127.0.0.1 for tests/test_worklist.py: a
WordPress-like bread blog and a mood clinic on two hosts (the clinic and its journal), each
with planted problems and decoys, and a week 2 in which some are fixed and one is new.
tests/test_worklist.py says what an editor must and must not find on them."""

from __future__ import annotations

import json
import random
from datetime import date

from demo.server import HostSpec, Route

# --- prose: sentences built from a subject's own vocabulary, different on every page -----------

BREAD = {
    "subjects": ["A slow overnight proof", "Your sourdough starter", "A wet, sticky dough", "Strong bread flour",
                 "A hot Dutch oven", "Stretch and fold", "The final shaping", "A long cold retard",
                 "Steam in the first minutes", "A well-floured banneton", "The bulk ferment", "Whole grain flour"],
    "verbs": ["builds", "develops", "gives", "rewards", "needs", "changes", "improves", "protects"],
    "objects": ["an open, glossy crumb", "a crackling crust", "deeper flavour in the loaf", "a taller rise",
                "more gluten strength", "a tangy, mild sourness", "an even bake", "a caramelised bottom crust",
                "a lighter texture", "better oven spring", "a chewy, moist crumb", "a crisp golden shell"],
    "tails": ["when the kitchen is warm", "if you keep the hydration steady", "after a few bakes",
              "with patient kneading", "once the oven is fully preheated", "before the loaf is scored",
              "when the levain is at its peak", "with a pinch more salt", "on a baking stone",
              "in a cool proofing basket", "without extra yeast", "as the dough relaxes"],
}
CLINIC = {
    "subjects": ["Many patients with depression", "Our psychiatrists", "People living with low mood",
                 "Adults starting treatment", "Talk therapy", "A careful medication plan", "Our therapists",
                 "Patients with anxiety and depression", "A first assessment", "Regular follow-up visits",
                 "Family members of patients", "People recovering from burnout"],
    "verbs": ["often notice", "can learn", "help patients build", "support", "gradually restore",
              "work toward", "make room for", "aim for"],
    "objects": ["better sleep and steadier mood", "relief from persistent sadness", "coping skills for hard days",
                "a treatment plan that fits", "fewer depressive episodes", "more energy and motivation",
                "honest conversations about symptoms", "safer use of antidepressants", "lasting recovery",
                "a calmer daily routine", "confidence to return to work", "early signs of relapse"],
    "tails": ["with weekly therapy sessions", "under a psychiatrist's care", "at their own pace",
              "when progress is reviewed together", "between appointments", "over a few months",
              "with support from family", "in small, steady steps", "alongside medication",
              "after a thorough assessment", "with our care team", "as symptoms ease"],
}
MONEY = {
    "subjects": ["A fixed-rate mortgage", "Your lender", "The loan-to-value ratio", "A mortgage broker",
                 "The annual percentage rate", "An early repayment charge", "Your credit score",
                 "A larger deposit", "The amortisation schedule", "Remortgaging"],
    "verbs": ["lowers", "raises", "affects", "determines", "locks in", "reduces"],
    "objects": ["your monthly repayments", "the interest you pay", "the total cost of borrowing",
                "the equity in your property", "the lender's arrangement fee", "your borrowing limit",
                "the bank's valuation", "your insurance premium"],
    "tails": ["over a twenty-five year term", "when base rates rise", "before you sign the offer",
              "if you switch lenders", "at the end of the fixed period", "with an offset account"],
}
BBQ = {
    "subjects": ["A smoked beef brisket", "The offset smoker", "A dry rub of pepper and salt",
                 "Hickory wood chunks", "The bark", "A long rest in butcher paper", "The point and the flat",
                 "Charcoal briquettes", "Pork ribs"],
    "verbs": ["needs", "develops", "adds", "keeps", "renders"],
    "objects": ["a dark peppery bark", "smoky flavour in the meat", "juicy slices", "rendered fat",
                "a pink smoke ring", "tender burnt ends", "a steady pit temperature"],
    "tails": ["at two hundred and twenty-five degrees", "over twelve hours", "on the grill grate",
              "before slicing against the grain", "with a water pan", "when the stall begins"],
}


def prose(vocab: dict, seed: str, words: int, own: tuple[str, ...] = ()) -> list[str]:
    """Paragraphs of sentences from `vocab`, seeded by the page so no two pages share one;
    `own` words (a post's subject) come back in about half the sentences."""
    rng = random.Random(seed)
    paragraphs, count = [], 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(3, 5)):
            s = (f"{rng.choice(vocab['subjects'])} {rng.choice(vocab['verbs'])} "
                 f"{rng.choice(vocab['objects'])} {rng.choice(vocab['tails'])}")
            if own and rng.random() < 0.5:
                s += f", especially with {rng.choice(own)}"
            sentences.append(s + ".")
        paragraphs.append(" ".join(sentences))
        count += len(paragraphs[-1].split())
    return paragraphs


def paras(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


# --- the WordPress-like blog -----------------------------------------------------------------------

BLOG = "Crumb & Crust"
POSTS = [  # slug, title, own words, category, tags, newest first
    ("sourdough-starter-guide", "How to Keep a Sourdough Starter Alive", ("rye flour", "a jar of levain"), "sourdough", ["beginner"]),
    ("rye-bread-basics", "Dark Rye Bread Basics", ("caraway seeds", "dark rye"), "sourdough", ["rye"]),
    ("rosemary-focaccia", "Rosemary Focaccia in a Sheet Pan", ("olive oil", "fresh rosemary"), "yeasted", ["beginner"]),
    ("classic-baguette", "Shaping a Classic Baguette", ("a couche", "a lame"), "yeasted", []),
    ("brioche-buns", "Soft Brioche Buns", ("butter", "egg yolks"), "enriched", []),
    ("bagels-at-home", "Boiled Bagels at Home", ("barley malt", "sesame seeds"), "yeasted", ["beginner"]),
    ("whole-wheat-sandwich-loaf", "A Whole Wheat Sandwich Loaf", ("honey", "whole wheat"), "yeasted", []),
    ("neapolitan-pizza-dough", "Neapolitan Pizza Dough", ("tipo 00 flour", "a pizza steel"), "yeasted", ["rye"]),
    ("quick-tip-steam", "Quick Tip: Steam", (), "tips", []),
    ("fixed-rate-mortgage", "Choosing a Fixed-Rate Mortgage", (), "uncategorized", []),
]
RECENT = 5
PER_PAGE = 6
SPAM_BLOCK = ("<p>Need cash before payday? Our partner lender approves payday loans in minutes with no "
              "credit check and instant bank transfers: <a href='{{host:spam}}/payday-loans'>apply for a "
              "payday loan today</a>.</p>")


def wp_head(title: str, path: str, post_id: int) -> str:
    return (f"<title>{title} – {BLOG}</title>"
            f"<meta name='description' content='{title}: a home baker’s notes on method, timing and what can go wrong.'>"
            "<link rel='https://api.w.org/' href='{{host:wp}}/wp-json/'>"
            f"<link rel='alternate' type='application/json' href='{{{{host:wp}}}}/wp-json/wp/v2/posts/{post_id}'>"
            f"<link rel='alternate' type='application/json+oembed' href='{{{{host:wp}}}}/wp-json/oembed/1.0/embed?url=%2F{post_id}'>"
            f"<link rel='alternate' type='text/xml+oembed' href='{{{{host:wp}}}}/wp-json/oembed/1.0/embed?url=%2F{post_id}&amp;format=xml'>"
            f"<link rel='canonical' href='{{{{host:wp}}}}{path}'>")


def wp_page(title: str, path: str, main: str, post_id: int = 0, h1: str | None = None) -> str:
    recent = "".join(f"<li><a href='/posts/{slug}/'>{t}</a></li>" for slug, t, *_ in POSTS[:RECENT])
    return ("<!doctype html><html lang='en-GB'><head><meta charset='utf-8'>" + wp_head(title, path, post_id)
            + "</head><body class='home blog'><a class='skip-link screen-reader-text' href='#content'>Skip to content</a>"
            "<header class='site-header'><p class='site-title'><a href='/'>" + BLOG + "</a></p>"
            "<nav class='main-navigation'><ul><li><a href='/'>Home</a></li><li><a href='/category/sourdough/'>Sourdough</a></li>"
            "<li><a href='/category/yeasted/'>Yeasted</a></li><li><a href='/about/'>About</a></li>"
            "<li><a href='/contact/'>Contact</a></li></ul></nav></header>"
            f"<div id='content' class='site-content'><main id='main' class='site-main'><h1>{h1 or title}</h1>{main}</main>"
            "<aside id='secondary' class='widget-area'><section class='widget widget_recent_entries'>"
            f"<h2 class='widget-title'>Recent Posts</h2><ul>{recent}</ul></section></aside></div>"
            "<footer class='site-footer'><p>© " + BLOG + ". Baked at home, written at night. "
            "<a href='/privacy-policy/'>Privacy policy</a> <a href='/baking-log/'>Baking log</a></p></footer></body></html>")


def comments(slug: str, i: int) -> str:
    rng = random.Random(slug + "comments")
    people = ["Maria", "Tom", "Aisha", "Ken"]
    out = ["<div id='comments' class='comments-area'><h2 class='comments-title'>2 thoughts on this post</h2><ol class='comment-list'>"]
    for n in range(2):
        cid = i * 10 + n
        text = " ".join(prose(BREAD, f"{slug}-c{n}", 25))
        out.append(f"<li id='comment-{cid}' class='comment'><article class='comment-body'><footer class='comment-meta'>"
                   f"<b class='fn'>{rng.choice(people)}</b> says:</footer><div class='comment-content'><p>{text}</p></div>"
                   f"<div class='reply'><a rel='nofollow' class='comment-reply-link' href='?replytocom={cid}#respond'>Reply</a></div>"
                   "</article></li>")
    out.append("</ol><div id='respond'><h3>Leave a Reply</h3><form action='/wp-comments-post.php' method='post'>"
               "<textarea name='comment'></textarea><input type='submit' value='Post Comment'></form></div></div>")
    return "".join(out)


def post_body(slug: str, own: tuple, week: int) -> str:
    if slug == "fixed-rate-mortgage":
        return paras(prose(MONEY, slug, 380))
    if slug == "quick-tip-steam":
        return "<p>Pour a cup of boiling water into a tray under the loaf for the first twenty minutes. " \
               "Steam keeps the crust soft so the bread can rise, then bake dry for a crisp finish.</p>"
    body = paras(prose(BREAD, slug, 380, own))
    if slug == "rye-bread-basics":
        body += "<p>My first notes are in <a href='/posts/old-rye-starter/'>the old rye starter post</a>.</p>"
    if slug == "rosemary-focaccia" and week == 1:     # fixed in week 2
        body += ("<p>Download <a href='file:///C:/Users/baker/Documents/focaccia-schedule.pdf'>my baking "
                 "schedule</a> and plan the weekend.</p>")
    if slug == "classic-baguette":
        body += "<p>Fresh loaves are for sale at the market; see our <a href='/shop hours'>shop hours</a>.</p>"
    if slug == "brioche-buns":
        paragraphs = prose(BREAD, slug, 380, own)
        body = paras(paragraphs[:2]) + SPAM_BLOCK + paras(paragraphs[2:])
    if slug == "bagels-at-home":
        body += "<p><img src='/wp-content/uploads/bagels.jpg'> Boiled, then baked.</p>"
    if slug == "neapolitan-pizza-dough":
        body += "<p>The flour I use is from <a href='{{host:busy}}/flour/tipo-00'>the mill's shop</a>.</p>"
    if slug == "whole-wheat-sandwich-loaf":
        body += ("<p>When you bake a whole wheat sandwich loaf for the first time and the dough feels heavier "
                 "and thirstier than any white dough you have handled before, resist the urge to add more flour, "
                 "because the bran keeps soaking up water during the long rest and the dough that felt too wet "
                 "at first becomes smooth, elastic and easy to shape by the time the bulk ferment is done.</p>"
                 "<table><tr><th>Flour (g)</th><th>Water (g)</th><th>Salt (g)</th><th>Yeast (g)</th></tr>"
                 + "".join(f"<tr><td>{500 + 50 * k}</td><td>{350 + 40 * k}</td><td>{10 + k}</td><td>{7}</td></tr>"
                           for k in range(12)) + "</table>")
        if week == 2:  # a real change in week 2: a new broken link
            body += "<p>More about bran in <a href='/posts/bran-explained/'>bran explained</a>.</p>"
    return body


def baking_log() -> str:
    """A long diary of run-on sentences (far more than a worklist can hold), a data export of
    every bake and a snippet of code: only the longest prose sentences are worklist rows."""
    rng = random.Random("log")
    entries = []
    for n in range(40):
        a, b, c = (" ".join(prose(BREAD, f"log{n}{k}", 12)).rstrip(".") for k in "abc")
        entries.append(f"<p>On bake number {n + 1}, {a[0].lower() + a[1:]}, and {b[0].lower() + b[1:]}, "
                       f"while {c[0].lower() + c[1:]}.</p>")
    rows = " ".join(f"{2019 + k // 50}-{k % 12 + 1:02d}-{k % 28 + 1:02d},{rng.randint(60, 85)},"
                    f"{rng.randint(18, 26)},{rng.randint(4, 18)},{rng.choice(['rye', 'wheat', 'spelt'])}"
                    for k in range(300))
    code = ("def hydration(flour_g, water_g): return round(100 * water_g / flour_g, 1) "
            "if flour_g > 0 else None; print(hydration(500, 350), hydration(1000, 780), hydration(0, 1))")
    return ("".join(entries) + f"<p>date,hydration,temp,hours,flour {rows}</p>"
            f"<pre><code>{code}</code></pre>")


def teaser(slug: str, title: str, own: tuple) -> str:
    vocab = MONEY if slug == "fixed-rate-mortgage" else BREAD
    excerpt = " ".join(" ".join(prose(vocab, slug, 30, own)).split()[:32])
    return (f"<article class='post type-post'><h2 class='entry-title'><a href='/posts/{slug}/'>{title}</a></h2>"
            f"<div class='entry-summary'><p>{excerpt} […]</p></div>"
            f"<a class='more-link' href='/posts/{slug}/'>Read more</a></article>")


def listing(title: str, path: str, posts: list, next_page: str | None = None) -> str:
    main = "".join(teaser(slug, t, own) for slug, t, own, *_ in posts)
    if next_page:
        main += f"<nav class='navigation pagination'><a class='next page-numbers' href='{next_page}'>Older posts</a></nav>"
    return wp_page(title, path, main)


def wp_rest(info) -> Route:
    headers = {"X-Robots-Tag": "noindex", "Link": "<{{host:wp}}/wp-json/>; rel=\"https://api.w.org/\""}
    if info.param("format") == "xml":
        return Route(body="<?xml version='1.0'?><oembed><version>1.0</version></oembed>",
                     content_type="text/xml; charset=UTF-8", headers=headers)
    return Route(body=json.dumps({"id": 1, "title": {"rendered": "post"}}),
                 content_type="application/json; charset=UTF-8", headers=headers)


def blog_site(week: int = 1) -> dict[str, HostSpec]:
    routes: dict = {}
    for i, (slug, title, own, category, tags) in enumerate(POSTS):
        path = f"/posts/{slug}/"
        routes[path] = Route.html(wp_page(title, path, post_body(slug, own, week) + comments(slug, i), 100 + i))
    routes["/"] = Route.html(listing(BLOG, "/", POSTS[:PER_PAGE], "/page/2/"))
    routes["/page/2/"] = Route.html(listing(f"Page 2 – {BLOG}", "/page/2/", POSTS[PER_PAGE:]))
    for cat in ("sourdough", "yeasted", "enriched", "tips"):
        routes[f"/category/{cat}/"] = Route.html(listing(f"Category: {cat.title()}", f"/category/{cat}/",
                                                         [p for p in POSTS if p[3] == cat]))
    for tag in ("beginner", "rye"):
        routes[f"/tag/{tag}/"] = Route.html(listing(f"Tag: {tag.title()}", f"/tag/{tag}/",
                                                    [p for p in POSTS if tag in p[4]]))
    routes["/about/"] = Route.html(wp_page("About the Baker", "/about/", paras(prose(BREAD, "about", 260, ("my grandmother's oven",))), 2))
    routes["/contact/"] = Route.html(wp_page("Contact", "/contact/", paras(prose(BREAD, "contact", 210))
                                             + "<p>Write to <a href='mailto:hello@crumb.test'>hello@crumb.test</a>.</p>", 3))
    routes["/privacy-policy/"] = Route.html(wp_page("Privacy Policy", "/privacy-policy/", "<p>" + (
        "We collect the personal information you submit in comment forms, such as your name and email address, "
        "and store cookies for analytics. You may request access to or deletion of your personal data at any "
        "time under applicable data protection law. We do not sell or share your data with third parties. ") * 3
        + "</p>", 4))
    routes["/baking-log/"] = Route.html(wp_page("My Baking Log, Every Loaf Since 2019", "/baking-log/",
                                               baking_log(), 7))
    routes["/shop%20hours"] = Route.html(wp_page("Shop Hours", "/shop%20hours", paras(prose(BREAD, "shop", 220)), 5))
    # listed in the sitemap only: its only links to itself are the skip link and comment replies
    routes["/sourdough-faq/"] = Route.html(wp_page("Sourdough FAQ", "/sourdough-faq/",
                                                   paras(prose(BREAD, "faq", 300, ("a jar of levain",)))
                                                   + comments("sourdough-faq", 50), 6))
    routes["/wp-json/*"] = Route.dynamic(wp_rest)
    routes["/wp-content/uploads/bagels.jpg"] = Route(body=b"\xff\xd8\xff" + bytes(64), content_type="image/jpeg")
    urls = ["/", "/about/", "/contact/", "/privacy-policy/", "/sourdough-faq/", "/baking-log/"] + [
        f"/posts/{p[0]}/" for p in POSTS]
    routes["/wp-sitemap.xml"] = Route(body="<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                                      + "".join(f"<url><loc>{{{{host:wp}}}}{u}</loc></url>" for u in urls) + "</urlset>",
                                      content_type="application/xml")
    routes["/robots.txt"] = Route.text("User-agent: *\nDisallow: /wp-admin/\nSitemap: {{host:wp}}/wp-sitemap.xml\n")

    def busy(info) -> Route:
        return Route(status=429, body="Too Many Requests", content_type="text/plain", headers={"Retry-After": "0"})

    return {"wp": HostSpec(routes=routes),
            "spam": HostSpec(routes={"/payday-loans": Route.html("<html><body>loans</body></html>")}),
            "busy": HostSpec(routes={"/flour/tipo-00": Route.dynamic(busy)})}


# --- the clinic -------------------------------------------------------------------------------------

CLINIC_NAME = "Northside Mood Clinic"
CITIES = {"springfield": ("Springfield", "Elm Street", "the old library"),
          "riverton": ("Riverton", "Mill Road", "the river bridge"),
          "lakewood": ("Lakewood", "Lake Avenue", "the marina"),
          "fairview": ("Fairview", "Hill Street", "the town hall")}


def clinic_page(title: str, main: str, description: str | None = "default", head: str = "") -> str:
    desc = (f"{title}: how {CLINIC_NAME} helps adults with depression, what a first visit looks like and how to book."
            if description == "default" else description)
    meta = f"<meta name='description' content='{desc}'>" if desc else ""
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{title} | {CLINIC_NAME}</title>{meta}{head}</head><body>"
            "<a class='skip' href='#main'>Skip to main content</a>"
            "<header><nav><a href='{{host:clinic}}/'>Home</a> <a href='{{host:clinic}}/services/'>Services</a> "
            "<a href='{{host:clinic}}/conditions/depression'>Depression</a> "
            "<a href='{{host:clinic}}/locations/springfield'>Springfield</a> <a href='{{host:clinic}}/locations/riverton'>Riverton</a> "
            "<a href='{{host:clinic}}/locations/lakewood'>Lakewood</a> <a href='{{host:clinic}}/locations/fairview'>Fairview</a> "
            "<a href='{{host:clinic}}/events/'>Events</a> <a href='{{host:clinic}}/research'>Research</a> "
            "<a href='{{host:journal}}/'>Journal</a> <a href='{{host:clinic}}/careers'>Careers</a> "
            "<a href='{{host:clinic}}/contact'>Contact</a></nav></header>"
            f"<main id='main'><h1>{title}</h1>{main}</main>"
            f"<footer>{CLINIC_NAME}, 40 Harbour Road. <a href='{{{{host:clinic}}}}/about'>About us</a> "
            "<a href='{{host:clinic}}/privacy-policy'>Privacy</a></footer></body></html>")


def city_page(key: str) -> str:
    city, street, landmark = CITIES[key]
    text = [
        f"{CLINIC_NAME} in {city} offers depression treatment for adults close to home. Our {city} office on "
        f"{street} is a short walk from {landmark}, with step-free access and a quiet waiting room.",
        "Every first visit starts with an unhurried assessment with a psychiatrist, who asks about your mood, "
        "sleep, energy and appetite, about any treatment you have tried, and about what you hope to change. "
        "Together you agree on a plan that may combine talk therapy, medication and practical steps for the weeks ahead.",
        "Talk therapy at the office includes cognitive behavioural therapy and interpersonal therapy in weekly "
        "sessions of fifty minutes. Medication is reviewed every few weeks so side effects are caught early and "
        "doses are adjusted with care. Patients who have not improved with two medicines can ask about TMS.",
        f"Patients from {city} and nearby towns can book online or by phone, and evening appointments are "
        f"available twice a week at the {city} office. Parking is free on {street} after six.",
        "We work with most insurers and explain fees before treatment begins, so there are no surprises. "
        "If you are in crisis, call the emergency number or go to the nearest emergency department at once.",
    ]
    return clinic_page(f"Depression Treatment in {city}", paras(text),
                       description=f"Depression treatment in {city}: psychiatrists and therapists on {street}, evening appointments, online booking.")


ACADEMIC = [
    "Our research programme investigates the efficacy of combined pharmacotherapy and psychotherapy for major "
    "depressive disorder in adults, using randomised controlled trials with blinded outcome assessment.",
    "In a cohort of 412 outpatients, remission rates at twelve weeks were significantly higher among participants "
    "receiving cognitive behavioural therapy alongside antidepressant medication than among those receiving "
    "medication alone, after adjustment for baseline severity.",
    "Secondary analyses examine predictors of treatment response, including sleep disturbance, anhedonia and "
    "early symptom improvement, and the durability of remission over a follow-up period of two years.",
    "A further study evaluates repetitive transcranial magnetic stimulation for treatment-resistant depression, "
    "measuring change in depressive symptoms on validated rating scales as the primary outcome.",
    "Findings are published in peer-reviewed journals and inform the clinical guidelines our psychiatrists and "
    "therapists follow; patients may be invited to take part, and participation never affects their care.",
    "Methodologically, the trials use intention-to-treat analyses, prespecified endpoints and independent data "
    "monitoring. Attrition was low, and sensitivity analyses with multiple imputation did not alter the conclusions.",
    "Ongoing work examines whether measurement-based care, in which symptom scales are administered at every "
    "visit, improves response rates compared with usual care. Preliminary data suggest faster dose optimisation.",
    "A collaborative study with two university hospitals explores biomarkers of antidepressant response, "
    "including inflammatory markers and sleep architecture, in a longitudinal sample of three hundred adults.",
    "Our investigators also evaluate the acceptability of internet-delivered cognitive behavioural therapy for "
    "adults on waiting lists, with qualitative interviews alongside quantitative outcome measures.",
]


def calendar(today: date):
    def month_page(info) -> Route:
        value = info.param("month") or f"{today.year}-{today.month:02d}"
        year, month = (int(x) for x in value.split("-"))
        prev_m = f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"
        next_m = f"{year + (month == 12)}-{month % 12 + 1:02d}"
        is_now = (year, month) == (today.year, today.month)
        events = ("<ul><li><a href='/events/open-day'>Open day: meet our therapists</a></li></ul>" if is_now
                  else "<p>No events are scheduled this month.</p>")
        name = date(year, month, 1).strftime("%B %Y")
        main = (f"<h2>Events in {name}</h2>{events}"
                f"<p><a href='/events/?month={prev_m}'>Previous month</a> <a href='/events/?month={next_m}'>Next month</a></p>")
        return Route.html(clinic_page(f"Events in {name}" if info.param("month") else "Events", main))
    return month_page


def journal_page(title: str, main: str) -> str:
    return clinic_page(title, main).replace(f"| {CLINIC_NAME}</title>", f"| {CLINIC_NAME} Journal</title>")


def clinic_site(week: int = 1) -> dict[str, HostSpec]:
    today = date(2026, 12, 1) if week == 1 else date(2027, 1, 1)   # the calendar moves with the date
    services = {"talk-therapy": "Talk Therapy", "medication-management": "Medication Management", "tms": "TMS Therapy"}
    routes: dict = {
        "/": clinic_page("Depression Care Close to Home", paras(prose(CLINIC, "home", 280))),
        "/about": clinic_page("About Us", paras(prose(CLINIC, "about", 260)[:2]) + (
            "<p>Tonight only: spin the wheel at our partner casino for free slot spins and a jackpot bonus "
            "on roulette and blackjack, <a href='{{host:spam}}/casino'>claim your casino bonus</a>.</p>"
            if week == 1 else "")  # removed in week 2
            + paras(prose(CLINIC, "about", 260)[2:])),
        "/services/": clinic_page("Our Services", "".join(
            f"<article><h2><a href='/services/{k}'>{v}</a></h2><p>{' '.join(prose(CLINIC, k, 25)[0].split()[:26])}…</p>"
            f"<a href='/services/{k}'>Read more</a></article>" for k, v in services.items())),
        "/conditions/depression": clinic_page("Depression", paras(prose(CLINIC, "conditions-depression", 420,
                                                                          ("low mood", "a family history")))),

        "/careers": clinic_page("Careers", paras([
            "We are hiring a full-time psychiatric nurse and a part-time receptionist to join our team.",
            "The nurse position involves working with patients, supporting assessments and coordinating care "
            "with our psychiatrists. Applicants need a current nursing licence and two years of experience.",
            "We offer a competitive salary, paid vacation, a retirement plan and dental benefits. We are an "
            "equal opportunity employer and welcome applications from qualified candidates of every background.",
            "To apply, send your resume and a cover letter through the application form below."])),
        "/contact": clinic_page("Contact Us", paras([
            "Call us on weekdays from nine to five, or send a message through the form and we will reply "
            "within one business day. Our office is at 40 Harbour Road, with parking behind the building.",
            "For an emergency, call the emergency number at once."])),
        "/thank-you": clinic_page("Thank You", "<p>Thanks, we got your message.</p><article><h2><a href='"
                                  "{{host:journal}}/resources/understanding-depression'>Understanding depression</a></h2>"
                                  "<p>While you wait, read how low mood differs from depression and when to ask for help.</p>"
                                  "<a href='{{host:journal}}/resources/understanding-depression'>Read more</a></article>",
                                  head="<meta name='robots' content='noindex'>"),
        "/research": clinic_page("Research", paras(ACADEMIC)),
        "/privacy-policy": clinic_page("Privacy Policy", "<p>" + (
            "We collect the personal information you submit in contact forms, such as your name, phone and email "
            "address, to reply to your request. You may request access to or deletion of your personal data at "
            "any time under applicable data protection law. We do not sell or share your data with third parties. ") * 3
            + "</p>"),

        "/holiday-hours": clinic_page("Holiday Hours", paras(prose(CLINIC, "holidays", 220))),
        "/events/": calendar(today),
        "/events/open-day": clinic_page("Open Day", paras(prose(CLINIC, "open-day", 230))),
    }
    for k, v in services.items():
        body = paras(prose(CLINIC, f"service-{k}", 330, (v.lower(),)))
        if k == "tms" and week == 1:       # fixed in week 2
            body += "<p>Questions? Read the <a href='/services/tms-faq'>TMS questions and answers</a>.</p>"
        routes[f"/services/{k}"] = clinic_page(v, body)
    for key in CITIES:
        routes[f"/locations/{key}"] = city_page(key)
    routes["/"] = routes["/"].replace("</main>", "<p><a href='{{host:journal}}/news/smoked-brisket-guide'>Staff "
                                      "picnic recipes</a> <a href='{{host:journal}}/resources/understanding-depression'>"
                                      "Understanding depression</a> <a href='/thank-you'>after booking</a></p></main>")
    urls = [u for u in routes if not u.startswith("/events/?")] + ["/holiday-hours"]
    journal = {
        "/": journal_page("Journal", "".join(
            f"<article><h2><a href='{path}'>{title}</a></h2><p>{' '.join(prose(vocab, path, 25)[0].split()[:24])}…</p>"
            f"<a href='{path}'>Read more</a></article>"
            for path, title, vocab in (("/resources/understanding-depression", "Understanding Depression", CLINIC),
                                       ("/resources/sleep-and-mood", "Sleep and Mood", CLINIC),
                                       ("/news/smoked-brisket-guide", "Smoked Brisket Guide", BBQ))
            + ((("/news/choosing-a-mortgage", "Choosing a Mortgage", MONEY),) if week == 2 else ()))),
        "/resources/understanding-depression": journal_page("Understanding Depression", paras(
            prose(CLINIC, "understanding", 420, ("low mood", "warning signs")))),
        "/resources/sleep-and-mood": journal_page("Sleep and Mood", paras(
            prose(CLINIC, "sleep", 400, ("a regular bedtime", "insomnia")))),
        "/news/smoked-brisket-guide": journal_page("Smoked Brisket Guide", paras(prose(BBQ, "brisket", 380))),
        "/news/choosing-a-mortgage": journal_page("Choosing a Mortgage", paras(prose(MONEY, "clinic-mortgage", 360))),
        "/robots.txt": Route.text("User-agent: *\nAllow: /\n"),
    }
    if week == 1:   # a new off-topic post in week 2
        del journal["/news/choosing-a-mortgage"]
    journal = {u: (Route.html(v) if isinstance(v, str) else v) for u, v in journal.items()}
    routes = {u: (Route.html(v) if isinstance(v, str) else Route.dynamic(v) if callable(v) else v)
              for u, v in routes.items()}
    routes["/sitemap.xml"] = Route(body="<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                                   + "".join(f"<url><loc>{{{{host:clinic}}}}{u}</loc></url>" for u in sorted(set(urls)))
                                   + "</urlset>", content_type="application/xml")
    routes["/robots.txt"] = Route.text("User-agent: *\nAllow: /\nSitemap: {{host:clinic}}/sitemap.xml\n")
    return {"clinic": HostSpec(routes=routes), "journal": HostSpec(routes=journal),
            "spam": HostSpec(routes={"/casino": Route.html("<html><body>casino</body></html>")})}
