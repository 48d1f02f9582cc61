if SAMPLE:

    rule sample_archive:
        input:
            task_inputs([os.path.join(SAMPLE["plant_tasks"], f"{t}.yaml") for t in ("sv_word_order", "sv_cloze")])
            if SAMPLE.get("plant_tasks")
            else [],
        output:
            os.path.join(SAMPLE["path"], "MANIFEST.json"),
        params:
            root=lambda w, output: os.path.dirname(output[0]),
            seed=SAMPLE["seed"],
            scale=SAMPLE["scale"],
            real=lambda w: (
                "--journal-digital " + shlex.quote(json.dumps(SAMPLE["journal_digital"], sort_keys=True))
                if "journal_digital" in SAMPLE
                else ""
            )
            + ("" if SAMPLE.get("generated", True) else " --no-generated")
            + (" --plant-tasks " + shlex.quote(SAMPLE["plant_tasks"]) if SAMPLE.get("plant_tasks") else ""),
        log:
            f"{R}/logs/sample_archive.log",
        conda:
            "../../envs/spark.yaml"
        envmodules:
            *config["modules"]["spark"],
        shell:
            "python -m arkivlm sample {params.root:q} --seed {params.seed} --scale {params.scale} {params.real} > {log:q} 2>&1"
