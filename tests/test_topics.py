"""Tests of analysis/topics.py: the plain rules as tables, the analysis on a clinic site it has
never seen (stored rows in a real DuckDB file), bad input, and a crawl of that site end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import topics
from crawler import store
from crawler.config import Options, TopicsOptions
from crawler.errors import ConfigError
from crawler.extract import count_words, text_hash

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
