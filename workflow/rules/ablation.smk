# `snakemake ablation`: does the curation make a better model? The same model (config ablation.model)
# trained on the same number of tokens of each variant of the corpus (ablation.variants), built from
# this run's stage outputs, and evaluated on the full corpus's validation split (arkivlm.ablation).
# On MeluXina every variant's training is its own GPU job, so the variants train in parallel.

ABLATION = ablation_settings()
ABLATION_FAMILY = ABLATION["model"]["type"]
ABLATION_HELDOUT = f"{R}/packed/{ABLATION_FAMILY}"
ABLATION_SEEDS = ABLATION["seeds"] or [ABLATION_TRAIN.get("seed", 1234)]


ABLATION_VARIANTS = ablation_variant_names()


wildcard_constraints:
    variant="|".join(ABLATION_VARIANTS),
    seed=r"\d+",


rule ablation_pretrain:
    input:
        data=lambda w: ablation_training_data(w.variant),
        heldout=ABLATION_HELDOUT,
        tokenizer=rules.tokenizer.output.causal,
    output:
        hf=directory(f"{R}/ablation/models/{{variant}}/seed_{{seed}}/hf"),
        summary=f"{R}/ablation/models/{{variant}}/seed_{{seed}}/train_summary.json",
    params:
        model=lambda w: json.dumps(ablation_model(w.variant), sort_keys=True),
        settings=lambda w: json.dumps({**ABLATION_TRAIN, "seed": int(w.seed)}, sort_keys=True),
        tokenizer_dir=lambda w, input: os.path.dirname(input.tokenizer),
        heldout=lambda w, input: os.path.join(input.heldout, "validation"),
        out=lambda w, output: os.path.dirname(output.summary),
    threads: workflow.cores
    resources:
        nodes=ABLATION_TRAIN.get("num_nodes", 1),
        tasks_per_node=train_tasks_per_node(ABLATION_TRAIN.get("devices", "auto")),
        mpi=launcher_for(train_tasks_per_node(ABLATION_TRAIN.get("devices", "auto"))),
    log:
        f"{R}/logs/ablation_pretrain_{{variant}}_seed_{{seed}}.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm.slurm tasks -- python -m arkivlm pretrain --model {params.model:q} --settings {params.settings:q}"
        " --packed {input.data:q} --validation {params.heldout:q} --tokenizer {params.tokenizer_dir:q}"
        " --out {params.out:q} > {log:q} 2>&1"


rule ablation_evaluate:
    input:
        hf=rules.ablation_pretrain.output.hf,
        summary=rules.ablation_pretrain.output.summary,
        heldout=ABLATION_HELDOUT,
        tasks=task_inputs(EVAL_TASKS),
    output:
        metrics=f"{R}/ablation/eval/{{variant}}/seed_{{seed}}.json",
        tasks=f"{R}/ablation/eval/{{variant}}/seed_{{seed}}.tasks.json",
    params:
        model_dir=lambda w, input: os.path.dirname(input.summary),
        tasks=json.dumps(EVAL_TASKS),
        settings=settings("evaluate"),
    threads: workflow.cores
    log:
        f"{R}/logs/ablation_evaluate_{{variant}}_seed_{{seed}}.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm evaluate --model-dir {params.model_dir:q} --packed {input.heldout:q} --out {output.metrics:q}"
        " --tasks {params.tasks:q} --tasks-out {output.tasks:q} --settings {params.settings:q} > {log:q} 2>&1"


rule ablation:
    input:
        evals=expand(f"{R}/ablation/eval/{{variant}}/seed_{{seed}}.json", variant=ABLATION_VARIANTS, seed=ABLATION_SEEDS),
        task_scores=expand(f"{R}/ablation/eval/{{variant}}/seed_{{seed}}.tasks.json", variant=ABLATION_VARIANTS, seed=ABLATION_SEEDS),
        variants=f"{R}/ablation/data/variants.json",
        corpus_stats=rules.corpus.output.stats,
        tokenizer_stats=rules.tokenizer.output.stats,
        packed=ABLATION_HELDOUT,
    output:
        summary=f"{R}/ablation/summary.json",
        table=report(f"{R}/ablation/ablation.csv", caption="../report/ablation_table.rst", category="Ablation"),
        chart=report(f"{R}/ablation/ablation.png", caption="../report/ablation_chart.rst", category="Ablation"),
        card_md=f"{R}/ablation/data_card.md",
        card_html=report(f"{R}/ablation/data_card.html", caption="../report/ablation_data_card.rst", category="Ablation"),
    params:
        config=lambda w: config_for_outputs(),
        eval_dir=lambda w, input: os.path.dirname(os.path.dirname(input.evals[0])),
        stats_dir=lambda w, input: os.path.dirname(input.corpus_stats),
        packed_dir=lambda w, input: os.path.dirname(input.packed),
    log:
        f"{R}/logs/ablation.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm ablation-report --config {params.config:q} --variants {input.variants:q} --eval-dir {params.eval_dir:q}"
        " --stats-dir {params.stats_dir:q} --packed-dir {params.packed_dir:q} --summary {output.summary:q}"
        " --table {output.table:q} --chart {output.chart:q} --card-md {output.card_md:q} --card-html {output.card_html:q}"
        " > {log:q} 2>&1"


# Last in the file: the linter reads a string added to SPARK_LAUNCH up to the next slash as a path.
rule ablation_data:
    input:
        ingest=f"{R}/interim/ingest",
        stages=rules.filter.output.stats,  # the stages' tables are complete when their stats are
        dedup_dropped=rules.corpus.output.dropped,
        train=rules.corpus.output.train,
        validation=rules.corpus.output.validation,
        heldout=ABLATION_HELDOUT,
        tokenizer=getattr(rules.tokenizer.output, ABLATION_FAMILY),
        task_texts=rules.task_texts.output[0],
    output:
        data=[directory(f"{R}/ablation/data/{v}") for v in ABLATION["variants"]],
        variants=f"{R}/ablation/data/variants.json",
    params:
        settings=lambda w: json.dumps({k: ABLATION[k] for k in ("variants", "docs_per_shard")} | {"model": {"type": ABLATION_FAMILY}},
                                      sort_keys=True),
        config=lambda w: json.dumps({s: config.get(s, {}) for s in ("clean", "lines", "langid", "quality", "pii", "dedup", "decontamination", "release")},
                                    sort_keys=True),
        results=lambda w, input: os.path.dirname(os.path.dirname(input.train)),
        heldout=lambda w, input: os.path.join(input.heldout, "validation"),
        out=lambda w, output: os.path.dirname(output.variants),
    threads: workflow.cores
    resources:
        **SPARK_RESOURCES,
    log:
        f"{R}/logs/ablation_data.log",
    conda:
        "../../envs/spark.yaml"
    envmodules:
        *config["modules"]["spark"],
    shell:
        SPARK_LAUNCH + "python -m arkivlm ablation-data --settings {params.settings:q} --config {params.config:q}"
        " --results {params.results:q} --tokenizer {input.tokenizer:q}"
        " --heldout {params.heldout:q} --out {params.out:q} --task-texts {input.task_texts:q} > {log:q} 2>&1"
