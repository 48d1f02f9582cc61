"""Dates as the archive gives them -> ISO: `YYYY-MM-DD`, `YYYY-MM` or `YYYY` (null when none).

Where a date comes from, in order: the source's `date_from_path` (a regex over the file's path
whose first group is a year or an ISO date: what the collection's own layout says), then the
file's metadata (METS `dateIssued` beside an ALTO page, Whisper JSON and JSON Lines fields, HTML
metadata), then a date written in the file name (`2021-03-04`, `20210304`).
"""

from __future__ import annotations

import datetime as dt
import re

_ISO = re.compile(r"(1[4-9]\d\d|20\d\d)(?:[-./]?(0[1-9]|1[0-2])(?:[-./]?(0[1-9]|[12]\d|3[01]))?)?")
_IN_NAME = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])(?!\d)")
# Metadata field names that hold a publication or recording date, most specific first.
DATE_FIELDS = ("date", "date_issued", "dateIssued", "published", "publication_date", "broadcast_date", "recorded",
               "recording_date", "created", "year")


def normalize_date(value) -> str | None:
    """A year, an ISO date or a datetime string (or an int year) -> ISO date, month or year."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = str(int(value))
    if not isinstance(value, str):
        return None
    m = _ISO.match(value.strip())
    if not m:
        return None
    year, month, day = m.groups()
    if day:
        try:
            dt.date(int(year), int(month), int(day))
        except ValueError:
            return f"{year}-{month}"
        return f"{year}-{month}-{day}"
    return f"{year}-{month}" if month else year


def date_from_fields(obj: dict) -> str | None:
    """The first metadata field (top level or under `metadata`) that holds a date."""
    for holder in (obj, obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}):
        for key in DATE_FIELDS:
            if key in holder and (d := normalize_date(holder[key])):
                return d
    return None


def date_in_name(path: str) -> str | None:
    m = _IN_NAME.search(path.rsplit("/", 1)[-1])
    return normalize_date("-".join(m.groups())) if m else None


def date_from_path(pattern: re.Pattern | None, path: str) -> str | None:
    if pattern is None:
        return None
    m = pattern.search(path)
    return normalize_date(m.group(1)) if m and m.groups() else None


def decade_of(date: str | None) -> int | None:
    return int(date[:3]) * 10 if date and date[:4].isdigit() else None
