import random
import re

import pytest

from arkivlm.langid import SwedishClassifier
from arkivlm.sample import text as T


@pytest.fixture(scope="module")
def clf():
    return SwedishClassifier({})


SV = ("Regeringen har beslutat att en ny bro ska byggas över älven under de kommande åren. "
      "Många invånare är oroliga för att sjukhuset ska läggas ned och kräver besked av politikerna.")


def test_swedish_kept(clf):
    (res,) = clf.judge([SV])
    assert res[5] is None and res[1] == "sv" and res[2] > 0.9


@pytest.mark.parametrize("lang", ["no", "da", "en"])
def test_neighbours_dropped(clf, lang):
    text = T.decoy_paragraph(random.Random(1), lang, 4)
    (res,) = clf.judge([text])
    assert res[0] is None and res[5] == f"not_swedish:{lang}"


MIXED = ("Regeringen har beslutat att en ny bro ska byggas. "
         "Regjeringen har bestemt at det skal bygges en ny vei mellom byene.")


@pytest.mark.parametrize("settings, kept", [({}, True), ({"margin": 0.8}, False), ({"threshold": 0.9}, False)])
def test_threshold_and_margin_over_norwegian(settings, kept):
    (res,) = SwedishClassifier(settings).judge([MIXED])
    assert 0.5 < res[2] < 0.9 and res[1] == "sv"
    assert (res[5] is None) == kept
    if not kept:
        assert res[5] == "low_swedish_confidence"


def test_swedish_page_with_danish_advertisement_keeps_its_swedish(clf):
    rng = random.Random(3)
    swedish = [T.news_paragraph(rng, 5) for _ in range(4)]
    danish = T.decoy_paragraph(rng, "da", 5)
    page = "\n\n".join(swedish[:2] + [danish] + swedish[2:])
    (res,) = clf.judge([page])
    assert res[5] is None and res[4] == 1
    assert res[0] == "\n\n".join(swedish)


def test_danish_page_with_swedish_snippet_is_dropped(clf):
    rng = random.Random(4)
    page = "\n\n".join([T.decoy_paragraph(rng, "da", 6) for _ in range(3)] + [T.news_paragraph(rng, 3)])
    (res,) = clf.judge([page])
    assert res[0] is None and res[5] == "not_swedish:da"


def test_lines_mostly_in_capitals_are_found_as_counting_each_line_would():
    """`lid_text` finds the lines to lower-case for the whole text at once; it must pick the lines
    that counting `str.isupper` and `str.islower` line by line picks: random lines of upper and
    lower case letters (Swedish, Greek, title case, characters beyond the Basic Multilingual
    Plane), digits, spaces and empty lines."""
    from arkivlm.langid import lid_text

    def reference(text):
        if re.search(r"[A-ZÅÄÖÉÜ]{3}", text):
            text = "\n".join(line.lower() if sum(map(str.isupper, line)) > sum(map(str.islower, line)) else line
                             for line in text.split("\n"))
        return " ".join(text.split())

    rng = random.Random(7)
    alphabet = "ABCÅÄÖÉabcåäöé ΣΑσα ǅ 0123 \n\n.,ⒶⓐÆæ"
    checked = lowered = 0
    for n in range(3000):
        chars = alphabet + ("𝐀𝐚" if n % 10 == 0 else "")
        text = "".join(rng.choice(chars) for _ in range(rng.randrange(0, 60))) + "ÅÄÖ" * (n % 2)
        assert lid_text(text) == reference(text), repr(text)
        checked += 1
        lowered += lid_text(text) != " ".join(text.split())
    assert lowered > 300, lowered
