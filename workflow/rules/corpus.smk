# Dedup, decontamination and the train/validation split, one Spark application (arkivlm.stage_chains):
#   dedup          - exact and MinHash near-duplicate removal                      (config: dedup)
#   decontaminate  - documents sharing a word n-gram with a task item               (config: decontamination)
#   split          - train/validation by document id                               (config: split)


rule task_texts:
    """Every item's text of the decontamination tasks (all splits), as lm-eval renders them."""
    input:
        task_inputs(DECON_TASKS),
    output:
        f"{R}/interim/task_texts.jsonl",
    params:
        tasks=json.dumps(DECON_TASKS),
    log:
        f"{R}/logs/task_texts.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm task-texts --tasks {params.tasks:q} --out {output:q} > {log:q} 2>&1"


rule corpus:
    input:
        docs=f"{R}/interim/pii",
        task_texts=f"{R}/interim/task_texts.jsonl",
    output:
        dedup=directory(f"{R}/interim/dedup"),
        dropped=directory(f"{R}/dropped/dedup"),
        dedup_stats=f"{R}/stats/dedup.json",
        dedup_audit=f"{R}/stats/audit/dedup.json",
        decontaminated=directory(f"{R}/interim/decontaminate"),
        decontaminate_dropped=directory(f"{R}/dropped/decontaminate"),
        decontaminate_stats=f"{R}/stats/decontaminate.json",
        decontaminate_audit=f"{R}/stats/audit/decontaminate.json",
        train=directory(f"{R}/corpus/train"),
        validation=directory(f"{R}/corpus/validation"),
        stats=f"{R}/stats/corpus.json",
    params:
        settings=lambda w: json.dumps({s: config.get(s, {}) for s in ("dedup", "decontamination", "split")}, sort_keys=True),
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
        SPARK_LAUNCH + "python -m arkivlm corpus --settings {params.settings:q} --input {input.docs:q}"
        " --interim {params.interim:q} --dropped {params.dropped:q} --stats-dir {params.stats:q}"
        " --train {output.train:q} --validation {output.validation:q} --task-texts {input.task_texts:q} > {log:q} 2>&1"
