"""What paragraph-level language ID costs Swedish text: every journal-digital transcript and OCR'd
intertitle (real Swedish, 1907-1966) cut into blocks the size of a newspaper paragraph, judged by
the lines stage's block rule (arkivlm.lines, `ocr.block_lid*`), counting the Swedish blocks it
would remove. Blocks of planted foreign text (the sample's Danish and Norwegian pools, a German
notice) are judged beside them, for the rule's other side.

    python -m bench.block_lid [--lines-per-block 4]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import srt


def blocks_of(kind: str, lines_per_block: int) -> list[list[str]]:
    from arkivlm.sample.journal_digital import package_corpus

    out = []
    for path in sorted((package_corpus() / kind).glob("*/*/*.srt")):
        try:
            cues = [" ".join(c.content.split()) for c in srt.parse(path.read_text(encoding="utf-8"))]
        except (srt.SRTParseError, UnicodeDecodeError, ValueError):
            continue
        cues = [c for c in cues if c]
        out.extend(cues[i:i + lines_per_block] for i in range(0, len(cues), lines_per_block))
    return out


def judge(blocks: list[list[str]], settings: dict | None = None, only: set[int] | None = None
          ) -> tuple[int, Counter, list[str], float]:
    """(blocks long enough to judge, removed blocks by language, examples, seconds) for blocks of
    lines put on OCR pages of 20 blocks each; `only`: the indices of the blocks counted."""
    from arkivlm.lines import LineJudge

    judge = LineJudge({"ocr": {**(settings or {}), "min_line_confidence": 0.0}})
    docs = [{"text": "\n\n".join("\n".join(b) for b in blocks[i:i + 20]), "modality": "text", "format": "txt",
             "ocr": True, "line_conf": None} for i in range(0, len(blocks), 20)]
    s = judge.s["ocr"]
    judged = sum(1 for n, b in enumerate(blocks) if len(" ".join(b)) >= s["block_lid_min_chars"]
                 and " ".join(b).count(" ") + 1 >= s["block_lid_min_words"] and (only is None or n in only))
    removed, examples = Counter(), []
    t0 = time.perf_counter()
    for k in range(0, len(docs), 500):
        for page, r in enumerate(judge.judge_batch(docs[k:k + 500]), k):
            by_block: dict = {}
            for _, reason, line, block in r[2]:
                if block is not None and (only is None or page * 20 + block in only):
                    by_block.setdefault(block, (reason, []))[1].append(line)
            for reason, lines in by_block.values():
                removed[reason] += 1
                examples.append(f"{reason}: {' / '.join(lines)}")
    return judged, removed, examples, time.perf_counter() - t0


def markdown(result: dict) -> str:
    out = ["## Paragraph-level language ID on real Swedish (bench/block_lid.py)\n",
           "Every journal-digital transcript and OCR'd intertitle (real Swedish, 1907-1966) cut into blocks of four cues, "
           "twenty blocks to an OCR page, judged by the lines stage's block rule at its defaults; beside them, blocks of "
           "planted Danish and Norwegian (generated: the sample archive's pools).\n",
           "| text | blocks | long enough to judge | removed | share of judged | by language | seconds |", "|---|---|---|---|---|---|---|"]
    for kind in ("speech", "intertitle", "planted_foreign"):
        r = result[kind]
        langs = ", ".join(f"{k.removeprefix('not_swedish:')} {n}" for k, n in list(r["removed_by_reason"].items())[:8])
        share = f"{r['removed'] / max(r['judged'], 1):.2%}"
        out.append(f"| {kind} | {r['blocks']:,} | {r['judged']:,} | {r['removed']:,} | {share} | {langs} | {r.get('seconds', '-')} |")
    out += ["", "The first removed blocks of each kind, to be read (the rest: `python -m bench.block_lid`):", ""]
    for kind in ("speech", "intertitle"):
        out += [f"- {kind}: " + "; ".join(f"`{e[:110]}`" for e in result[kind]["examples"][:6])]
    return "\n".join(out) + "\n"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines-per-block", type=int, default=4)
    p.add_argument("--examples", type=int, default=400, help="removed blocks listed per kind, to be read")
    args = p.parse_args(argv)
    from arkivlm.sample import text as T
    import random

    rng = random.Random(0)
    foreign = [[T.decoy_paragraph(rng, lang, 3)] for lang in ("da", "no") for _ in range(100)]
    result = {}
    for kind in ("speech", "intertitle"):
        blocks = blocks_of(kind, args.lines_per_block)
        if kind == "speech":  # the planted blocks each go on a page of real Swedish: every other block
            mixed = [b for pair in zip(blocks[::97], foreign) for b in pair]
        judged, removed, examples, seconds = judge(blocks)
        result[kind] = {"blocks": len(blocks), "judged": judged, "removed": sum(removed.values()),
                        "removed_share_of_judged": round(sum(removed.values()) / max(judged, 1), 5),
                        "removed_by_reason": dict(removed.most_common()), "seconds": round(seconds, 1),
                        "examples": examples[:args.examples]}
    judged, removed, _, _ = judge(mixed, only=set(range(1, len(mixed), 2)))
    result["planted_foreign"] = {"blocks": len(foreign), "judged": judged, "removed": sum(removed.values()),
                                 "removed_by_reason": dict(removed.most_common())}
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return result


if __name__ == "__main__":
    main()
