# Dedup and the train/validation split, one Spark application (arkivlm.stage_chains):
#   dedup  - exact and MinHash near-duplicate removal   (config: dedup)
#   split  - train/validation by document id            (config: split)


rule corpus:
    input:
        f"{R}/interim/pii",
    output:
        dedup=directory(f"{R}/interim/dedup"),
        dropped=directory(f"{R}/dropped/dedup"),
        dedup_stats=f"{R}/stats/dedup.json",
        dedup_audit=f"{R}/stats/audit/dedup.json",
        train=directory(f"{R}/corpus/train"),
        validation=directory(f"{R}/corpus/validation"),
        stats=f"{R}/stats/corpus.json",
    params:
        settings=lambda w: json.dumps({s: config.get(s, {}) for s in ("dedup", "split")}, sort_keys=True),
        interim=lambda w, output: os.path.dirname(output.dedup),
        dropped=lambda w, output: os.path.dirname(output.dropped),
        stats=lambda w, output: os.path.dirname(output.dedup_stats),
    threads: workflow.cores
    resources:
        **SPARK_RESOURCES,
    log:
        f"{R}/logs/corpus.log",
    conda:
        "../../envs/spark.yaml"
    envmodules:
        *config["modules"]["spark"],
    shell:
        SPARK_LAUNCH + "python -m arkivlm corpus --settings {params.settings:q} --input {input:q}"
        " --interim {params.interim:q} --dropped {params.dropped:q} --stats-dir {params.stats:q}"
        " --train {output.train:q} --validation {output.validation:q} > {log:q} 2>&1"
