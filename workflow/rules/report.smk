rule data_card:
    input:
        corpus=f"{R}/stats/corpus.json",
        decontaminate=f"{R}/stats/decontaminate.json",
        tokenizer=f"{R}/stats/tokenizer.json",
        packed=expand(f"{R}/packed/{{family}}", family=sorted({m["type"] for m in config["models"]})),
        plans=expand(f"{R}/mixture/{{model}}.plan.json", model=MODELS),
    output:
        md=f"{R}/data_card.md",
        html=report(f"{R}/data_card.html", caption="../report/data_card.rst", category="Data card"),
    params:
        config=lambda w: config_for_outputs(),
        stats_dir=lambda w, input: os.path.dirname(input.corpus),
        packed_dir=lambda w, input: os.path.dirname(input.packed[0]),
        mixture_dir=lambda w, input: os.path.dirname(input.plans[0]),
    log:
        f"{R}/logs/data_card.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm datacard --config {params.config:q} --stats-dir {params.stats_dir:q}"
        " --packed-dir {params.packed_dir:q} --mixture-dir {params.mixture_dir:q} --md {output.md:q} --html {output.html:q}"
        " > {log:q} 2>&1"


rule report_figures:
    input:
        rules.evaluate.input,
        expand(f"{R}/mixture/{{model}}.json", model=MODELS),
        rules.data_card.output.md,
    output:
        **{
            name: report(figure_path(name), caption=f"../report/{name}.rst", category=category)
            for name, category in FIGURE_CAPTIONS.items()
        },
    params:
        config=lambda w: config_for_outputs(),
        results=lambda w, input: os.path.dirname(input[-1]),
        out_dir=lambda w, output: os.path.dirname(output[0]),
    log:
        f"{R}/logs/report_figures.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm figures --config {params.config:q} --results {params.results:q} --out-dir {params.out_dir:q}"
        " > {log:q} 2>&1"
