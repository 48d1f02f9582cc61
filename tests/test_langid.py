import random

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
