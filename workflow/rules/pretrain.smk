# Checkpoints (models/<model>/checkpoints/) are deliberately not a declared output: Snakemake
# would delete them before a rerun, and a rerun must resume from last.ckpt.


wildcard_constraints:
    model="|".join(MODELS),


localrules:
    mixture_plan,


# Seconds after pack and before any training job: a mixture the corpus cannot meet fails here,
# naming its key, instead of in a GPU job. The training job plans again on the ranks it has.
rule mixture_plan:
    input:
        packed=lambda w: f"{R}/packed/{MODELS[w.model]['type']}",
    output:
        f"{R}/mixture/{{model}}.plan.json",
    params:
        model=lambda w: model_json(w.model),
        settings=lambda w: settings("train"),
        ranks=lambda w: training_ranks(w.model),
        key=lambda w: mixture_key(w.model) or "mixture",
    log:
        f"{R}/logs/mixture_plan_{{model}}.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm mixture-plan --model {params.model:q} --settings {params.settings:q} --packed {input.packed:q}"
        " --ranks {params.ranks} --key {params.key:q} --out {output:q} > {log:q} 2>&1"


rule pretrain_model:
    input:
        packed=lambda w: f"{R}/packed/{MODELS[w.model]['type']}",
        tokenizer=rules.tokenizer.output.causal,
        data_card=f"{R}/data_card.md",
        plan=f"{R}/mixture/{{model}}.plan.json",
    output:
        hf=directory(f"{R}/models/{{model}}/hf"),
        summary=f"{R}/models/{{model}}/train_summary.json",
        mixture=f"{R}/mixture/{{model}}.json",
    params:
        model=lambda w: model_json(w.model),
        settings=lambda w: settings("train"),
        tokenizer_dir=lambda w, input: os.path.dirname(input.tokenizer),
        out=lambda w, output: os.path.dirname(output.summary),
    threads: workflow.cores
    resources:
        nodes=lambda w: pretrain_resources(w.model)["nodes"],
        tasks_per_node=lambda w: pretrain_resources(w.model)["tasks_per_node"],
        mpi=lambda w: launcher_for(pretrain_resources(w.model)["tasks_per_node"]),
        runtime=lambda w: pretrain_resources(w.model)["runtime"],
    log:
        f"{R}/logs/pretrain_{{model}}.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm.slurm tasks -- python -m arkivlm pretrain --model {params.model:q} --settings {params.settings:q} --packed {input.packed:q}"
        " --tokenizer {params.tokenizer_dir:q} --data-card {input.data_card:q} --mixture-out {output.mixture:q}"
        " --out {params.out:q} > {log:q} 2>&1"


rule pretrain:
    input:
        expand(f"{R}/models/{{model}}/train_summary.json", model=MODELS),


rule evaluate_model:
    input:
        hf=f"{R}/models/{{model}}/hf",
        summary=f"{R}/models/{{model}}/train_summary.json",
        packed=lambda w: f"{R}/packed/{MODELS[w.model]['type']}",
        tasks=task_inputs(EVAL_TASKS),
    output:
        metrics=f"{R}/eval/{{model}}/metrics.json",
        tasks=f"{R}/eval/{{model}}/tasks.json",
    params:
        model_dir=lambda w, input: os.path.dirname(input.summary),
        tasks=json.dumps(EVAL_TASKS),
        settings=settings("evaluate"),
    threads: workflow.cores
    log:
        f"{R}/logs/evaluate_{{model}}.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm evaluate --model-dir {params.model_dir:q} --packed {input.packed:q} --out {output.metrics:q}"
        " --tasks {params.tasks:q} --tasks-out {output.tasks:q} --settings {params.settings:q} > {log:q} 2>&1"


rule evaluate:
    input:
        expand(f"{R}/eval/{{model}}/metrics.json", model=MODELS),
        expand(f"{R}/eval/{{model}}/tasks.json", model=MODELS),
