"""The second peer: the same corpus built with Hugging Face's datatrove, as a data engineer at the
library would build it with that tool. Runs in its own virtual environment (bench/.venv-datatrove,
`make bench-venv-datatrove`; datatrove is not a dependency of the project):

    bench/.venv-datatrove/bin/python bench/datatrove_corpus.py --spec SPEC.json --work DIR

SPEC.json (written by bench/corpus.py): {"root": archive root, "paths": [files relative to root],
"lid_model": path of lid.176, "stop_words": [...], "min_doc_words": n, "workers": n}.

Pipeline, each part datatrove's own class:
1. a reader for SRT and WebVTT on `BaseDiskReader` (`srt`, `webvtt-py`, tags stripped),
   `LanguageFilter` (lid.176 from the local model file, Swedish at 0.65), `GopherRepetitionFilter`
   and `GopherQualityFilter` (language swe: spaCy's blank Swedish tokenizer, the project's Swedish
   stop words and minimum words), a JSONL writer, `MinhashDedupSignature`;
2. `MinhashDedupBuckets`; 3. `MinhashDedupCluster`; 4. `MinhashDedupFilter`, a Parquet writer.
`LocalPipelineExecutor` with as many workers as cores, a fresh logging folder each run (it skips
tasks it finds completed in an existing one). Prints one JSON line of counts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import time
from pathlib import Path

TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")


def main(argv: list[str] | None = None) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter, LanguageFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.readers.base import BaseDiskReader
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
    from datatrove.utils.lid import FT176LID
    from datatrove.utils.typeshelper import Languages

    p = argparse.ArgumentParser()
    p.add_argument("--spec", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args(argv)
    spec = json.loads(Path(args.spec).read_text())
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "paths.txt").write_text("\n".join(spec["paths"]) + "\n")
    workers = int(spec["workers"])

    class SubtitleReader(BaseDiskReader):
        name = "SRT/WebVTT"

        def read_file(self, filepath: str):
            import srt
            import webvtt

            try:
                with self.data_folder.open(filepath, "r", encoding="utf-8-sig") as fh:
                    raw = fh.read()
                if filepath.endswith(".vtt"):
                    text = "\n".join(c.text for c in webvtt.from_string(raw))
                else:
                    text = "\n".join(s.content for s in srt.parse(raw))
            except Exception:
                self.stat_update("unreadable")
                return
            yield self.get_document_from_dict({"text": TAGS.sub("", text), "id": filepath}, filepath, 0)

    class LocalFT176(FT176LID):
        """lid.176 from the local file: datatrove's FT176LID would download it."""

        @property
        def model(self):
            if self._model is None:
                from datatrove.utils._import_utils import check_required_dependencies

                check_required_dependencies("lid", [("fasttext", "fasttext-numpy2-wheel")])
                from fasttext.FastText import _FastText

                self._model = _FastText(spec["lid_model"])
            return self._model

    language_filter = LanguageFilter(languages=["sv"], language_threshold=0.65)
    language_filter.model = LocalFT176(["sv"])
    minhash = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8)
    swe = Languages.swedish
    d = {name: str(work / name) for name in ("filtered", "signatures", "buckets", "remove_ids", "output", "logs")}
    tasks = workers

    stages = [
        LocalPipelineExecutor(pipeline=[
            SubtitleReader(spec["root"], paths_file=str(work / "paths.txt")),
            language_filter,
            GopherRepetitionFilter(language=swe),
            GopherQualityFilter(language=swe, stop_words=spec["stop_words"], min_doc_words=spec["min_doc_words"]),
            JsonlWriter(d["filtered"], compression=None),
            MinhashDedupSignature(output_folder=d["signatures"], config=minhash, language=swe),
        ], tasks=tasks, workers=workers, logging_dir=f"{d['logs']}/signatures", skip_completed=False),
        LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=d["signatures"], output_folder=d["buckets"], config=minhash)],
                              tasks=minhash.num_buckets, workers=workers, logging_dir=f"{d['logs']}/buckets", skip_completed=False),
        LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=d["buckets"], output_folder=d["remove_ids"], config=minhash)],
                              tasks=1, workers=1, logging_dir=f"{d['logs']}/cluster", skip_completed=False),
        LocalPipelineExecutor(pipeline=[
            JsonlReader(d["filtered"], compression=None),
            MinhashDedupFilter(input_folder=d["remove_ids"]),
            ParquetWriter(d["output"]),
        ], tasks=tasks, workers=workers, logging_dir=f"{d['logs']}/filter", skip_completed=False),
    ]
    t0 = time.perf_counter()
    for stage in stages:
        stage.run()
    seconds = time.perf_counter() - t0

    def step_stats(log: str) -> list[dict]:
        return json.loads((Path(d["logs"]) / log / "stats.json").read_text())

    first, last = step_stats("signatures"), step_stats("filter")

    def counted(steps: list[dict], name_part: str, key: str) -> int:
        step = next(s for s in steps if name_part in s["name"])
        return int(step["stats"].get(key, {}).get("total", 0) if isinstance(step["stats"].get(key), dict)
                   else step["stats"].get(key, 0))

    out = {
        "files": len(spec["paths"]),
        "unreadable": counted(first, "SRT/WebVTT", "unreadable"),
        "after_language": counted(first, "Language", "forwarded"),
        "after_quality": counted(first, "Gopher Quality", "forwarded"),
        "kept": counted(last, "MinHash", "forwarded"),
        "duplicates": counted(last, "MinHash", "dropped"),
        "not_swedish": counted(first, "Language", "dropped"),
        "seconds": round(seconds, 2), "workers": workers, "cores": os.cpu_count(),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
