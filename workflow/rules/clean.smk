rule clean:
    input:
        f"{R}/interim/ingest",
    output:
        docs=directory(f"{R}/interim/clean"),
        dropped=directory(f"{R}/dropped/clean"),
        stats=f"{R}/stats/clean.json",
    params:
        settings=lambda w: settings("clean"),
        allow_rights=lambda w: json.dumps(config["release"]["allow_rights"]),
        spark=lambda w: settings("spark"),
    threads: workflow.cores
    resources:
        **SPARK_RESOURCES,
    log:
        f"{R}/logs/clean.log",
    conda:
        "../../envs/spark.yaml"
    envmodules:
        *config["modules"]["spark"],
    shell:
        SPARK_LAUNCH + "python -m arkivlm clean --settings {params.settings:q} --allow_rights {params.allow_rights:q} --spark {params.spark:q}"
        " --input {input:q} --docs {output.docs:q} --dropped {output.dropped:q} --stats {output.stats:q} > {log:q} 2>&1"
