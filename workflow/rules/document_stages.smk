# The document stages after clean share one shape: a document table in; the kept documents, the
# dropped ones (with stage and reason) and the stage's stats out. Each reads its config section.
#   langid  - fastText: keep Swedish                    (config: langid)
#   quality - quality filters, quality score            (config: quality)
#   pii     - redact identity numbers, phones, e-mail   (config: pii)
#   dedup   - exact and MinHash near-duplicate removal  (config: dedup)

DOCUMENT_STAGES = [("langid", "clean"), ("quality", "langid"), ("pii", "quality"), ("dedup", "pii")]

for stage, previous in DOCUMENT_STAGES:

    rule:
        name:
            stage
        input:
            f"{R}/interim/{previous}",
        output:
            docs=directory(f"{R}/interim/{stage}"),
            dropped=directory(f"{R}/dropped/{stage}"),
            stats=f"{R}/stats/{stage}.json",
        params:
            stage=lambda w, stage=stage: stage,
            settings=lambda w, stage=stage: settings(stage),
            spark=lambda w: settings("spark"),
        threads: workflow.cores
        resources:
            **SPARK_RESOURCES,
        log:
            f"{R}/logs/{stage}.log",
        conda:
            "../../envs/spark.yaml"
        envmodules:
            *config["modules"]["spark"],
        shell:
            SPARK_LAUNCH + "python -m arkivlm {params.stage}"
            " --settings {params.settings:q} --spark {params.spark:q} --input {input:q}"
            " --docs {output.docs:q} --dropped {output.dropped:q} --stats {output.stats:q} > {log:q} 2>&1"
