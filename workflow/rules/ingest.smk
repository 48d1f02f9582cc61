rule ingest:
    input:
        sample_manifest(),
    output:
        docs=directory(f"{R}/interim/ingest"),
        quarantine=directory(f"{R}/quarantine"),
        stats=f"{R}/stats/ingest.json",
    params:
        sources=lambda w: json.dumps(config["sources"], sort_keys=True),
        settings=lambda w: settings("ingest"),
    threads: workflow.cores
    resources:
        **SPARK_RESOURCES,
    log:
        f"{R}/logs/ingest.log",
    conda:
        "../../envs/spark.yaml"
    envmodules:
        *config["modules"]["spark"],
    shell:
        SPARK_LAUNCH + "python -m arkivlm ingest --sources {params.sources:q} --settings {params.settings:q}"
        " --docs {output.docs:q} --quarantine {output.quarantine:q} --stats {output.stats:q} > {log:q} 2>&1"
