# arkivlm: the National Library of Sweden's archive -> a Swedish corpus -> language models.
#
#   snakemake --cores all                          # config.yaml: the bundled sample archive
#   snakemake --cores all --configfile my.yaml     # your own archive
#   snakemake corpus                               # stop after a stage
#   snakemake ablation                             # the same model on each variant of the corpus

from snakemake.utils import min_version

min_version("9.0")


# config.yaml (the sample archive) is the default; a --configfile replaces it rather than being
# merged into it, so that none of the sample's settings leak into a run on your own archive.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/filter.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/tokenizer.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/ablation.smk"


report: "workflow/report/workflow.rst"


# Rules that read a few JSON files and draw figures run where Snakemake runs, never as Slurm jobs.
localrules:
    task_texts,
    data_card,
    report_figures,
    ablation,


rule all:
    input:
        rules.corpus.output,
        rules.evaluate.input,
        rules.report_figures.output,
    default_target: True
