"""What the corpus keeps and loses, line by line, on hand-labelled real OCR text.

bench/labels/intertitle_lines.tsv: 300 OCR lines drawn at random (seed 12) from the 123,979 lines of
journal-digital's OCR'd intertitles (an OCR line = a tab-separated segment of a cue), each labelled
by hand: S (Swedish text worth keeping, fragments and names included), G (OCR garbage), F (another
language). `kept_before` records whether the line reached the corpus before the lines stage
existed (commit c213036, where every decision was made on the whole file: a line was kept exactly
when its file was).

    python -m bench.line_labels results_journal_digital

reads a run of configs/journal_digital.yaml and counts, for the same lines, what the corpus keeps
now: a line is kept when its file's document is in the corpus and the line is not in
`lines_removed/`.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import pandas as pd

LABELS = Path(__file__).parent / "labels" / "intertitle_lines.tsv"


def table(labels: pd.DataFrame, kept: pd.Series) -> dict:
    out = {}
    for label, name in (("S", "Swedish"), ("G", "garbage"), ("F", "foreign")):
        mask = labels.label == label
        out[name] = {"lines": int(mask.sum()), "kept": int((kept & mask).sum())}
    return out


def normal(text: str) -> str:
    """The line as the clean stage leaves it, for matching: whitespace folded, quotes uncurled (ftfy)."""
    return " ".join(text.split()).translate(str.maketrans({"”": '"', "“": '"', "„": '"', "’": "'", "‘": "'"}))


def after(labels: pd.DataFrame, results: str) -> pd.Series:
    r = Path(results)
    corpus = pd.concat([pd.read_parquet(r / "corpus" / s, columns=["path"]) for s in ("train", "validation")])
    in_corpus = {p.split("/journal_digital/", 1)[-1] for p in corpus.path}
    removed = pd.read_parquet(r / "lines_removed", columns=["path", "text"])
    removed_by_path = collections.defaultdict(collections.Counter)
    for path, text in zip(removed.path, removed.text):
        removed_by_path[path.split("/journal_digital/", 1)[-1]][normal(text)] += 1
    kept = []
    for path, text in zip(labels.path, labels.text):
        line = normal(text)
        kept.append(path in in_corpus and removed_by_path[path][line] == 0)
    return pd.Series(kept, index=labels.index)


def main(results: str) -> None:
    labels = pd.read_csv(LABELS, sep="\t", quoting=3, keep_default_na=False, dtype={"text": str})
    before = table(labels, labels.kept_before.astype(bool))
    now = table(labels, after(labels, results))
    print("| label | lines | kept before | kept now |")
    print("|---|---|---|---|")
    for name in before:
        print(f"| {name} | {before[name]['lines']} | {before[name]['kept']} | {now[name]['kept']} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results_journal_digital")
