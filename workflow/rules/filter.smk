# The document filters, one Spark application for all five (arkivlm.stage_chains); each stage still
# writes its own dropped documents, stats and audit examples, and reads its own config section. lines,
# langid, quality and pii run as one pass over the documents below spark.row_stage_checkpoints_min_docs
# (arkivlm.row_stages), each writing its own table from that many on:
#   clean   - Unicode, OCR hyphenation, subtitle cues; rights hold-back   (config: clean, release)
#   lines   - OCR garbage and ASR artefacts out line by line; running text (config: lines)
#   langid  - fastText: keep Swedish                                      (config: langid)
#   quality - quality filters, quality score                              (config: quality)
#   pii     - redact identity numbers, phones, e-mail                     (config: pii)
# A changed threshold in any of them reruns this rule and those after it, never ingest.
#
# Completed work survives a failure or a rerun: each stage's table (or the one pass's), dropped
# documents and removed lines are kept under interim/, dropped/ and lines_removed/ with a fingerprint
# of its settings, its input and the code (arkivlm.stage_chains). They are not declared outputs, so
# Snakemake leaves them in place when the rule fails or reruns; the chain then reuses every stage
# whose fingerprint still matches (a crash in pii, or a changed pii threshold, never redoes clean;
# with checkpoints, not lines, langid and quality either).
# Declared: the stats and audit of every stage, and pii's table (what `corpus` reads).

FILTER_STAGES = ["clean", "lines", "langid", "quality", "pii"]


rule filter:
    input:
        f"{R}/interim/ingest",
    output:
        docs=directory(f"{R}/interim/pii"),
        dropped=directory(f"{R}/dropped/pii"),
        stats=[f"{R}/stats/{s}.json" for s in FILTER_STAGES],
        audit=[f"{R}/stats/audit/{s}.json" for s in FILTER_STAGES],
    params:
        settings=lambda w: json.dumps({s: config.get(s, {}) for s in FILTER_STAGES}, sort_keys=True),
        allow_rights=lambda w: json.dumps(config["release"]["allow_rights"]),
        interim=lambda w, output: os.path.dirname(output.docs),
        dropped=lambda w, output: os.path.dirname(output.dropped),
        stats=lambda w, output: os.path.dirname(output.stats[0]),
    threads: workflow.cores
    resources:
        **SPARK_RESOURCES,
    log:
        f"{R}/logs/filter.log",
    conda:
        "../../envs/spark.yaml"
    envmodules:
        *config["modules"]["spark"],
    shell:
        SPARK_LAUNCH + "python -m arkivlm filter --settings {params.settings:q} --allow_rights {params.allow_rights:q}"
        " --input {input:q} --interim {params.interim:q} --dropped {params.dropped:q}"
        " --stats-dir {params.stats:q} > {log:q} 2>&1"
