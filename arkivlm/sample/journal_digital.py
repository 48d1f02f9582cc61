"""Real material for the default run: SRT files of the `journal-digital` package (public speech
transcripts and OCR'd intertitles of Swedish newsreels, 1907-1966) copied into the archive.

The package lays its corpus out as `corpus/{speech,intertitle}/<collection>/<year>/<file>.srt`;
the copy keeps that layout under `<root>/journal_digital/`, so a source's `date_from_path` can read
the year from the path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

KINDS = ("speech", "intertitle")


def package_corpus() -> Path:
    """The package's corpus folder, found without importing the package (its import wants
    python-dotenv, which it is installed without: requirements-data.txt)."""
    import importlib.util

    spec = importlib.util.find_spec("journal_digital")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("journal-digital is not installed: pip install --no-deps -r requirements-data.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "corpus"


def copy_slice(dest: str | Path, years: list[int] | None = None, collections: list[str] | None = None) -> dict:
    """Copy the selected years and collections (all when None); returns files copied per kind."""
    src, dest = package_corpus(), Path(dest)
    counts = {}
    for kind in KINDS:
        n = 0
        for path in sorted((src / kind).glob("*/*/*.srt")):
            collection, year = path.parent.parent.name, path.parent.name
            if collections and collection not in collections:
                continue
            if years and not (year.isdigit() and int(year) in years):
                continue
            target = dest / kind / collection / year / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            n += 1
        counts[kind] = n
    return counts
