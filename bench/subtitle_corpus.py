"""A generated archive of broadcast subtitles for the performance benchmarks.

Shard `sNN` holds `files_per_shard` episodes (SRT, a fifth of them WebVTT); the archive at scale
k is shards s00..s(k-1), so 1x, 4x and 16x share their files and have the same mix:
- most episodes are distinct dialogue: template sentences (names, places, numbers filled in) and
  free word sequences drawn with Zipf weights from the sample vocabulary, so that unrelated
  episodes share few character 5-grams, as real subtitles do;
- 8% are reruns of an earlier episode of the same shard (new timings: an exact duplicate once
  the cues are joined), 4% are edited reruns (a few cues cut, a few words changed: a near
  duplicate), 4% are Norwegian or Danish subtitles, 1% English. A foreign cue is a sentence of
  its language's words (wordfreq's list, Zipf-weighted), new in every cue as dialogue is: drawn
  from a pool of a dozen sentences, the same cues recurred across episodes and clean's
  boilerplate rule emptied those episodes before language ID saw them;
- each series has its intro and credit cues (subtitle boilerplate).
Each shard's planted label per file (original, rerun, edited, no, da, en) is written beside it
(`sNN.labels.json`), so that what each tool kept can be counted per label. Deterministic: the
same seed gives the same bytes.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

from arkivlm.sample import text as T
from arkivlm.sample.archive import timed, write_srt, write_vtt

FILES_PER_SHARD = 12_500
GENERATOR_VERSION = 2  # shards written by another version are written again
SERIES = ["Rapport", "Aktuellt", "Agenda", "Uppdrag granskning", "Go'kväll", "Antikrundan", "Sverige idag",
          "Kulturnyheterna", "Morgonstudion", "Landet runt", "Fråga doktorn", "Vetenskapens värld"]
_FOREIGN = {"no": T.NORWEGIAN, "da": T.DANISH, "en": T.ENGLISH}
_WORDFREQ = {"no": "nb", "da": "da", "en": "en"}


def swedish_vocabulary() -> list[str]:
    """Every Swedish word of the sample generators, in a fixed order (decoy lists left out)."""
    seen: dict[str, None] = {}
    skip = {id(v) for v in _FOREIGN.values()}
    for name in sorted(dir(T)):
        value = getattr(T, name)
        if not isinstance(value, list) or id(value) in skip:
            continue
        for item in value:
            for s in item if isinstance(item, tuple) else (item,):
                if isinstance(s, str):
                    for w in re.findall(r"[^\W\d_]+", s.lower()):
                        seen.setdefault(w, None)
    return [w for w in seen if len(w) > 1 or w in ("i", "å")]


class EpisodeWriter:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.vocab = swedish_vocabulary()
        self.rng.shuffle(self.vocab)
        self.weights = [1.0 / (rank + 1) for rank in range(len(self.vocab))]
        self.bag = T.TemplateBag(self.rng, T.DIALOGUE, T.NEWS_TEMPLATES, T.SPEECH_TEMPLATES, T.RADIO_TEMPLATES)
        self.foreign_words = {}

    def free_sentence(self) -> str:
        words = self.rng.choices(self.vocab, self.weights, k=self.rng.randint(4, 11))
        return T._cap(" ".join(words)) + self.rng.choice([".", ".", ".", "?", "!"])

    def cue(self) -> str:
        line = self.bag.next() if self.rng.random() < 0.35 else self.free_sentence()
        r = self.rng.random()
        if r < 0.15:
            return f"- {line}\n- {self.free_sentence()}"
        if r < 0.22:
            return f"<i>{line}</i>"
        return line

    def episode(self, series: str, n_cues: int) -> list[str]:
        intro = [f"♪ {series} ♪", "Textning: Svensk Medietext för SVT"]
        credits = ["Översättning: Karin Berg", "Svensk Medietext", "www.svt.se/textning"]
        return intro + [self.cue() for _ in range(n_cues)] + credits

    def foreign(self, language: str, n_cues: int) -> list[str]:
        if language not in self.foreign_words:
            import wordfreq

            words = [w for w in wordfreq.top_n_list(_WORDFREQ[language], 5000) if w.isalpha()]
            self.foreign_words[language] = (words, [1.0 / (rank + 1) for rank in range(len(words))])
        words, weights = self.foreign_words[language]
        return [T._cap(" ".join(self.rng.choices(words, weights, k=self.rng.randint(4, 11)))) + self.rng.choice([".", ".", "?", "!"])
                for _ in range(n_cues)]

    def edited(self, cues: list[str]) -> list[str]:
        out = [c for c in cues if self.rng.random() > 0.04]
        for _ in range(2):
            i = self.rng.randrange(len(out))
            words = out[i].split(" ")
            words[self.rng.randrange(len(words))] = self.rng.choice(self.vocab)
            out[i] = " ".join(words)
        return out


def write_shard(root: Path, shard: int, files: int, seed: int) -> int:
    """Write one shard and its labels; returns its word count."""
    w = EpisodeWriter(seed * 1000 + shard)
    rng, aired, words, labels = w.rng, [], 0, {}
    out = root / f"s{shard:02d}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for i in range(files):
        series = SERIES[i % len(SERIES)]
        r = rng.random()
        if r < 0.08 and aired:
            cues, label = rng.choice(aired), "rerun"
        elif r < 0.12 and aired:
            cues, label = w.edited(rng.choice(aired)), "edited"
        elif r < 0.16:
            label = rng.choice(["no", "da"])
            cues = w.foreign(label, rng.randint(13, 24))
        elif r < 0.17:
            cues, label = w.foreign("en", rng.randint(13, 24)), "en"
        else:
            cues, label = w.episode(series, rng.randint(13, 24)), "original"
            aired.append(cues)
        words += sum(len(c.split()) for c in cues)
        timing = timed(cues, rng, start=rng.uniform(1.0, 30.0))
        name = f"{series.lower().replace(' ', '_').replace(chr(39), '')}_{shard:02d}_{i:06d}"
        if i % 5 == 4:
            name = f"{name}.vtt"
            write_vtt(out / name, timing, rng)
        else:
            name = f"{name}.srt"
            write_srt(out / name, timing)
        labels[f"s{shard:02d}/{name}"] = label
    (root / f"s{shard:02d}.labels.json").write_text(json.dumps(labels, sort_keys=True))
    return words


def ensure(root: str | Path, shards: int, files_per_shard: int = FILES_PER_SHARD, seed: int = 8) -> dict:
    """Write shards s00..s(shards-1) under `root` unless there from this generator version; -> {shard: words}."""
    root = Path(root)
    words = {}
    for shard in range(shards):
        done = root / f"s{shard:02d}.done"
        stamp = {"version": GENERATOR_VERSION, "files": files_per_shard, "seed": seed}
        current = json.loads(done.read_text()) if done.exists() and done.read_text().startswith("{") else {}
        if {k: current.get(k) for k in stamp} != stamp:
            done.write_text(json.dumps({**stamp, "words": write_shard(root, shard, files_per_shard, seed)}))
        words[shard] = json.loads(done.read_text())["words"]
    return words


def labels(root: str | Path, scale: int) -> dict[str, str]:
    """{path relative to root: planted label} of the archive at `scale`."""
    out = {}
    for shard in range(scale):
        out.update(json.loads((Path(root) / f"s{shard:02d}.labels.json").read_text()))
    return out


SHARD_GLOBS = {1: ["s00"], 2: ["s0[01]"], 4: ["s0[0-3]"], 8: ["s0[0-7]"], 16: ["s0[0-9]", "s1[0-5]"],
               64: ["s[0-5][0-9]", "s6[0-3]"]}


def sources(root: str | Path, scale: int) -> list[dict]:
    """The config `sources` for the archive at `scale` (shards s00..s(scale-1), whatever else the root holds)."""
    if scale not in SHARD_GLOBS:
        raise ValueError(f"scale must be one of {sorted(SHARD_GLOBS)}")
    return [{"name": f"svt_{fmt}" + (f"_{i}" if i else ""), "modality": "subtitle", "format": fmt,
             "path": f"{root}/{shard_glob}/*.{fmt}", "rights": "public"}
            for fmt in ("srt", "vtt") for i, shard_glob in enumerate(SHARD_GLOBS[scale])]
