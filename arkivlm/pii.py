"""PII redaction: Swedish personal identity and coordination numbers, phone numbers, e-mail (also
when written to dodge harvesters: `namn(at)kommun.se`, `namn snabel-a kommun punkt se`), in each
document's text and title.

Identity numbers are accepted in every spelling (10 or 12 digits; `-`, `+` or nothing before the
last four) only when the date part is a real date (day + 60 for coordination numbers) and the
Luhn check digit is right, so that dates, ISBNs, SFS numbers and other numbers stay.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re

from arkivlm.tables import with_int_columns

PLACEHOLDERS = {
    "personnummer": "[PERSONNUMMER]",
    "samordningsnummer": "[SAMORDNINGSNUMMER]",
    "email": "[E-POST]",
    "phone": "[TELEFON]",
}
PII_TYPES = tuple(PLACEHOLDERS)

# YYMMDD or YYYYMMDD, then `-`, `+` (over 100 years old), an en dash, a space or nothing, then four digits.
_ID_NUMBER = re.compile(r"(?<![\w+-])((?:18|19|20)?)(\d{2})(\d{2})(\d{2})(\s?[-+\u2013]\s?|\s)?(\d{3})(\d)(?![\w-]|[ \u2013-]\d)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}(?![\w-])")
# An address written to dodge harvesters: the at-sign spelled out or bracketed (`(at)`, `[at]`,
# `(a)`, `snabel-a`) or with spaces around it, the dots of the domain perhaps as `(punkt)`, ` dot `.
# A bare ` at ` is English too (`look at www.kb.se`): it counts only beside a dotted local part
# (`anna.berg at kommun.se`) or a spelled-out dot (`info at kommun dot se`). The domain must end in
# a country code or a common generic top-level domain, so a file name (`bilaga(a)2020.pdf`) or a
# list item (`Svensson (a) ordförande.`) stays.
_OBF_LOCAL = r"(?<![\w.+-])[a-z0-9][\w.+-]*(?<![.+-])"
_OBF_AT = r"(?:\s*@\s*|\s*[(\[{]\s*(?:at|a|@|snabel-?a)\s*[)\]}]\s*|\s+snabel-?a\s+)"
_OBF_SPELLED_DOT = r"(?:\s*[(\[{]\s*(?:dot|punkt)\s*[)\]}]\s*|\s+(?:dot|punkt)\s+)"
_OBF_DOT = r"(?:\.|" + _OBF_SPELLED_DOT + ")"
_OBF_LABEL = r"[a-z0-9åäö](?:[a-z0-9åäö-]{0,61}[a-z0-9åäö])?"
_OBF_TLD = r"(?:[a-z]{2}|com|org|net|info|nu|biz|edu|gov|int)(?![\w-])"
_OBF_DOMAIN = "(?:" + _OBF_LABEL + _OBF_DOT + ")+" + _OBF_TLD
_OBFUSCATED_EMAIL = re.compile(
    _OBF_LOCAL + _OBF_AT + _OBF_DOMAIN
    + r"|(?<![\w.+-])[a-z0-9][\w+-]*(?:\.[\w+-]+)+(?<![.+-])\s+at\s+" + _OBF_DOMAIN
    + "|" + _OBF_LOCAL + r"\s+at\s+(?:" + _OBF_LABEL + _OBF_DOT + ")*" + _OBF_LABEL + _OBF_SPELLED_DOT + _OBF_TLD,
    re.IGNORECASE)
_OBFUSCATION_HINT = re.compile(r"[(\[{]\s*(?:at|a|@|snabel-?a)\s*[)\]}]|\s(?:at|snabel-?a)\s|\s@|@\s", re.IGNORECASE)

# A Swedish number: country or trunk prefix + area code, then the subscriber's digits; or a foreign
# number after `+`. Written as
#   (?<![\w+(])(?:(?:\+|00)46<area>|0[1-9]\d{0,2}|\(0[1-9]\d{0,2}\))<tail>
#   |(?<![\w+])\+(?!46)\d{1,3}[\s-]?\d{1,4}(?:[\s-]?\d{2,4}){2,4}(?![\w-])
# but with each alternative starting on its first character (`+`, `0` or `(`) and the look-behind
# moved after it: re then skips to those characters instead of trying every position of a
# transcript (ten times faster, the same matches; tests/test_pii.py compares the two).
_PHONE_TAIL = r"(?:\s?[-/\u2013]\s?|\s)?\d{2,4}(?:[\s-]?\d{2,4}){1,3}(?![\w-])"
_PHONE_AREA = r"[\s-]?(?:\(0\)[\s-]?)?[1-9]\d{0,2}"
_PHONE = re.compile(
    r"\+(?:(?<![\w+(]\+)46" + _PHONE_AREA + _PHONE_TAIL +
    r"|(?<![\w+]\+)(?!46)\d{1,3}[\s-]?\d{1,4}(?:[\s-]?\d{2,4}){2,4}(?![\w-]))"
    r"|0(?<![\w+(]0)(?:046" + _PHONE_AREA + r"|[1-9]\d{0,2})" + _PHONE_TAIL +
    r"|\((?<![\w+(]\()0[1-9]\d{0,2}\)" + _PHONE_TAIL)

_SIX_DIGITS = re.compile(r"\d{6}")
_DIGIT = re.compile(r"\d")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _id_kind(m: re.Match) -> str | None:
    century, yy, mm, dd, _sep, serial, check = m.groups()
    day = int(dd)
    kind = "personnummer"
    if day > 60:
        kind, day = "samordningsnummer", day - 60
    # Without a century any leap day may be real: check against a leap year then.
    year = int(century + yy) if century else (2000 if int(yy) % 4 == 0 else 2001)
    try:
        dt.date(year, int(mm), day)
    except ValueError:
        return None
    return kind if luhn_ok(yy + mm + dd + serial + check) else None


def redact(text: str) -> tuple[str, dict[str, int]]:
    counts = dict.fromkeys(PII_TYPES, 0)

    def id_sub(m):
        kind = _id_kind(m)
        if kind is None:
            return m.group(0)
        counts[kind] += 1
        return PLACEHOLDERS[kind]

    def sub(kind):
        def f(m):
            digits = sum(ch.isdigit() for ch in m.group(0))
            if kind == "phone" and not 8 <= digits <= 15:
                return m.group(0)
            counts[kind] += 1
            return PLACEHOLDERS[kind]
        return f

    # Each pattern runs only where it could redact something (the three scans are most of the
    # stage's time, and most documents hold none of them): an identity number holds six digits in a
    # row, an address an `@`, a phone number that is redacted at least eight digits (all matched by `\d`).
    if _SIX_DIGITS.search(text):
        text = _ID_NUMBER.sub(id_sub, text)
    if "@" in text:
        text = _EMAIL.sub(sub("email"), text)
    if _OBFUSCATION_HINT.search(text):
        text = _OBFUSCATED_EMAIL.sub(sub("email"), text)
    if next(itertools.islice(_DIGIT.finditer(text), 7, None), None) is not None:  # stops at the eighth
        text = _PHONE.sub(sub("phone"), text)
    return text, counts


def pii_partition(batches, settings: dict | None = None):
    """The stage over batches of documents (it has no settings of its own yet)."""
    import pandas as pd

    for pdf in batches:
        texts, titles, per_type = [], [], {k: [] for k in PII_TYPES}
        for t, title in zip(pdf["text"], pdf["title"]):
            new, counts = redact(t)
            if isinstance(title, str) and title:  # titles reach the corpus and the model card too
                title, title_counts = redact(title)
                counts = {k: counts[k] + title_counts[k] for k in PII_TYPES}
            texts.append(new)
            titles.append(title)
            for k in PII_TYPES:
                per_type[k].append(counts[k])
        out = pdf.assign(text=texts, title=titles, **{f"pii_{k}": pd.array(v, dtype="Int32") for k, v in per_type.items()},
                         drop_reason=None, drop_detail=None)
        yield with_int_columns(out)


def transform(docs, settings: dict | None = None):
    """`docs` redacted, with counts per PII type (`pii_<type>`) and a null `drop_reason` (lazily)."""
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    schema = StructType(docs.schema.fields + [StructField(f"pii_{k}", IntegerType()) for k in PII_TYPES]
                        + [StructField("drop_reason", StringType()), StructField("drop_detail", StringType())])
    return docs.mapInPandas(lambda it: pii_partition(it, settings), schema)


def run(spark, settings: dict, in_docs: str, out_docs: str, out_dropped: str, out_stats: str) -> dict:
    docs = spark.read.parquet(in_docs)
    docs_in = docs.count()
    return finish(transform(docs).persist(), settings, docs_in, out_docs, out_dropped, out_stats)


def finish(result, settings: dict, docs_in: int, out_docs: str | None, out_dropped: str, out_stats: str,
           persist: bool = True) -> dict:
    """The stage's outputs from `result` (what `transform` gives); `persist`, `out_docs=None`: as in
    `arkivlm.tables.finish_stage`."""
    from pyspark.sql import functions as F

    from arkivlm.tables import finish_stage

    per_source = {r["source"]: {k: int(r[k] or 0) for k in PII_TYPES} for r in
                  result.groupBy("source").agg(*[F.sum(f"pii_{k}").alias(k) for k in PII_TYPES]).collect()}
    sums = {**{f"pii_redacted/{k}": F.col(f"pii_{k}") for k in PII_TYPES},
            **{f"docs_with_pii/{k}": (F.col(f"pii_{k}") > 0).cast("int") for k in PII_TYPES}}
    stats = finish_stage(result, stage="pii", docs_in=docs_in, out_docs=out_docs, out_dropped=out_dropped,
                         out_stats=out_stats, extra_stats={"pii_by_source": per_source},
                         drop_columns=tuple(f"pii_{k}" for k in PII_TYPES), sums=sums, persist=persist)
    return stats
