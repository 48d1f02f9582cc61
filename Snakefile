# arkivlm: the National Library of Sweden's archive -> a Swedish corpus -> language models.
#
#   snakemake --cores all                          # config.yaml: the bundled sample archive
#   snakemake --cores all --configfile my.yaml     # your own archive
#   snakemake corpus                               # stop after a stage

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/clean.smk"
include: "workflow/rules/langid.smk"
include: "workflow/rules/corpus.smk"


rule all:
    input:
        rules.corpus.output,
    default_target: True
