import random

import pytest

from arkivlm import pii
from arkivlm.pii import luhn_ok, redact
from arkivlm.sample import text as T


@pytest.mark.parametrize("number", [
    "811218-9876", "8112189876", "19811218-9876", "198112189876", "811218+9876", "18811218+9876",
])
def test_personnummer_in_every_spelling(number):
    text, counts = redact(f"Sökande: Anna, pnr {number}, bor i Umeå.")
    assert counts["personnummer"] == 1 and "[PERSONNUMMER]" in text and number not in text


def test_coordination_number():
    text, counts = redact("Samordningsnummer 701063-2391 utfärdat.")
    assert counts["samordningsnummer"] == 1 and text == "Samordningsnummer [SAMORDNINGSNUMMER] utfärdat."


@pytest.mark.parametrize("text", [
    "Lagen (SFS 2018:218) trädde i kraft 2018-05-25.",
    "ISBN 978-91-7424-123-4 och ISBN 91-7424-123-4.",
    "Mötet hölls 1998-04-12 kl. 14.30 i sal 4.",
    "Ordernummer 811218-9875 (fel kontrollsiffra).",
    "Organisationsnummer 556036-0793.",
    "Befolkningen var 10 234 567 år 2019.",
    "Datum 19981312-1234 finns inte.",
])
def test_look_alikes_stay(text):
    new, counts = redact(text)
    assert new == text and sum(counts.values()) == 0


@pytest.mark.parametrize("phone", ["070-123 45 67", "08-123 456 78", "+46 70 123 45 67", "0046701234567",
                                   "031-7123456", "+44 20 7946 0958", "+46 (0)8 123 456 78"])
def test_phone_numbers(phone):
    text, counts = redact(f"Ring {phone} efter klockan åtta.")
    assert counts["phone"] == 1 and text == "Ring [TELEFON] efter klockan åtta.", text


def test_email():
    text, counts = redact("Skriv till anna.lindqvist@kb.se eller info+arkiv@exempel.nu.")
    assert counts["email"] == 2 and text == "Skriv till [E-POST] eller [E-POST]."


def test_generated_numbers_are_found_and_valid():
    rng = random.Random(5)
    for _ in range(200):
        number = T.personnummer(rng, coordination=rng.random() < 0.3)
        assert luhn_ok("".join(ch for ch in number if ch.isdigit())[-10:])
        _, counts = redact(f"nr {number}.")
        assert counts["personnummer"] + counts["samordningsnummer"] == 1, number


def test_the_scans_skipped_where_nothing_can_match_change_nothing():
    """`redact` runs each pattern only where it could redact: the same text and counts as running
    all three everywhere, on real-looking text and on random strings of digits and separators."""
    import random

    def every_scan(text):
        counts = dict.fromkeys(pii.PII_TYPES, 0)

        def id_sub(m):
            kind = pii._id_kind(m)
            if kind:
                counts[kind] += 1
            return pii.PLACEHOLDERS[kind] if kind else m.group(0)

        def phone_or_email(kind):
            def f(m):
                if kind == "phone" and not 8 <= sum(ch.isdigit() for ch in m.group(0)) <= 15:
                    return m.group(0)
                counts[kind] += 1
                return pii.PLACEHOLDERS[kind]
            return f

        text = pii._ID_NUMBER.sub(id_sub, text)
        text = pii._EMAIL.sub(phone_or_email("email"), text)
        return pii._PHONE.sub(phone_or_email("phone"), text), counts

    rng = random.Random(7)
    texts = ["Ring 08-123 45 67 eller +46 8 123 45 67, mejla a.b@kb.se. Pnr 19121212-1212 och 121212-1212.",
             "Tel 0701234567, ٠٧٠١٢٣٤٥٦٧ och 123456 7", "+1 202 555 0143", "08-12 34 56", "Året 1937 och 1938."]
    texts += ["".join(rng.choice("0123456789 -+()@.ab\n٣") for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    assert [pii.redact(t) for t in texts] == [every_scan(t) for t in texts]
    assert pii.redact(texts[0])[1] == {"personnummer": 2, "samordningsnummer": 0, "email": 1, "phone": 2}


def test_the_phone_pattern_matches_what_its_plain_spelling_matches():
    """`_PHONE` is the pattern below with each alternative starting on its first character (for
    speed): the same matches, on real-looking text and on random strings of what phone numbers are
    made of (prefixes, separators, letters and other digits around them)."""
    import random
    import re

    plain = re.compile(
        r"(?<![\w+(])(?:(?:\+|00)46[\s-]?(?:\(0\)[\s-]?)?[1-9]\d{0,2}|0[1-9]\d{0,2}|\(0[1-9]\d{0,2}\))"
        r"(?:\s?[-/\u2013]\s?|\s)?\d{2,4}(?:[\s-]?\d{2,4}){1,3}(?![\w-])"
        r"|(?<![\w+])\+(?!46)\d{1,3}[\s-]?\d{1,4}(?:[\s-]?\d{2,4}){2,4}(?![\w-])")
    rng = random.Random(11)
    pieces = list("0123456789" * 3) + list(" -+()/\u2013\nå_.,x٣") + ["46", "0046", "+46", "(0)", "(08)", "070", " 12", "00"]
    texts = ["Ring 08-123 45 67, (08) 123 45 67 eller +46 (0)8 123 45 67 och 0046701234567; +1 202 555 0143.",
             "a+46 8 123 45 67 x08-123 45 67 ((08) 123 45 67 +0046 70 123 45 67"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 30))) for _ in range(100_000)]
    found = 0
    for t in texts:
        expected = [m.span() for m in plain.finditer(t)]
        assert [m.span() for m in pii._PHONE.finditer(t)] == expected, t
        found += bool(expected)
    assert found > 1000  # the strings do hold phone numbers


