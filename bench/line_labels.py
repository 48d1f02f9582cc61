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
`lines_removed/`. bench/labels/intertitle_lines_heldout.tsv holds 150 more lines (seed 13), labelled
after the thresholds were chosen on the first 300. A line removed as `repeated_line` or `repeated_card` is counted apart (the same
text is kept once in its document: the card was OCR'd from several frames).
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import pandas as pd

LABELS = Path(__file__).parent / "labels" / "intertitle_lines.tsv"
# 150 more lines (seed 13, none of the first 300), labelled after the rules were settled: never used to tune them
HELDOUT = Path(__file__).parent / "labels" / "intertitle_lines_heldout.tsv"


REPEATS = ("repeated_line", "repeated_card")


def table(labels: pd.DataFrame, fate: pd.Series) -> dict:
    """Per label: lines, kept, and (now) removed only as a repeat of text kept in the same document."""
    out = {}
    for label, name in (("S", "Swedish"), ("G", "garbage"), ("F", "foreign")):
        mask = labels.label == label
        out[name] = {"lines": int(mask.sum()), "kept": int(((fate == "kept") & mask).sum()),
                     "repeat": int(((fate == "repeat") & mask).sum())}
    return out


def relative(path: str) -> str:
    """`.../intertitle/sf/1915/x.srt` wherever the package was copied to."""
    i = path.rfind("/intertitle/")
    return path[i + 1:] if i >= 0 else path


def normal(text: str) -> str:
    """The line as the clean stage leaves it, for matching: whitespace folded, quotes uncurled (ftfy)."""
    return " ".join(text.split()).translate(str.maketrans({"”": '"', "“": '"', "„": '"', "’": "'", "‘": "'"}))


def after(labels: pd.DataFrame, results: str) -> pd.Series:
    r = Path(results)
    corpus = pd.concat([pd.read_parquet(r / "corpus" / s, columns=["path"]) for s in ("train", "validation")])
    in_corpus = {relative(p) for p in corpus.path}
    removed = pd.read_parquet(r / "lines_removed", columns=["path", "text", "reason"])
    removed_by_path = collections.defaultdict(dict)
    for path, text, reason in zip(removed.path, removed.text, removed.reason):
        removed_by_path[relative(path)].setdefault(normal(text), reason)
    fate = []
    for path, text in zip(labels.path, labels.text):
        reason = removed_by_path[path].get(normal(text))
        fate.append("lost" if path not in in_corpus else "kept" if reason is None else
                    "repeat" if reason in REPEATS else "lost")
    return pd.Series(fate, index=labels.index)


def markdown(results: str, labels_file: Path = LABELS) -> str:
    labels = pd.read_csv(labels_file, sep="\t", quoting=3, keep_default_na=False, dtype={"text": str})
    before = table(labels, labels.kept_before.map({1: "kept", 0: "lost"}))
    now = table(labels, after(labels, results))
    rows = ["| label | lines | kept before (whole-file decisions) | kept now (line by line) | now removed as a repeat of a kept line or card |",
            "|---|---|---|---|---|"]
    for name in before:
        rows.append(f"| {name} | {before[name]['lines']} | {before[name]['kept']} | {now[name]['kept']} | {now[name]['repeat']} |")
    return "\n".join(rows) + "\n"


def main(results: str) -> None:
    print(f"{LABELS.name} (300 lines; the line thresholds were chosen on it):\n")
    print(markdown(results))
    print(f"{HELDOUT.name} (150 held-out lines):\n")
    print(markdown(results, HELDOUT))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results_journal_digital")
