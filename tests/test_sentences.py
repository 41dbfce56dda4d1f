"""Sentence splitting on web copy: the seed article's habits, abbreviations, numbers, lists."""

from __future__ import annotations

import pytest

from analysis.sentences import split_sentences


@pytest.mark.parametrize("text, expected", [
    ("", []),
    ("   \n \n", []),
    ("One sentence.", ["One sentence."]),
    ("No full stop at all", ["No full stop at all"]),
    # the seed's fragments are sentences of their own
    ("Understanding how the therapy works. And how to access it safely. Can empower individuals.",
     ["Understanding how the therapy works.", "And how to access it safely.", "Can empower individuals."]),
    # a full stop after a space still ends the sentence
    ("Many patients report improved motivation . Symptoms that medications often miss.",
     ["Many patients report improved motivation .", "Symptoms that medications often miss."]),
    # titles and dotted abbreviations
    ("Dr. Patel and Mrs. Smith work at the U.S. Food and Drug Administration. They agree.",
     ["Dr. Patel and Mrs. Smith work at the U.S. Food and Drug Administration.", "They agree."]),
    ("Ask about side effects, e.g. nausea, i.e. feeling sick. Then rest.",
     ["Ask about side effects, e.g. nausea, i.e. feeling sick.", "Then rest."]),
    ("It costs approx. 400 dollars vs. 600 elsewhere. Call us.",
     ["It costs approx. 400 dollars vs. 600 elsewhere.", "Call us."]),
    ("See Fig. 3 and No. 5 on p. 12 of the leaflet. Thanks.",
     ["See Fig. 3 and No. 5 on p. 12 of the leaflet.", "Thanks."]),
    ("John F. Kennedy signed it. Take vitamin D. It helps.",
     ["John F. Kennedy signed it.", "Take vitamin D.", "It helps."]),
    ("We open at 9 a.m. and close at 5 p.m. Call us before then.",
     ["We open at 9 a.m. and close at 5 p.m.", "Call us before then."]),
    ("Bring forms, cards etc. Then relax.", ["Bring forms, cards etc.", "Then relax."]),
    # decimals, web addresses, e-mail
    ("The dose is 0.5 mg per kg. It lasts 40 min.", ["The dose is 0.5 mg per kg.", "It lasts 40 min."]),
    ("Visit www.village-tms.com or mail info@clinic.org today. We reply fast.",
     ["Visit www.village-tms.com or mail info@clinic.org today.", "We reply fast."]),
    # teaser endings: the ellipsis ends the teaser, the link label goes
    ("Few fragrance ingredients carry the mystique, depth, and global prestige...Read More",
     ["Few fragrance ingredients carry the mystique, depth, and global prestige..."]),
    ("Oud perfume has become one of the most sought-after fragrance…Read more »",
     ["Oud perfume has become one of the most sought-after fragrance…"]),
    ("As buildings grow taller... Continue reading", ["As buildings grow taller..."]),
    ("Read More is the label of this button", ["Read More is the label of this button"]),
    # headings and list items without full stops: the line ends the sentence
    ("How ketamine works\nIt acts on glutamate. It acts fast.\n- Ask your doctor\n- Bring a friend",
     ["How ketamine works", "It acts on glutamate.", "It acts fast.", "- Ask your doctor", "- Bring a friend"]),
    ("1. Talk to your doctor.\n2. Book a visit.", ["1. Talk to your doctor.", "2. Book a visit."]),
    # questions, exclamations, quotes, glued sentences, ellipses inside a sentence
    ("Is it safe? Yes! It is.", ["Is it safe?", "Yes!", "It is."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("Why? because it hurt.", ["Why? because it hurt."]),
    ("It works.And it is safe.", ["It works.", "And it is safe."]),
    ("Wait… what happened… Nothing.", ["Wait… what happened…", "Nothing."]),
    # all caps
    ("DR. SMITH SAYS THE DOSE IS 2.5 MG. TAKE IT DAILY",
     ["DR. SMITH SAYS THE DOSE IS 2.5 MG.", "TAKE IT DAILY"]),
    # other scripts and emoji pass through whole
    ("这是一个句子。这是另一个。", ["这是一个句子。这是另一个。"]),
    ("We love it 😀. You will too 🎉!", ["We love it 😀.", "You will too 🎉!"]),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_sentences_are_quoted_exactly_as_written():
    text = "First  line with  double spaces.  Second one.\nThird"
    for sentence in split_sentences(text):
        assert sentence in text


def test_a_huge_line_splits_in_linear_time():
    import time
    text = "Patients may feel better after a few sessions. " * 20_000 + "And" + " word" * 100_000
    start = time.perf_counter()
    sentences = split_sentences(text)
    assert len(sentences) == 20_001
    assert time.perf_counter() - start < 5
