if SAMPLE:

    rule sample_archive:
        output:
            os.path.join(SAMPLE["path"], "MANIFEST.json"),
        params:
            root=lambda w, output: os.path.dirname(output[0]),
            seed=SAMPLE["seed"],
            scale=SAMPLE["scale"],
        log:
            f"{R}/logs/sample_archive.log",
        conda:
            "../../envs/spark.yaml"
        envmodules:
            *config["modules"]["spark"],
        shell:
            "python -m arkivlm sample {params.root:q} --seed {params.seed} --scale {params.scale} > {log:q} 2>&1"