# E-mail addresses written to dodge harvesters, as Swedish public bodies write them on their pages
# (municipalities, agencies, parishes, associations): the at-sign bracketed or spelled out, `(a)`
# for `@`, `snabel-a` (the Swedish name of the sign), spaces around it, the dots spelled `punkt`/`dot`.
@pytest.mark.parametrize("address", [
    "registrator(at)kommun.se", "registrator[at]kommun.se", "registrator{at}kommun.se", "registrator (at) kommun.se",
    "registrator [at] kommun.se", "registrator(a)kommun.se", "registrator (a) kommun.se", "registrator(@)kommun.se",
    "registrator @ kommun.se", "registrator@ kommun.se", "registrator(snabel-a)kommun.se",
    "registrator snabel-a kommun punkt se", "registrator snabel-a kommun.se",
    "anna.berg(at)skatteverket.se", "anna.berg at skatteverket.se", "info at kommun dot se",
    "info [at] kommun [dot] se", "info (at) kommun (punkt) se", "kansli(at)forsamling.svenskakyrkan.se",
    "Kundtjanst(AT)Myndigheten.SE", "info(at)förening.nu", "per.olsson(at)lansstyrelsen.org",
])
def test_obfuscated_email_addresses_redacted(address):
    text, counts = redact(f"Frågor besvaras av {address}, helst före fredag.")
    assert counts["email"] == 1 and text == "Frågor besvaras av [E-POST], helst före fredag.", text


@pytest.mark.parametrize("text", [
    "Möte kl. 10 (a) Stadshuset.", "Se bilaga(a)2020.pdf för detaljer.", "Anna Svensson (a) ordförande. Sedan kom hon.",
    "Svar (a) ja (b) nej.", "Pris: 5 st @ 15 kr.", "Följ oss på @kommunen och @kb_se.", "We met at the station.",
    "Please look at www.kb.se for details.", "Punkt 3 a) och b) gäller.", "Läs mer at kb.se, sa han på engelska.",
    "Avgiften är 100 kr per punkt se tabell 2.", "Han var at home (at) last.",
])
def test_look_alikes_of_obfuscated_addresses_stay(text):
    new, counts = redact(text)
    assert new == text and counts["email"] == 0, new


def test_obfuscated_addresses_of_the_sample_archive_all_redacted():
    rng = random.Random(3)
    for _ in range(200):
        address = T.obfuscated_email(rng)
        text, counts = redact(f"Kontakta {address} i dag.")
        assert counts["email"] == 1 and text == "Kontakta [E-POST] i dag.", address
