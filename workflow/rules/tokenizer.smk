rule tokenizer:
    input:
        train=f"{R}/corpus/train",
        validation=f"{R}/corpus/validation",
    output:
        causal=f"{R}/tokenizer/tokenizer.json",
        masked=f"{R}/tokenizer/masked/tokenizer.json",
        stats=f"{R}/stats/tokenizer.json",
    params:
        out=lambda w, output: os.path.dirname(output.causal),
        settings=lambda w: settings("tokenizer"),
    threads: workflow.cores
    log:
        f"{R}/logs/tokenizer.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm tokenizer --settings {params.settings:q} --train {input.train:q}"
        " --validation {input.validation:q} --out {params.out:q} --stats {output.stats:q} > {log:q} 2>&1"


rule pack:
    input:
        tokenizer=rules.tokenizer.output.causal,
        masked=rules.tokenizer.output.masked,
        train=f"{R}/corpus/train",
        validation=f"{R}/corpus/validation",
        dropped_dedup=f"{R}/dropped/dedup",
    output:
        directory(f"{R}/packed/{{family}}"),
    wildcard_constraints:
        family="causal|masked",
    params:
        tokenizer_dir=lambda w, input: os.path.dirname(input.tokenizer),
        settings=lambda w: settings("pack"),
    threads: workflow.cores
    log:
        f"{R}/logs/pack_{{family}}.log",
    conda:
        "../../envs/train.yaml"
    envmodules:
        *config["modules"]["train"],
    shell:
        "python -m arkivlm pack --family {wildcards.family} --settings {params.settings:q} --tokenizer {params.tokenizer_dir:q}"
        " --train {input.train:q} --validation {input.validation:q} --dropped-dedup {input.dropped_dedup:q} --out {output:q}"
        " > {log:q} 2>&1"
