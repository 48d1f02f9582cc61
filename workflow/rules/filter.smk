# The document filters, one Spark application for all five (arkivlm.stage_chains); each stage still
# writes its own table, dropped documents, stats and audit examples, and reads its own config section:
#   clean   - Unicode, OCR hyphenation, subtitle cues; rights hold-back   (config: clean, release)
#   lines   - OCR garbage and ASR artefacts out line by line; running text (config: lines)
#   langid  - fastText: keep Swedish                                      (config: langid)
#   quality - quality filters, quality score                              (config: quality)
#   pii     - redact identity numbers, phones, e-mail                     (config: pii)
# A changed threshold in any of them reruns this rule and those after it, never ingest.

FILTER_STAGES = ["clean", "lines", "langid", "quality", "pii"]


rule filter:
    input:
        f"{R}/interim/ingest",
    output:
        docs=[directory(f"{R}/interim/{s}") for s in FILTER_STAGES],
        dropped=[directory(f"{R}/dropped/{s}") for s in FILTER_STAGES],
        stats=[f"{R}/stats/{s}.json" for s in FILTER_STAGES],
        audit=[f"{R}/stats/audit/{s}.json" for s in FILTER_STAGES],
        lines_removed=directory(f"{R}/lines_removed"),
    params:
        settings=lambda w: json.dumps({s: config.get(s, {}) for s in FILTER_STAGES}, sort_keys=True),
        allow_rights=lambda w: json.dumps(config["release"]["allow_rights"]),
        spark=lambda w: settings("spark"),
        interim=lambda w, output: os.path.dirname(output.docs[0]),
        dropped=lambda w, output: os.path.dirname(output.dropped[0]),
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
        " --spark {params.spark:q} --input {input:q} --interim {params.interim:q} --dropped {params.dropped:q}"
        " --stats-dir {params.stats:q} > {log:q} 2>&1"
