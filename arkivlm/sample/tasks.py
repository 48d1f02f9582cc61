"""The bundled Swedish task set (`tasks/sv/`), built from real text: the speech transcripts of the
`journal-digital` package (Swedish newsreels), from years the sample archive does not copy.

- `sv_word_order`: minimal pairs, a real sentence against the same words with two neighbours
  swapped; the model should give the real one the higher likelihood (as BLiMP does).
- `sv_cloze`: the first part of a real sentence, then the right word among three distractors of
  neighbouring frequency rank in the same transcripts, each followed by the rest of the sentence.

Everything is chosen by hashes of the text, so a rebuild gives the same files byte for byte
(`python -m arkivlm.sample.tasks tasks/sv`; a test checks the committed files against one).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

YEARS = (1921, 1925, 1929, 1933, 1941, 1950, 1955, 1960)  # not the sample's 1915, 1938, 1945
ITEMS = 200
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ])")
TOKEN = re.compile(r"\w+|[^\w\s]")
PLAIN_WORD = re.compile(r"[a-zåäöé]+")

WORD_ORDER_YAML = """\
# Minimal pairs from real newsreel speech (arkivlm/sample/tasks.py): the sentence as spoken against the
# same words with two neighbours swapped. A model that knows Swedish word order prefers the first.
task: sv_word_order
dataset_path: json
dataset_kwargs:
  data_files:
    test: sv_word_order.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: ""
target_delimiter: ""
doc_to_choice: "{{[good, bad]}}"
doc_to_target: 0
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""

CLOZE_YAML = """\
# Cloze items from real newsreel speech (arkivlm/sample/tasks.py): the start of a sentence, then the
# word that was spoken among three of neighbouring frequency, each followed by the rest of the sentence.
task: sv_cloze
dataset_path: json
dataset_kwargs:
  data_files:
    test: sv_cloze.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "{{context}}"
doc_to_choice: "{{choices}}"
doc_to_target: "{{answer}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def _key(*parts: str) -> str:
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).hexdigest()


def transcripts(years=YEARS) -> list[tuple[str, str]]:
    """(file name, text) of every speech transcript of `years`: the cues of each SRT file joined."""
    import srt

    from arkivlm.sample.journal_digital import package_corpus

    out = []
    for path in sorted((package_corpus() / "speech").glob("*/*/*.srt")):
        if not (path.parent.name.isdigit() and int(path.parent.name) in years):
            continue
        try:
            cues = list(srt.parse(path.read_text(encoding="utf-8")))
        except (srt.SRTParseError, UnicodeDecodeError, ValueError):
            continue
        out.append((path.name, " ".join(" ".join(c.content.split()) for c in cues)))
    return out


def sentences(texts: list[tuple[str, str]]) -> list[str]:
    """Plain sentences of 10 to 25 words: a capital first, one full stop last, only letters,
    commas and spaces between; each once."""
    seen, out = set(), []
    for _name, text in texts:
        for s in SENTENCE_END.split(text):
            s = s.strip()
            body = s[:-1]
            if not (s.endswith(".") and s[:1].isupper() and re.fullmatch(r"[\wÅÄÖåäöé ,]+", body)):
                continue
            if any(ch.isdigit() or ch == "_" for ch in body) or not 10 <= len(body.split()) <= 25:
                continue
            if s not in seen:
                seen.add(s)
                out.append(s)
    return out


def word_order_item(sentence: str) -> dict | None:
    """The sentence and the same words with two neighbouring lower-case words swapped (not the
    first word, so capitals stay in place); the pair is chosen by the sentence's hash."""
    ws = sentence[:-1].split(" ")
    spots = [i for i in range(1, len(ws) - 1) if PLAIN_WORD.fullmatch(ws[i]) and PLAIN_WORD.fullmatch(ws[i + 1])
             and ws[i] != ws[i + 1]]
    if not spots:
        return None
    i = spots[int(_key("swap", sentence), 16) % len(spots)]
    ws[i], ws[i + 1] = ws[i + 1], ws[i]
    return {"good": sentence, "bad": " ".join(ws) + "."}


def cloze_item(sentence: str, rank: dict[str, int], by_rank: list[str]) -> dict | None:
    """The start of `sentence` up to a word of four or more letters (from the fifth word on), that
    word among three distractors of neighbouring frequency rank, the rest of the sentence after each."""
    ws = sentence.split(" ")
    spots = [i for i in range(4, len(ws) - 1) if PLAIN_WORD.fullmatch(ws[i]) and len(ws[i]) >= 4 and ws[i] in rank]
    if not spots:
        return None
    i = spots[int(_key("gap", sentence), 16) % len(spots)]
    word, r = ws[i], rank[ws[i]]
    near = [w for w in by_rank[max(0, r - 12):r + 13] if w != word and len(w) >= 4]
    near.sort(key=lambda w: _key("distractor", sentence, w))
    if len(near) < 3:
        return None
    rest = " ".join(ws[i + 1:])
    options = sorted([word, *near[:3]], key=lambda w: _key("order", sentence, w))
    return {"context": " ".join(ws[:i]), "choices": [f"{w} {rest}" for w in options], "answer": options.index(word),
            "word": word}


def build(out_dir: str | Path, items: int = ITEMS) -> dict:
    """Write both tasks (YAML + JSON Lines) into `out_dir`; returns the items per task."""
    out_dir = Path(out_dir)
    texts = transcripts()
    counts = Counter(w for _n, t in texts for w in re.findall(r"\w+", t) if PLAIN_WORD.fullmatch(w))
    by_rank = [w for w, _c in sorted(counts.items(), key=lambda kv: (-kv[1], _key("rank", kv[0]))) if PLAIN_WORD.fullmatch(w)]
    rank = {w: i for i, w in enumerate(by_rank)}
    pool = sorted(sentences(texts), key=lambda s: _key("pick", s))
    pairs, cloze = [], []
    for n, s in enumerate(pool):
        if n % 2 == 0 and len(pairs) < items and (item := word_order_item(s)):
            pairs.append(item)
        elif n % 2 == 1 and len(cloze) < items and (item := cloze_item(s, rank, by_rank)):
            cloze.append(item)
        if len(pairs) >= items and len(cloze) >= items:
            break
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows, yaml_text in (("sv_word_order", pairs, WORD_ORDER_YAML), ("sv_cloze", cloze, CLOZE_YAML)):
        (out_dir / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                               encoding="utf-8")
        (out_dir / f"{name}.yaml").write_text(yaml_text, encoding="utf-8")
    return {"sv_word_order": len(pairs), "sv_cloze": len(cloze), "sentences": len(pool), "transcripts": len(texts)}


if __name__ == "__main__":
    import sys

    print(json.dumps(build(sys.argv[1] if len(sys.argv) > 1 else "tasks/sv")))
