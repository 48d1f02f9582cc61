rule corpus:
    input:
        f"{R}/interim/dedup",
    output:
        train=directory(f"{R}/corpus/train"),
        validation=directory(f"{R}/corpus/validation"),
        stats=f"{R}/stats/corpus.json",
    params:
        settings=lambda w: settings("split"),
        spark=lambda w: settings("spark"),
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
        SPARK_LAUNCH + "python -m arkivlm corpus --settings {params.settings:q} --spark {params.spark:q}"
        " --input {input:q} --train {output.train:q} --validation {output.validation:q} --stats {output.stats:q} > {log:q} 2>&1"
