"""Tests of analysis/topics.py: the plain rules as tables, the analysis on a clinic site it has
never seen (stored rows in a real DuckDB file), bad input, and a crawl of that site end to end."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import StoredCrawl, query, run_cli

from analysis import topics
from crawler import store
from crawler.config import Options, TopicsOptions, load_config
from crawler.errors import ConfigError
from demo.server import HostSpec, Route, SiteServer

# --- the site: Harborview Behavioral Health (clinic host) and its blog (blog host) -------------
# Paragraphs of each page's main text, by path.
CLINIC = {
"/": ["Harborview Behavioral Health is an outpatient psychiatry practice for adults living with depression, anxiety, PTSD and obsessive-compulsive disorder. Our psychiatrists and nurse practitioners combine careful diagnosis with evidence-based treatment.",
      "We offer transcranial magnetic stimulation, ketamine-assisted therapy, medication management and talk therapy under one roof, so a patient whose first antidepressant did not help does not have to start over somewhere else.",
      "Most new patients are seen within two weeks. Your first visit is a ninety-minute psychiatric evaluation that looks at your symptoms, your history with medications and what you want from treatment."],
"/services/tms": ["Transcranial magnetic stimulation (TMS) uses magnetic pulses to stimulate the prefrontal cortex, a region of the brain that is underactive in many people with major depression. It is approved for treatment-resistant depression and for OCD.",
      "A course of TMS usually means five short sessions a week for six weeks. Patients stay awake, drive themselves home and return to work the same day. The most common side effect is a mild headache during the first week.",
      "Our psychiatrists map the treatment coil position at the first session and adjust the dose as your mood improves. Many patients notice better sleep and energy before their low mood lifts."],
"/services/ketamine": ["Ketamine-assisted therapy pairs supervised ketamine infusions with psychotherapy. For people with severe or treatment-resistant depression, ketamine can ease symptoms within hours or days rather than weeks.",
      "Every infusion takes place in a monitored treatment room. A nurse checks blood pressure and heart rate throughout, and a therapist meets with you afterwards to help you make sense of the experience and build on it.",
      "Ketamine is not a first-line treatment. Our psychiatrists review your medical history and previous antidepressant trials before recommending it, and we coordinate with your therapist and primary care doctor."],
"/services/medication-management": ["Finding the right antidepressant or anti-anxiety medication can take more than one attempt. Our psychiatric prescribers start from a thorough evaluation and adjust the dose, timing or medication based on how you respond.",
      "Follow-up appointments are short and frequent at the start. We watch for side effects, check for interactions with your other prescriptions and explain the reasons behind every change.",
      "Medication works best alongside therapy, sleep, movement and support from the people around you, and we help you put those pieces together."],
"/services/psychotherapy": ["Our therapists offer cognitive behavioral therapy, exposure and response prevention for OCD, trauma-focused therapy for PTSD, and interpersonal therapy for depression.",
      "Therapy sessions last fifty minutes and can happen in the clinic or by secure video. Many patients combine weekly therapy with TMS or medication, and their psychiatrist and therapist share one treatment plan.",
      "Therapy teaches practical skills: noticing distorted thoughts, facing feared situations gradually, calming the body during panic and rebuilding routines that depression took away."],
"/conditions/depression": ["Major depression is more than sadness. It changes sleep, appetite, energy, concentration and the ability to feel pleasure, and it can make ordinary tasks feel impossible for weeks or months.",
      "When two or more antidepressants have not helped, depression is called treatment-resistant. That label does not mean nothing will work: TMS, ketamine and combined medication and therapy help many patients who felt stuck.",
      "If you have thoughts of suicide, call or text 988 right away. Depression is a medical condition, and effective treatment exists."],
"/conditions/anxiety": ["Generalized anxiety disorder, panic disorder and social anxiety share a common thread: worry and fear that are out of proportion to the situation and hard to switch off.",
      "Anxiety often travels with depression and insomnia. Cognitive behavioral therapy is the best-studied treatment, and some patients also benefit from an SSRI antidepressant or short-term medication for panic symptoms.",
      "Our clinicians help you understand what keeps anxiety going, from avoidance to constant reassurance seeking, and build a plan to loosen its grip."],
"/about": ["Harborview Behavioral Health was founded by two psychiatrists who wanted patients with stubborn depression to have access to every modern treatment in one place.",
      "Our team includes board-certified psychiatrists, psychiatric nurse practitioners, licensed therapists and TMS technicians. We train together, review difficult cases together and measure outcomes with standard depression and anxiety rating scales.",
      "We believe mental health care should be unhurried, honest about risks and benefits, and built around each patient's goals."],
"/insurance": ["We accept most major insurance plans for psychiatric evaluations, medication management and therapy. TMS is covered by many plans after documented trials of antidepressant medication.",
      "Ketamine-assisted therapy is usually self-pay. Our billing coordinators verify your benefits before treatment begins and explain any prior authorization your insurer requires for TMS."],
}
UTILITY = {
"/privacy": ["This privacy policy explains what personal information we collect when you use this website or contact our office, how we use it and the choices you have.",
      "We collect the information you provide in forms, such as your name, email address and phone number, and technical data such as your browser type and pages visited. We use cookies to remember preferences and measure traffic.",
      "We do not sell personal data. We share it only with service providers who process it on our behalf under contract, or when the law requires. You may request access to, correction of or deletion of your data by writing to us."],
"/contact": ["Contact our front desk by phone Monday to Friday from 8 am to 6 pm, or send us a message with the form below and we will reply within one business day.",
      "Our office is on the third floor of the Harbor Building at 400 Water Street. Free parking is available in the garage behind the building, and the bus stops at the corner.",
      "Please do not send urgent requests through the contact form. Include your name, phone number, email address and the best time to reach you."],
"/careers": ["Join our team. We are hiring a full-time psychiatric nurse practitioner, a part-time front desk coordinator and a TMS technician.",
      "We offer competitive salary, health and dental benefits, paid time off, continuing education allowance and a retirement plan with employer match.",
      "To apply, send your resume and a short cover letter to our hiring manager. Applications are reviewed on a rolling basis and every applicant receives a reply. We are an equal opportunity employer."],
"/terms": ["These terms of use govern your access to this website. By using the site you agree to these terms. The content is provided for general information and is not a substitute for professional advice.",
      "All content is protected by copyright and may not be reproduced without written permission. We may update these terms at any time; the date of the latest revision appears at the bottom of this page. Questions about these terms can be sent to our office."],
"/login": ["Patient portal login. Enter your username and password to view appointments, messages and billing statements. Forgot your password? Reset it with the email address on your account. New patients can register for an account after their first visit to the office."],
}
ONTOPIC_POSTS = {
"/blog/what-is-treatment-resistant-depression": ["Treatment-resistant depression usually means that at least two antidepressants, taken at an adequate dose for long enough, did not bring meaningful relief. Roughly one in three people with major depression reach that point.",
      "The term can sound hopeless, but it mostly describes where someone is in their treatment journey. Options such as TMS, ketamine, augmentation with a second medication and intensive psychotherapy remain open, and many patients respond to them.",
      "A careful psychiatric review often finds things worth fixing first: a dose that was never raised, an untreated sleep disorder, thyroid problems or alcohol use that blunts the effect of medication."],
"/blog/tms-first-week": ["Starting TMS can feel intimidating, so here is what the first week of treatment usually looks like for our patients.",
      "The first session is the longest. The technician measures your motor threshold, the amount of magnetic energy that makes your thumb twitch, and uses it to set the dose for later sessions. After that each treatment takes about twenty minutes.",
      "Expect a tapping sensation on the scalp and some facial muscle twitching. Mild headaches are common in the first few days and usually respond to over-the-counter pain relief. Most people do not feel a change in mood until the second or third week."],
"/blog/ketamine-myths": ["Ketamine is surrounded by myths. The most common one is that therapeutic ketamine is the same as recreational use. In a clinic, doses are lower, infusions are monitored by medical staff and sessions are paired with psychotherapy.",
      "Another myth is that ketamine replaces antidepressants. Most of our patients continue their usual medication, and ketamine is one part of a broader depression treatment plan.",
      "Finally, ketamine is not a cure. Its rapid relief can open a window in which therapy and lifestyle changes take hold more easily, but benefits fade without maintenance and support."],
"/blog/anxiety-and-sleep": ["Anxiety and insomnia feed each other. Worry keeps the mind racing at bedtime, and a poor night of sleep makes the next day's anxiety sharper and harder to manage.",
      "Cognitive behavioral therapy for insomnia is the most effective long-term treatment. It resets the link between the bed and sleep, limits time awake in bed and replaces anxious thoughts about sleep with realistic ones.",
      "Cutting caffeine after noon, keeping a regular wake time and getting morning daylight help too. If panic attacks wake you at night, talk with your psychiatrist about treatment options."],
"/blog/ptsd-trauma-therapy": ["Post-traumatic stress disorder can follow combat, assault, accidents or a sudden loss. Flashbacks, nightmares, avoidance and feeling constantly on guard are typical symptoms.",
      "Trauma-focused therapies such as prolonged exposure and cognitive processing therapy have the strongest evidence. They help the brain file traumatic memories as past events instead of present danger.",
      "Many people with PTSD also live with depression. Treating both together, sometimes with medication or TMS alongside therapy, gives the best chance of recovery."],
"/blog/ocd-exposure-response-prevention": ["Obsessive-compulsive disorder traps people in a loop of intrusive thoughts and rituals that bring short relief and long-term distress.",
      "Exposure and response prevention, a form of cognitive behavioral therapy, breaks the loop. With a therapist, patients face feared thoughts or situations step by step while resisting the compulsion, and the anxiety fades on its own.",
      "For OCD that does not respond to therapy and an SSRI, deep TMS is an approved option, and our psychiatrists can tell you whether it fits your case."],
"/blog/postpartum-depression": ["Postpartum depression affects about one in seven new mothers. It differs from the short-lived baby blues: low mood, anxiety, guilt and trouble bonding with the baby last for weeks.",
      "Treatment works. Therapy, support groups, antidepressants that are compatible with breastfeeding and, for severe cases, newer medications approved specifically for postpartum depression can all help.",
      "Partners and family often notice the symptoms first. If a new parent seems withdrawn, hopeless or unable to sleep even when the baby sleeps, encourage them to talk with a doctor or psychiatrist."],
"/blog/teen-depression-signs": ["Depression in teenagers often looks like irritability rather than sadness. Falling grades, withdrawal from friends, changes in sleep and appetite and loss of interest in sports or hobbies are warning signs.",
      "Parents should ask directly about mood and thoughts of self-harm. Asking does not plant the idea; it opens the door to help.",
      "Therapy is the first-line treatment for adolescent depression, and some teens also benefit from an antidepressant prescribed and monitored by a child and adolescent psychiatrist."],
"/blog/antidepressant-side-effects": ["Most antidepressant side effects, such as nausea, headaches or restlessness, appear in the first two weeks and fade as the body adjusts to the medication.",
      "Some side effects persist, including sexual side effects, weight gain or emotional blunting. Tell your prescriber rather than stopping the medication abruptly, because sudden discontinuation can cause withdrawal symptoms.",
      "Switching to another antidepressant, adjusting the dose or adding a second medication often solves the problem while keeping the depression under control."],
"/blog/seasonal-affective-disorder": ["Seasonal affective disorder is depression that returns every autumn or winter as daylight shortens. Oversleeping, carbohydrate cravings, weight gain and low energy are typical symptoms.",
      "Bright light therapy, thirty minutes each morning in front of a ten-thousand lux light box, is an effective treatment for many people. Cognitive behavioral therapy adapted for seasonal depression and antidepressant medication help as well.",
      "Starting treatment before symptoms return, in early autumn, can prevent the worst of the winter low."],
"/blog/mindfulness-for-depression": ["Mindfulness-based cognitive therapy was designed for people who have recovered from depression and want to prevent relapse. It combines meditation practice with the tools of cognitive therapy.",
      "Participants learn to notice early signs of a low mood and to step back from ruminating thoughts instead of getting pulled into them.",
      "Studies show it lowers the risk of relapse for people with three or more past episodes of depression, about as well as staying on maintenance antidepressants."],
"/blog/bipolar-vs-depression": ["Bipolar depression can look exactly like major depression, which is why a careful history of past highs matters before any antidepressant is prescribed.",
      "Periods of unusually elevated mood, reduced need for sleep, racing thoughts or impulsive spending point to bipolar disorder. Antidepressants alone can trigger mania in some of these patients.",
      "Mood stabilizers, certain antipsychotic medications and psychotherapy are the foundations of bipolar treatment, and our psychiatrists screen every new patient for it."],
"/blog/exercise-and-mood": ["Regular exercise is one of the best-studied lifestyle treatments for mild to moderate depression. Three sessions a week of brisk walking, cycling or strength training can lift mood in a way comparable to some medications.",
      "Exercise improves sleep, reduces anxiety and gives a sense of accomplishment that depression erodes.",
      "Start small: a ten-minute walk counts. Pairing movement with therapy or antidepressant treatment works better than either alone for many of our patients."],
"/blog/talking-to-family-about-mental-health": ["Telling family about depression or anxiety can feel risky. Choose a calm moment, explain what you are going through in plain words and say what kind of support would help.",
      "Some relatives respond with advice or disbelief. Sharing reliable information about mental illness and treatment, or inviting them to a therapy session, can build understanding.",
      "You decide how much to share. Support from even one trusted person makes recovery from depression more likely."],
"/blog/tms-vs-ect": ["TMS and electroconvulsive therapy both treat severe depression, but they work differently. ECT induces a brief seizure under general anesthesia, while TMS stimulates the brain with magnetic pulses while you are awake.",
      "ECT has the highest response rate of any depression treatment and acts quickly, which matters in severe or psychotic depression. Its drawbacks are anesthesia and temporary memory problems.",
      "TMS has fewer side effects and no anesthesia, and it suits outpatients who can commit to daily sessions. Your psychiatrist can help weigh the options."],
"/blog/esketamine-nasal-spray": ["Esketamine is a nasal spray form of ketamine approved for treatment-resistant depression in combination with an oral antidepressant.",
      "It is given in a certified clinic, and patients are observed for two hours after each dose because of dissociation, dizziness and raised blood pressure.",
      "Compared with ketamine infusions, esketamine is more often covered by insurance. Our psychiatrists help patients decide which form of ketamine treatment suits them."],
"/blog/grief-or-depression": ["Grief after a loss brings sadness, longing and disrupted sleep, and it can last for months. It usually comes in waves and leaves room for moments of comfort and memories that bring joy.",
      "Depression is more pervasive: constant emptiness, loss of self-worth and hopelessness about the future. When grief turns into that kind of persistent depression, treatment helps.",
      "Grief counseling, support groups and, when depression develops, therapy or antidepressant medication can all play a part in recovery."],
"/blog/panic-attacks-what-to-do": ["A panic attack brings a racing heart, shortness of breath, chest tightness and a sudden fear of dying or losing control. It peaks within ten minutes and passes.",
      "Slow breathing and naming the sensations as panic rather than danger help during an attack. Avoiding places where attacks happened tends to make panic disorder worse over time.",
      "Cognitive behavioral therapy with interoceptive exposure is the most effective treatment for panic disorder, sometimes combined with an SSRI antidepressant."],
"/blog/measuring-depression-phq9": ["The PHQ-9 is a nine-question depression questionnaire that many clinics use at every visit. Each question asks how often a symptom bothered you over the past two weeks.",
      "Scores help track whether treatment is working. A drop of fifty percent or more is called a response, and a score below five suggests remission.",
      "Our patients complete the PHQ-9 before each TMS or ketamine session and at medication appointments, so psychiatrists can adjust treatment based on numbers rather than impressions alone."],
"/blog/loneliness-and-depression": ["Loneliness and depression reinforce each other. Depression drains the energy needed to reach out, and isolation deepens low mood and anxiety.",
      "Small social steps help: a regular call with a friend, a group class, volunteering or a peer support group for depression.",
      "Therapy can address the thoughts that keep people isolated, such as the belief that they are a burden, and behavioral activation schedules social contact as part of treatment."],
}
OFFTOPIC_POSTS = {
"/blog/oud-perfume-guide": ["Oud perfume has become one of the most sought-after fragrance ingredients in the world. Distilled from agarwood resin, oud has a smoky, woody and slightly animalic scent that perfumers prize for its depth.",
      "Natural oud oil is rare and expensive, so many perfumes blend a small amount with synthetic accords, rose, saffron or sandalwood. Middle Eastern perfumery has used oud for centuries, and Western fragrance houses now release oud editions every season.",
      "When testing an oud fragrance, wear it on skin for a few hours. The opening can be sharp, while the dry-down reveals sweet, leathery notes that linger on clothing."],
"/blog/niche-fragrance-notes": ["Niche fragrance houses build perfumes around unusual notes: incense, vetiver, leather, fig leaf or salty ambergris. Their scents are made in small batches and rarely follow mainstream trends.",
      "Understanding the fragrance pyramid helps. Top notes such as citrus and bergamot fade in minutes, heart notes such as rose and jasmine last a few hours, and base notes such as musk, amber and oud stay on skin all day.",
      "Sample a perfume on a blotter strip first, then on skin, and judge the dry-down before buying a full bottle."],
"/blog/skyscraper-elevators": ["As buildings grow taller, vertical transportation becomes one of the hardest engineering problems in a skyscraper. Elevators in supertall towers must travel hundreds of meters at high speed without discomfort for passengers.",
      "Engineers use sky lobbies, double-deck cars and express shafts to move thousands of office workers at peak times while limiting the floor area that elevator shafts consume.",
      "Modern hoisting cables made of carbon fiber weigh far less than steel ropes, allowing single elevator runs of more than five hundred meters."],
"/blog/destination-dispatch-elevators": ["Destination dispatch systems ask passengers to choose their floor in the lobby instead of inside the elevator car. The controller groups passengers heading to nearby floors into the same car.",
      "In busy office buildings this cuts travel time and the number of stops per trip, and it lets building managers run fewer elevators during quiet hours to save energy.",
      "Retrofitting destination dispatch in an older tower means replacing hall call buttons with keypads or touch screens and upgrading the elevator controllers and machine room software."],
"/blog/casino-bonus-guide": ["Online casino bonuses come in many forms: welcome bonuses that match your first deposit, free spins on popular slots and cashback on weekly losses.",
      "Always read the wagering requirements. A bonus with a thirty-times wagering requirement means you must bet thirty times the bonus amount before you can withdraw winnings, and some games contribute less to that total.",
      "Compare casino bonus offers by their maximum cashout, eligible games, expiry dates and deposit methods before you sign up and claim a promotion."],
}
# Teasers a link network placed on clinic pages: (text, path of the post it links to).
OFF_TEASERS = [
    ("Few fragrance ingredients carry the mystique, depth and global prestige of agarwood...Read More", "/blog/oud-perfume-guide"),
    ("Oud perfume has become one of the most sought-after fragrance notes...Read More", "/blog/niche-fragrance-notes"),
    ("As building designs become more ambitious and city skylines continue to rise...Read More", "/blog/skyscraper-elevators"),
    ("As buildings grow taller, effective vertical-transportation planning matters...Read More", "/blog/destination-dispatch-elevators"),
    ("Claim the best welcome offers and free spins before they expire...Read More", "/blog/casino-bonus-guide"),
]
ON_TEASERS = [
    ("What the first week of TMS treatment feels like, from motor threshold to mild headaches...Read More", "/blog/tms-first-week"),
    ("Five myths about ketamine therapy for depression, and what the evidence says...Read More", "/blog/ketamine-myths"),
    ("How anxiety and insomnia feed each other, and how therapy breaks the cycle...Read More", "/blog/anxiety-and-sleep"),
]
# A paragraph injected into the content of several clinic pages, and an on-topic call to action.
INJECTED = ("Looking for a signature scent? Our oud perfume guide compares agarwood fragrances, "
            "niche perfume houses and long-lasting accords.")
CALL_TO_ACTION = ("Ready to talk about treatment options for depression or anxiety? Book a psychiatric "
                  "evaluation with our team.")
SIDEBAR = "Office hours: Monday to Friday, 8 am to 6 pm. Call our front desk to book an appointment."
NAV = "Home TMS Ketamine Therapy Conditions About Blog Contact"
FOOTER = "© Harborview Behavioral Health. Privacy policy. Terms of use. Careers. Patient portal."

CLINIC_URL = "http://harborview.test"
BLOG_URL = "http://blog.harborview.test"


def site_pages() -> dict[str, list[str]]:
    """URL -> paragraphs of the whole site."""
    pages = {}
    for group, base in ((CLINIC, CLINIC_URL), (UTILITY, CLINIC_URL), (ONTOPIC_POSTS, BLOG_URL),
                        (OFFTOPIC_POSTS, BLOG_URL)):
        pages.update({base + path: paragraphs for path, paragraphs in group.items()})
    return pages


def site_teasers() -> dict[str, list[tuple[str, str]]]:
    """URL -> teaser blocks (text, link) on that page: off-topic teasers on clinic pages (each on
    at least two pages), on-topic ones on clinic pages and blog posts."""
    off = [(text, BLOG_URL + path) for text, path in OFF_TEASERS]
    on = [(text, BLOG_URL + path) for text, path in ON_TEASERS]
    return {
        CLINIC_URL + "/": off[4:] + on,
        CLINIC_URL + "/services/ketamine": off[:2] + on[:1] + off[2:4],
        CLINIC_URL + "/conditions/depression": off + on[1:],
        CLINIC_URL + "/about": off[4:],
        BLOG_URL + "/blog/ketamine-myths": on[:1] + on[2:],
        BLOG_URL + "/blog/tms-first-week": on[1:],
    }


INJECTED_ON = [CLINIC_URL + p for p in ("/services/tms", "/services/psychotherapy", "/conditions/anxiety")]
CTA_ON = [CLINIC_URL + p for p in ("/services/tms", "/services/ketamine", "/conditions/depression", "/about")]


def page_blocks(paragraphs: list[str], teasers=(), extra_main=()) -> list[tuple]:
    """The blocks of one page, as the crawler stores them: (role, text, link_url)."""
    blocks = [("nav", NAV, None), ("header", "Harborview Behavioral Health", None)]
    blocks += [("main", text, None) for text in paragraphs]
    blocks += [("main", text, None) for text in extra_main]
    blocks += [("teaser", text, link) for text, link in teasers]
    return blocks + [("aside", SIDEBAR, None), ("footer", FOOTER, None)]


def store_crawl(con, pages: dict[str, list[str]], teasers=None, extra_main=None, lang="en",
                langs=None, status="finished") -> int:
    """A finished crawl of these pages in the store, as the crawler would leave it."""
    teasers, extra_main, langs = teasers or {}, extra_main or {}, langs or {}
    crawl = StoredCrawl(con, "harborview.test", [CLINIC_URL + "/", BLOG_URL + "/"])
    for url, paragraphs in pages.items():
        crawl.page(url, page_blocks(paragraphs, teasers.get(url, ()), extra_main.get(url, ())),
                   response=False, title=url.rsplit("/", 1)[-1], lang=langs.get(url, lang))
    return crawl.finish(status)


def full_site_extras() -> dict[str, list[str]]:
    extra: dict[str, list[str]] = {}
    for url in INJECTED_ON:
        extra.setdefault(url, []).append(INJECTED)
    for url in CTA_ON:
        extra.setdefault(url, []).append(CALL_TO_ACTION)
    return extra


@pytest.fixture
def con(tmp_path):
    connection = store.open_store(tmp_path / "audit.duckdb")
    yield connection
    connection.close()


def flags_of(con, crawl_id: int, kind: str) -> set[tuple[str, str]]:
    return set(con.execute("SELECT page_url, target FROM flags WHERE crawl_id = ? AND kind = ?",
                           [crawl_id, kind]).fetchall())


def topic_rows(con, crawl_id: int) -> dict[str, dict]:
    cur = con.execute("SELECT * FROM topics WHERE crawl_id = ? ORDER BY url", [crawl_id])
    cols = [d[0] for d in cur.description]
    return {row[1]: dict(zip(cols, row)) for row in cur.fetchall()}


# --- the plain rules ---------------------------------------------------------------------------

ENGLISH = " ".join(CLINIC["/services/tms"])
SPANISH = ("La depresión resistente al tratamiento es aquella que no mejora con dos antidepresivos. "
           "La estimulación magnética transcraneal y la ketamina ofrecen nuevas opciones para muchos "
           "pacientes que se sienten atrapados, con sesiones cortas y pocos efectos secundarios.")


@pytest.mark.parametrize("text, words, lang, site_lang, english, expected", [
    ("", 0, "en", "en", True, "no main text"),
    ("   ", 0, "en", "en", True, "no main text"),
    ("Ketamine helps.", 2, "en", "en", True, "too little main text (2 words; topics.min_words is 30)"),
    (ENGLISH, 120, "en", "en", True, None),
    (ENGLISH, 120, None, "en", True, None),
    (ENGLISH, 120, "en-US", "en", True, None),
    (SPANISH, 60, "es", "en", True, "language 'es' differs from the site's 'en'"),
    (SPANISH, 60, "en", "en", True, "text does not read as English, the site's language"),
    (SPANISH, 60, "es", "es", False, None),
    (SPANISH, 60, None, None, False, None),
])
def test_skip_reason(text, words, lang, site_lang, english, expected):
    assert topics.skip_reason(text, words, lang, site_lang, english, 30) == expected


@pytest.mark.parametrize("lang, expected", [
    (None, None), ("", None), ("  ", None), ("en", "en"), ("EN-us", "en"), ("pt_BR", "pt"),
])
def test_primary_lang(lang, expected):
    assert topics.primary_lang(lang) == expected


@pytest.mark.parametrize("text, low, high", [
    ("", 0.0, 0.0),
    ("1234 5678", 0.0, 0.0),
    (ENGLISH, 0.3, 0.6),
    (SPANISH, 0.0, 0.1),
])
def test_english_share(text, low, high):
    assert low <= topics.english_share(text) <= high


@pytest.mark.parametrize("similarities, flagged", [
    # a clinic site: on-topic pages 0.12-0.30, two drifted posts near 0
    ([0.12, 0.15, 0.18, 0.2, 0.22, 0.25, 0.28, 0.3, 0.01, 0.02], {0.01, 0.02}),
    # the same shape ten times lower (a site with a wider vocabulary): same verdicts
    ([0.012, 0.015, 0.018, 0.02, 0.022, 0.025, 0.028, 0.03, 0.001, 0.002], {0.001, 0.002}),
    # a homogeneous site: a page a little below the rest is not off topic
    ([0.5, 0.5, 0.5, 0.5, 0.5, 0.45], set()),
    # identical similarities: nothing
    ([0.3] * 8, set()),
    # a broad but unbroken spread: nothing
    ([0.05, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3], set()),
    # no shared words at all (similarity 0) is off topic
    ([0.2, 0.21, 0.22, 0.25, 0.0], {0.0}),
])
def test_off_topic_cutoff(similarities, flagged):
    typical, cutoff = topics.off_topic_cutoff(np.array(similarities))
    assert typical == pytest.approx(float(np.median(similarities)))
    assert {s for s in similarities if s < cutoff} == flagged


@pytest.mark.parametrize("pages, max_topics, expected", [
    (1, 12, 1), (2, 12, 2), (5, 12, 3), (30, 12, 6), (100_000, 12, 12), (30, 4, 4),
])
def test_topic_count(pages, max_topics, expected):
    assert topics.topic_count(pages, max_topics) == expected


@pytest.mark.parametrize("text, expected", [
    ("", ""),
    ("short  text\n here", "short text here"),
    ("x" * 200, "x" * 159 + "…"),
])
def test_quote(text, expected):
    assert topics.quote(text) == expected


@pytest.mark.parametrize("change, message", [
    ({"changed_threshold": 0.0}, "changed_threshold"),
    ({"changed_threshold": 1.5}, "changed_threshold"),
    ({"utility_share": 0.0}, "utility_share"),
    ({"max_topics": 0}, "max_topics"),
    ({"min_words": 0}, "min_words"),
])
def test_bad_options_name_the_fix(change, message):
    with pytest.raises(ConfigError, match=message):
        TopicsOptions(**change)


# --- the clinic site ---------------------------------------------------------------------------

@pytest.fixture
def clinic(con):
    crawl_id = store_crawl(con, site_pages(), site_teasers(), full_site_extras())
    counts = topics.analyse(con, crawl_id, Options())
    return con, crawl_id, counts


def test_every_off_topic_post_is_flagged_and_nothing_else(clinic):
    con, crawl_id, counts = clinic
    flagged = {url for url, _ in flags_of(con, crawl_id, "off_topic_page")}
    expected = {BLOG_URL + path for path in OFFTOPIC_POSTS}
    assert expected <= flagged
    precision = len(flagged & expected) / len(flagged)
    assert precision >= 0.9
    assert counts["off_topic_page"] == len(flagged)
    on_topic = {CLINIC_URL + p for p in CLINIC} | {BLOG_URL + p for p in ONTOPIC_POSTS}
    assert not flagged & on_topic


def test_utility_pages_are_not_drift(clinic):
    con, crawl_id, _ = clinic
    rows = topic_rows(con, crawl_id)
    for path in UTILITY:
        row = rows[CLINIC_URL + path]
        assert row["off_topic"] is None, path
        assert row["skipped_reason"].startswith("utility page"), path
        assert row["similarity"] is not None


def test_off_topic_page_finding_says_why(clinic):
    con, crawl_id, _ = clinic
    target, detail = con.execute(
        "SELECT target, detail FROM flags WHERE crawl_id = ? AND kind = 'off_topic_page' AND page_url = ?",
        [crawl_id, BLOG_URL + "/blog/oud-perfume-guide"]).fetchone()
    assert target == ""          # CONTRACT: a label changes when the model is refitted
    assert detail.startswith("words that set it apart: ") and "topic: " in detail
    assert "similarity 0.0" in detail
    assert "oud" in detail.split("words that set it apart:")[1].split(";")[0]


def test_every_off_topic_teaser_is_flagged_on_every_page_that_carries_it(clinic):
    con, crawl_id, _ = clinic
    flagged = flags_of(con, crawl_id, "off_topic_block")
    off_links = {BLOG_URL + path for _, path in OFF_TEASERS}
    expected = {(page, link) for page, teasers in site_teasers().items()
                for _, link in teasers if link in off_links}
    assert expected <= flagged
    on_links = {BLOG_URL + path for _, path in ON_TEASERS}
    assert not {(page, link) for page, link in flagged if link in on_links}


def test_injected_paragraph_is_flagged_and_site_furniture_is_not(clinic):
    con, crawl_id, _ = clinic
    rows = con.execute("SELECT page_url, target, detail FROM flags WHERE crawl_id = ? "
                       "AND kind = 'off_topic_block' AND target = ''", [crawl_id]).fetchall()
    assert {page for page, _, _ in rows} == set(INJECTED_ON)
    for _, _, detail in rows:
        assert "oud perfume guide" in detail
        assert "same block is on 3 pages" in detail
    details = " ".join(con.execute("SELECT detail FROM flags WHERE crawl_id = ?", [crawl_id]).fetchone() or [])
    for furniture in (NAV, FOOTER, SIDEBAR, CALL_TO_ACTION):
        assert furniture[:30] not in details


def test_a_repeated_teaser_reads_the_same_on_each_page(clinic):
    con, crawl_id, _ = clinic
    groups = con.execute(
        "SELECT target, count(*), count(DISTINCT detail) FROM flags WHERE crawl_id = ? "
        "AND kind = 'off_topic_block' GROUP BY target", [crawl_id]).fetchall()
    assert groups and all(n_details == 1 for _, _, n_details in groups)


def test_topics_are_labelled_and_core_is_marked(clinic):
    con, crawl_id, _ = clinic
    labels = con.execute("SELECT label, pages, is_core FROM topic_labels WHERE crawl_id = ? ORDER BY topic",
                         [crawl_id]).fetchall()
    core = " ".join(label for label, _, is_core in labels if is_core)
    drift = " ".join(label for label, _, is_core in labels if not is_core)
    assert "ketamine" in core or "depression" in core
    assert {"fragrance", "elevator", "casino"} <= set(drift.replace(",", " ").split()) | {
        w.rstrip("s") for w in drift.replace(",", " ").split()}
    rows = topic_rows(con, crawl_id)
    assert len(rows) == len(site_pages())
    for url, row in rows.items():
        if row["skipped_reason"] is None:
            assert row["topic_label"] and 0 <= row["similarity"] <= 1, url


def test_two_runs_give_identical_findings(clinic):
    con, crawl_id, counts = clinic
    query = "SELECT kind, page_url, target, severity, detail FROM flags WHERE crawl_id = ? ORDER BY ALL"
    first = con.execute(query, [crawl_id]).fetchall()
    first_topics = con.execute("SELECT * FROM topics WHERE crawl_id = ? ORDER BY url", [crawl_id]).fetchall()
    assert topics.analyse(con, crawl_id, Options()) == counts
    assert con.execute(query, [crawl_id]).fetchall() == first
    assert con.execute("SELECT * FROM topics WHERE crawl_id = ? ORDER BY url", [crawl_id]).fetchall() == first_topics


def test_severity_can_be_overridden(con):
    crawl_id = store_crawl(con, site_pages())
    topics.analyse(con, crawl_id, Options(severity={"off_topic_page": "error"}))
    assert {s for (s,) in con.execute("SELECT DISTINCT severity FROM flags WHERE crawl_id = ? "
                                      "AND kind = 'off_topic_page'", [crawl_id]).fetchall()} == {"error"}


# --- a week later --------------------------------------------------------------------------------

CRYPTO = [
    "Bitcoin prices swung sharply this week as traders weighed new exchange listings and the approval "
    "of spot crypto funds. Analysts expect volatility to continue as liquidity returns to altcoin markets.",
    "Long-term holders keep their coins in cold wallets, while day traders use leverage on derivatives "
    "exchanges. Research a token's supply schedule and the team behind it before you invest.",
    "Staking rewards, airdrops and decentralized finance yields attract new investors, but smart contract "
    "risks and rug pulls remain common.",
]
KETAMINE_REWRITE = [
    "Ketamine-assisted treatment combines carefully supervised ketamine sessions with talk therapy. People "
    "living with severe depression that has not responded to antidepressants often feel relief within a day or two.",
    "Each session happens in a private, monitored room where our nurses track vital signs such as blood "
    "pressure. Afterwards a therapist helps you integrate what came up during the session.",
    "We do not offer ketamine as a first treatment. A psychiatrist reviews your history and earlier "
    "medication trials before recommending it.",
]


def test_only_the_replaced_page_changes_topic(con):
    pages = site_pages()
    first = store_crawl(con, pages, site_teasers())
    later = dict(pages)
    later[CLINIC_URL + "/services/tms"] = CRYPTO                       # replaced
    later[CLINIC_URL + "/services/ketamine"] = KETAMINE_REWRITE        # rewritten, same topic
    later[BLOG_URL + "/blog/exercise-and-mood"] = pages[BLOG_URL + "/blog/exercise-and-mood"] + [
        "Yoga and tai chi also show benefits for anxiety and depression in several small trials."]
    del later[BLOG_URL + "/blog/grief-or-depression"]                  # gone
    later[BLOG_URL + "/blog/new-post-on-sleep"] = ONTOPIC_POSTS["/blog/anxiety-and-sleep"][::-1]  # new
    second = store_crawl(con, later, site_teasers())
    assert topics.analyse(con, first, Options())["topic_changed"] == 0
    counts = topics.analyse(con, second, Options())
    assert counts["topic_changed"] == 1
    (url, detail), = con.execute("SELECT page_url, detail FROM flags WHERE crawl_id = ? "
                                 "AND kind = 'topic_changed'", [second]).fetchall()
    assert url == CLINIC_URL + "/services/tms"
    assert f"crawl {first}" in detail and "bitcoin" in detail.split("words new:")[1] or "traders" in detail


def test_topic_changed_threshold_is_an_option(con):
    pages = site_pages()
    store_crawl(con, pages)
    later = dict(pages)
    later[CLINIC_URL + "/services/tms"] = CRYPTO
    second = store_crawl(con, later)
    options = Options(topics=TopicsOptions(changed_threshold=0.01))
    assert topics.analyse(con, second, options)["topic_changed"] == 0


def test_no_previous_finished_crawl_means_no_topic_changed(con):
    pages = site_pages()
    store_crawl(con, pages, status="interrupted")
    later = dict(pages)
    later[CLINIC_URL + "/services/tms"] = CRYPTO
    second = store_crawl(con, later)
    assert topics.analyse(con, second, Options())["topic_changed"] == 0


# --- hints ---------------------------------------------------------------------------------------

def drifted_site() -> dict[str, list[str]]:
    """Most pages of this site have drifted: four on-topic posts, five off-topic ones."""
    pages = {BLOG_URL + p: v for p, v in OFFTOPIC_POSTS.items()}
    for path in list(ONTOPIC_POSTS)[:4]:
        pages[BLOG_URL + path] = ONTOPIC_POSTS[path]
    return pages


def test_without_hints_a_drifted_majority_is_not_judged(con):
    crawl_id = store_crawl(con, drifted_site())
    assert topics.analyse(con, crawl_id, Options())["off_topic_page"] == 0
    reasons = {row["skipped_reason"] for row in topic_rows(con, crawl_id).values()}
    assert len(reasons) == 1 and reasons.pop().startswith("no dominant topic")


@pytest.mark.parametrize("hints", [
    {"core_keywords": ["depression", "therapy", "psychiatrist"]},
    {"core_urls": [BLOG_URL + "/blog/ketamine-myths", BLOG_URL + "/blog/tms-first-week",
                   "HTTP://BLOG.HARBORVIEW.TEST/blog/what-is-treatment-resistant-depression"]},
])
def test_hints_name_the_core_when_the_majority_drifted(con, hints):
    crawl_id = store_crawl(con, drifted_site())
    topics.analyse(con, crawl_id, Options(topics=TopicsOptions(**hints)))
    flagged = {url for url, _ in flags_of(con, crawl_id, "off_topic_page")}
    assert flagged == {BLOG_URL + p for p in OFFTOPIC_POSTS}


def test_hints_come_from_the_config_file(con, tmp_path):
    config = tmp_path / "audit.toml"
    config.write_text('[topics]\ncore_keywords = ["depression", "therapy", "psychiatrist"]\n'
                      "changed_threshold = 0.4\n", encoding="utf-8")
    options = load_config(config)
    assert options.topics.changed_threshold == 0.4
    crawl_id = store_crawl(con, drifted_site())
    topics.analyse(con, crawl_id, options)
    assert {url for url, _ in flags_of(con, crawl_id, "off_topic_page")} == {BLOG_URL + p for p in OFFTOPIC_POSTS}


def test_hints_that_match_nothing_fall_back_to_the_site(con):
    crawl_id = store_crawl(con, site_pages())
    hints = TopicsOptions(core_keywords=["zzzz"], core_urls=["http://elsewhere.test/"])
    topics.analyse(con, crawl_id, Options(topics=hints))
    assert {u for u, _ in flags_of(con, crawl_id, "off_topic_page")} == {BLOG_URL + p for p in OFFTOPIC_POSTS}


# --- bad input -----------------------------------------------------------------------------------

def test_a_site_of_one_page(con):
    crawl_id = store_crawl(con, {CLINIC_URL + "/": CLINIC["/"]})
    assert topics.analyse(con, crawl_id, Options()) == dict.fromkeys(topics.KINDS, 0)
    (row,) = topic_rows(con, crawl_id).values()
    assert row["off_topic"] is None and row["skipped_reason"].startswith("too few pages")


def test_a_site_of_identical_pages(con):
    pages = {f"{CLINIC_URL}/copy/{i}": CLINIC["/services/tms"] for i in range(6)}
    crawl_id = store_crawl(con, pages)
    assert topics.analyse(con, crawl_id, Options()) == dict.fromkeys(topics.KINDS, 0)
    # text repeated on three pages or more is site furniture, so these pages have no main text
    assert {r["skipped_reason"] for r in topic_rows(con, crawl_id).values()} == {"no main text"}


def test_two_identical_pages_among_others_are_judged_alike(con):
    pages = site_pages()
    pages[BLOG_URL + "/blog/tms-first-week-copy"] = pages[BLOG_URL + "/blog/tms-first-week"]
    crawl_id = store_crawl(con, pages)
    topics.analyse(con, crawl_id, Options())
    rows = topic_rows(con, crawl_id)
    assert rows[BLOG_URL + "/blog/tms-first-week-copy"]["off_topic"] is False
    assert rows[BLOG_URL + "/blog/tms-first-week"]["off_topic"] is False


def test_pages_with_no_text(con):
    pages = site_pages()
    pages[CLINIC_URL + "/gallery"] = []
    pages[CLINIC_URL + "/short"] = ["Call us."]
    crawl_id = store_crawl(con, pages)
    topics.analyse(con, crawl_id, Options())
    rows = topic_rows(con, crawl_id)
    assert rows[CLINIC_URL + "/gallery"]["skipped_reason"] == "no main text"
    assert rows[CLINIC_URL + "/short"]["skipped_reason"].startswith("too little main text (2 words")
    assert rows[CLINIC_URL + "/gallery"]["similarity"] is None


def test_a_crawl_with_no_pages(con):
    crawl_id = store_crawl(con, {})
    assert topics.analyse(con, crawl_id, Options()) == dict.fromkeys(topics.KINDS, 0)


def test_a_site_of_numbers(con):
    pages = {f"{CLINIC_URL}/prices/{i}": [" ".join(str(i * 1000 + j) for j in range(40))] for i in range(6)}
    crawl_id = store_crawl(con, pages, lang=None)
    assert topics.analyse(con, crawl_id, Options()) == dict.fromkeys(topics.KINDS, 0)


def test_a_site_where_half_the_pages_are_off_topic(con):
    pages = {BLOG_URL + p: v for p, v in OFFTOPIC_POSTS.items()}
    pages.update({BLOG_URL + p: v for p, v in list(ONTOPIC_POSTS.items())[:5]})
    crawl_id = store_crawl(con, pages)
    assert topics.analyse(con, crawl_id, Options())["off_topic_page"] == 0
    assert all(r["skipped_reason"].startswith("no dominant topic") for r in topic_rows(con, crawl_id).values())


def test_a_non_english_page_among_english_ones(con):
    pages = site_pages()
    pages[CLINIC_URL + "/es/depresion"] = [SPANISH, SPANISH.replace("depresión", "ansiedad")]
    pages[CLINIC_URL + "/es/tms"] = [SPANISH.replace("ketamina", "terapia"), SPANISH]
    crawl_id = store_crawl(con, pages, langs={CLINIC_URL + "/es/depresion": "es"})
    topics.analyse(con, crawl_id, Options())
    rows = topic_rows(con, crawl_id)
    assert rows[CLINIC_URL + "/es/depresion"]["skipped_reason"] == "language 'es' differs from the site's 'en'"
    assert rows[CLINIC_URL + "/es/tms"]["skipped_reason"] == "text does not read as English, the site's language"
    flagged = {url for url, _ in flags_of(con, crawl_id, "off_topic_page")}
    assert flagged == {BLOG_URL + p for p in OFFTOPIC_POSTS}


def test_a_site_in_another_language(con):
    words = {"es": "depresión terapia tratamiento ansiedad pacientes clínica psiquiatra sesiones",
             "off": "perfume fragancia notas madera ámbar oud botella aroma"}
    pages = {}
    for i in range(8):
        text = " ".join(f"La {w} es parte del {w} y de la {w} en nuestra clínica." for w in words["es"].split()[i % 4:])
        pages[f"{CLINIC_URL}/es/{i}"] = [text]
    pages[f"{CLINIC_URL}/es/perfume"] = [" ".join(f"El {w} y la {w} del {w}." for w in words["off"].split())]
    crawl_id = store_crawl(con, pages, lang="es")
    counts = topics.analyse(con, crawl_id, Options())
    assert counts["off_topic_page"] <= 1
    rows = topic_rows(con, crawl_id)
    assert all(r["skipped_reason"] is None for r in rows.values())


# --- scoring one text against a stored crawl (recheck) ------------------------------------------

def test_score_text_judges_a_fresh_text_like_the_crawl(con):
    crawl_id = store_crawl(con, site_pages())
    topics.analyse(con, crawl_id, Options())
    stored = topic_rows(con, crawl_id)[BLOG_URL + "/blog/oud-perfume-guide"]
    perfume = topics.score_text(con, crawl_id, "\n".join(OFFTOPIC_POSTS["/blog/oud-perfume-guide"]), Options())
    assert perfume["off_topic"] is True
    assert perfume["topic_label"] == stored["topic_label"]
    assert "oud" in perfume["distinctive_words"]
    clinic = topics.score_text(con, crawl_id, "\n".join(CLINIC["/services/ketamine"]), Options())
    assert clinic["off_topic"] is False and clinic["similarity"] > perfume["similarity"]
    assert clinic["cutoff"] == pytest.approx(perfume["cutoff"])
    privacy = topics.score_text(con, crawl_id, "\n".join(UTILITY["/privacy"]), Options())
    assert privacy["off_topic"] is None and privacy["reason"].startswith("utility page")
    short = topics.score_text(con, crawl_id, "Ketamine works.", Options())
    assert short["off_topic"] is None and short["reason"].startswith("too little main text")


def test_score_text_on_an_empty_crawl(con):
    crawl_id = store_crawl(con, {})
    result = topics.score_text(con, crawl_id, ENGLISH, Options())
    assert result["off_topic"] is None and result["reason"]


# --- end to end: crawl the site on loopback, analyse, a week later crawl again -----------------

def _title(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].replace("-", " ").capitalize() or "Home"


def render(path: str, paragraphs: list[str], teasers=(), extra_main=(), blog_index=()) -> str:
    """One page of the served site: header and menu, the article, teasers, a sidebar, a footer."""
    menu = "".join(f'<li><a href="{{{{host:clinic}}}}{p}">{_title(p)}</a></li>' for p in CLINIC)
    menu += '<li><a href="{{host:blog}}/">Blog</a></li>'
    body = "".join(f"<p>{text}</p>" for text in list(paragraphs) + list(extra_main))
    listing = "".join(f'<li><a href="{{{{host:blog}}}}{p}">{_title(p)}</a></li>' for p in blog_index)
    if listing:
        body += f"<ul class='post-list'>{listing}</ul>"
    cards = "".join(f'<p class="teaser">{text.removesuffix("Read More")}<a href="{link}">Read More</a></p>'
                    for text, link in teasers)
    teaser_section = f'<section class="teasers" aria-label="More from our blog">{cards}</section>' if cards else ""
    footer_links = "".join(f'<a href="{{{{host:clinic}}}}{p}">{_title(p)}</a> ' for p in UTILITY)
    return (f"<!doctype html><html lang='en'><head><title>{_title(path)} | Harborview</title></head><body>"
            f"<header class='site-header'><p>Harborview Behavioral Health</p><nav><ul>{menu}</ul></nav></header>"
            f"<main><article><h1>{_title(path)}</h1>{body}</article>{teaser_section}</main>"
            f"<aside class='sidebar'><p>{SIDEBAR}</p></aside>"
            f"<footer><p>{FOOTER}</p><p>{footer_links}</p></footer></body></html>")


def served_site(content: dict[str, list[str]]):
    """Hosts for SiteServer: `content` maps 'clinic:/path' or 'blog:/path' to paragraphs and is
    read at each request, so a test can change a page between two crawls."""
    off = [(text, "{{host:blog}}" + path) for text, path in OFF_TEASERS]
    on = [(text, "{{host:blog}}" + path) for text, path in ON_TEASERS]
    teasers = {"clinic:/": off[4:] + on, "clinic:/services/ketamine": off[:2] + on[:1] + off[2:4],
               "clinic:/conditions/depression": off + on[1:], "clinic:/about": off[4:],
               "blog:/blog/ketamine-myths": on[:1] + on[2:], "blog:/blog/tms-first-week": on[1:]}
    extra = {"clinic:" + url.removeprefix(CLINIC_URL): texts for url, texts in full_site_extras().items()}

    def route(key: str):
        return lambda info: Route.html(render(key.split(":", 1)[1], content[key], teasers.get(key, ()),
                                              extra.get(key, ())))

    posts = list(ONTOPIC_POSTS) + list(OFFTOPIC_POSTS)
    clinic = {path: route("clinic:" + path) for path in list(CLINIC) + list(UTILITY)}
    blog = {path: route("blog:" + path) for path in posts}
    blog["/"] = lambda info: Route.html(render("/blog", ["Articles from the clinicians of Harborview."],
                                               blog_index=posts))
    return {"clinic": HostSpec(routes=clinic), "blog": HostSpec(routes=blog)}


def test_crawl_a_clinic_site_and_its_blog_then_a_week_later(tmp_path):
    content = {"clinic:" + p: v for p, v in {**CLINIC, **UTILITY}.items()}
    content.update({"blog:" + p: v for p, v in {**ONTOPIC_POSTS, **OFFTOPIC_POSTS}.items()})
    db = tmp_path / "audit.duckdb"
    with SiteServer(served_site(content)) as server:
        clinic, blog = server.base_url("clinic"), server.base_url("blog")
        for week in (1, 2):
            if week == 2:
                content["clinic:/services/tms"] = CRYPTO
            crawl = run_cli("crawl", clinic + "/", blog + "/", "--db", str(db), "--site", "harborview",
                            "-q", cwd=tmp_path)
            assert crawl.returncode == 0, crawl.stderr

    con = store.open_store(db)
    try:
        first, second = (cid for (cid,) in con.execute("SELECT crawl_id FROM crawls ORDER BY 1").fetchall())
        for crawl_id in (first, second):
            topics.analyse(con, crawl_id, Options())
        findings = ("SELECT kind, page_url, target, detail FROM flags WHERE crawl_id = ? AND kind IN "
                    "('off_topic_page', 'off_topic_block', 'topic_changed') ORDER BY ALL")
        mine = con.execute(findings, [second]).fetchall()
    finally:
        con.close()

    flagged = {u for (u,) in query(db, "SELECT page_url FROM flags WHERE crawl_id = ? AND kind = "
                                       "'off_topic_page'", [first])}
    off_posts = {blog + p for p in OFFTOPIC_POSTS}
    assert off_posts <= flagged
    assert len(flagged & off_posts) / len(flagged) >= 0.9
    assert not flagged & ({clinic + p for p in CLINIC} | {blog + p for p in ONTOPIC_POSTS})

    blocks = set(query(db, "SELECT page_url, target FROM flags WHERE crawl_id = ? AND kind = "
                           "'off_topic_block'", [first]))
    carriers = {"/": [4], "/services/ketamine": [0, 1, 2, 3], "/conditions/depression": [0, 1, 2, 3, 4],
                "/about": [4]}
    expected = {(clinic + page, blog + OFF_TEASERS[i][1]) for page, teasers in carriers.items() for i in teasers}
    assert expected <= blocks
    assert {(clinic + page, "") for page in ("/services/tms", "/services/psychotherapy",
                                             "/conditions/anxiety")} <= blocks
    on_links = {blog + path for _, path in ON_TEASERS}
    assert not {target for _, target in blocks} & on_links
    furniture = query(db, "SELECT count(*) FROM flags f JOIN blocks b ON b.crawl_id = f.crawl_id "
                          "AND b.page_url = f.page_url AND f.detail LIKE '“' || left(b.text, 40) || '%' "
                          "WHERE f.crawl_id = ? AND f.kind = 'off_topic_block' "
                          "AND b.role IN ('nav', 'header', 'footer')", [first])
    assert furniture == [(0,)]

    changed = query(db, "SELECT page_url FROM flags WHERE crawl_id = ? AND kind = 'topic_changed'", [second])
    assert changed == [(clinic + "/services/tms",)]

    # the CLI runs this analysis too, with the same findings
    again = run_cli("analyse", "--db", str(db), "--site", "harborview", "-q", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert query(db, findings.replace("?", str(second))) == mine
