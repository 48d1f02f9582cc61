rule langid:
    input:
        f"{R}/interim/clean",
    output:
        docs=directory(f"{R}/interim/langid"),
        dropped=directory(f"{R}/dropped/langid"),
        stats=f"{R}/stats/langid.json",
    params:
        settings=lambda w: settings("langid"),
        spark=lambda w: settings("spark"),
    threads: workflow.cores
    log:
        f"{R}/logs/langid.log",
    conda:
        "../../envs/spark.yaml"
    shell:
        "python -m arkivlm langid --settings {params.settings:q} --spark {params.spark:q}"
        " --input {input:q} --docs {output.docs:q} --dropped {output.dropped:q} --stats {output.stats:q} > {log:q} 2>&1"
