import json
import os
import re
import shlex
import shutil
import tempfile

from snakemake.utils import validate

from arkivlm.ingest import iter_source_paths
from arkivlm.spark import export_spark_settings


def merge_overlays(cfg):
    """`overlay`: config files (a path or a list, a later one over an earlier one) whose settings are
    defaults under the user's config, e.g. a machine's settings from its profile: a key the user's
    config sets is never replaced (mappings are filled in key by key)."""
    import copy

    import yaml

    def fill(base, defaults):
        for key, value in defaults.items():
            if key not in base:
                base[key] = copy.deepcopy(value)
            elif isinstance(value, dict) and isinstance(base[key], dict):
                fill(base[key], value)

    def merge(base, top):  # a later overlay over an earlier one
        for key, value in top.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    paths = cfg.pop("overlay", None) or []
    defaults = {}
    for path in [paths] if isinstance(paths, str) else paths:
        if not os.path.exists(path):  # relative to the workflow, e.g. a profile's file
            path = os.path.join(workflow.basedir, path)
        with open(path) as fh:
            merge(defaults, yaml.safe_load(fh) or {})
    fill(cfg, defaults)


merge_overlays(config)
validate(config, "../schemas/config.schema.yaml")

R = config["results"].rstrip("/")
MODELS = {m["name"]: m for m in config["models"]}
SAMPLE = config.get("sample_archive")


def check_config(cfg):
    """What the schema cannot say; fails before any job starts, naming the key."""
    names = [s["name"] for s in cfg["sources"]]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise ValueError(f"config key sources[{i}].name: source name {name!r} is used twice; names must be unique.")
    models = [m["name"] for m in cfg["models"]]
    for i, name in enumerate(models):
        if models.index(name) != i:
            raise ValueError(f"config key models[{i}].name: model name {name!r} is used twice; names must be unique.")
    from arkivlm.train.presets import PRESETS

    for i, m in enumerate(cfg["models"]):
        if m.get("preset", "tiny") not in PRESETS[m["type"]]:
            raise ValueError(f"config key models[{i}].preset: {m['type']} models have presets {', '.join(PRESETS[m['type']])}; "
                             f"{m.get('preset')!r} is not one of them.")
    from arkivlm.train.mixture import check_config as check_mixture

    for mixture, key in [(cfg.get("mixture"), "mixture")] + [(m.get("mixture"), f"models[{i}].mixture") for i, m in enumerate(cfg["models"])] \
            + [(mx, f"ablation.mixtures.{name}") for name, mx in cfg.get("ablation", {}).get("mixtures", {}).items()]:
        if mixture:
            check_mixture(mixture, cfg["sources"], key)
    sample_root = os.path.normpath(SAMPLE["path"]) if SAMPLE else None
    for i, src in enumerate(cfg["sources"]):
        if "date_from_path" in src:
            try:
                groups = re.compile(src["date_from_path"]).groups
            except re.error as e:
                raise ValueError(f"config key sources[{i}].date_from_path: {src['date_from_path']!r} is not a regex ({e}).")
            if groups < 1:
                raise ValueError(f"config key sources[{i}].date_from_path: {src['date_from_path']!r} needs a group "
                                 "(parentheses) around the year or ISO date.")
        if src.get("package_members") and src["format"] == "warc":
            raise ValueError(f"config key sources[{i}].package_members: a warc source's files are read as streams, "
                             "one record at a time, not from inside packages; list the WARC files themselves.")
        generated = sample_root and os.path.normpath(src["path"]).startswith(sample_root + os.sep)
        if not generated and next(iter_source_paths(src["path"]), None) is None:
            raise ValueError(
                f"config key sources[{i}].path: the glob {src['path']!r} of source {src['name']!r} matches no file; "
                "fix the path (relative paths start at the working directory) or remove the source.")
    check_writable(R)
    plugin = workflow.executor_plugin
    if plugin is not None and plugin.name == "slurm" and "MELUXINA_ACCOUNT" not in os.environ:
        raise ValueError("MELUXINA_ACCOUNT is not set: export your project account (e.g. export MELUXINA_ACCOUNT=p200xxx) "
                         "and MELUXINA_QOS (e.g. default) before `snakemake --profile profiles/meluxina`.")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ValueError("Spark needs Java 17 and no `java` was found: install it "
                         "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME.")


def check_writable(results):
    """Try it: permissions alone do not tell root about read-only file systems."""
    parent = os.path.abspath(results)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    problem = None
    if not os.path.isdir(parent):
        problem = f"{parent} is not a directory"
    else:
        try:
            with tempfile.TemporaryFile(dir=parent):
                pass
        except OSError as e:
            problem = f"{parent}: {e.strerror}"
    if problem:
        raise ValueError(f"config key results: {results!r} cannot be written ({problem}); choose another results directory.")


check_config(config)

from arkivlm.eval_tasks import config_tasks, data_files

# evaluate.tasks, and decontamination.tasks (default: the same), each file checked, naming the key
EVAL_TASKS, DECON_TASKS = config_tasks(config)


def task_inputs(paths):
    """Task YAML files and the data files they name: a changed item reruns what reads it."""
    return sorted({f for p in paths for f in [p, *data_files(p)]})


def settings(section):
    """A config section as one JSON argument; a changed threshold reruns its stage and those after it."""
    return json.dumps(config.get(section, {}), sort_keys=True)


# Spark stages on Slurm: whole nodes (spark.nodes of them), the stage run by arkivlm.slurm, which
# starts a standalone Spark cluster inside the allocation when spark.master is "slurm".
SPARK_RESOURCES = {"nodes": config["spark"]["nodes"], "mpi": "srun", "tasks_per_node": 2}
SPARK_LAUNCH = "python -m arkivlm.slurm spark -- "
# The `spark` section says how Spark runs, not what it computes: it reaches the jobs through their
# environment (read by arkivlm.spark and arkivlm.slurm), never as a parameter or in a shell command,
# so that raising driver memory after an out-of-memory error reruns nothing. A Slurm job parses this
# file again with the same config and sets the same value.
export_spark_settings(config["spark"])


def config_for_outputs():
    """The config without the sections that say how jobs run (spark, modules): what a rule that
    takes the whole config sees, so that execution settings never rerun it."""
    return json.dumps({k: v for k, v in config.items() if k not in ("spark", "modules")}, sort_keys=True)


def train_setting(model, key, default):
    return MODELS[model].get("train", {}).get(key, config["train"].get(key, default))


def train_tasks_per_node(devices):
    """One task per device, as Lightning requires under Slurm (tasks per node == devices); a GPU
    node's 4 for "auto" or -1 (every GPU of the node)."""
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    return devices if isinstance(devices, int) and devices >= 1 else 4


def launcher_for(tasks_per_node):
    """The `mpi` resource: several tasks per node are an MPI-style job (--ntasks-per-node); one
    device per node is Slurm's default of one task per node, which the Slurm executor plugin
    refuses to declare as MPI."""
    return "srun" if tasks_per_node > 1 else ""


def pretrain_resources(model):
    """Nodes, tasks per node and minutes of a model's training job: the model's train.num_nodes,
    else the config's train.num_nodes, else its preset's `pretrain_jobs` entry (the MeluXina
    profile's sizes), else one node."""
    job = config.get("pretrain_jobs", {}).get(MODELS[model].get("preset", "tiny"), {})
    nodes = MODELS[model].get("train", {}).get("num_nodes") or config["train"].get("num_nodes") or job.get("nodes") or 1
    return {"nodes": nodes, "tasks_per_node": train_tasks_per_node(train_setting(model, "devices", "auto")),
            "runtime": job.get("runtime", 2880)}


def mixture_key(model):
    """The config key of the mixture a model trains under (its own, else `mixture`), or None."""
    i = list(MODELS).index(model)
    return f"models[{i}].mixture" if MODELS[model].get("mixture") else ("mixture" if config.get("mixture") else None)


def model_json(model):
    """The model entry handed to `pretrain`: its train.num_nodes the job's, its mixture its own or `mixture:`."""
    entry = dict(MODELS[model])
    entry["train"] = {**entry.get("train", {}), "num_nodes": pretrain_resources(model)["nodes"]}
    if config.get("mixture") and not entry.get("mixture"):
        entry["mixture"] = config["mixture"]
    return json.dumps(entry, sort_keys=True)


def training_ranks(model):
    """The ranks the model's training job will have: nodes x tasks per node under Slurm; locally its
    train.devices when a number, else one."""
    resources = pretrain_resources(model)
    plugin = workflow.executor_plugin
    if plugin is not None and plugin.name == "slurm":
        return resources["nodes"] * resources["tasks_per_node"]
    devices = train_setting(model, "devices", "auto")
    return resources["nodes"] * (int(devices) if str(devices).isdigit() and int(devices) >= 1 else 1)


def ablation_settings():
    """The `ablation` section over its defaults (arkivlm.ablation.DEFAULTS)."""
    from arkivlm.ablation import merged_settings

    return merged_settings(config.get("ablation"))


# The ablation's models train with `train:` and ablation.train over it, all alike.
ABLATION_TRAIN = {**config["train"], **ablation_settings()["train"]}


def ablation_variant_names():
    from arkivlm.ablation import variant_names

    return variant_names(config.get("ablation"))


def ablation_training_data(variant):
    """A filter variant's own data; a mixture variant reads the released training split (packed/<family>)."""
    family = ablation_settings()["model"]["type"]
    return f"{R}/packed/{family}" if variant.startswith("mixture_") else f"{R}/ablation/data/{variant}"


def ablation_model(variant):
    from arkivlm.ablation import model_entry

    return model_entry(config.get("ablation"), variant)


def sample_manifest():
    return [os.path.join(SAMPLE["path"], "MANIFEST.json")] if SAMPLE else []


# The report's figures and tables (made by rule report_figures) and their categories.
FIGURE_CAPTIONS = {
    "flow_by_stage": "Corpus",
    "flow_by_source": "Corpus",
    "document_lengths": "Corpus",
    "langid_scores": "Corpus",
    "dedup_clusters": "Corpus",
    "ocr_confidence": "Corpus",
    "decades": "Corpus",
    "lines_removed": "Corpus",
    "audit": "Audit",
    "stage_stats": "Corpus",
    "drop_reasons": "Corpus",
    "pii": "Corpus",
    "rights": "Corpus",
    "fertility": "Tokenizer",
    "training_loss": "Training",
    "learning_rate": "Training",
    "throughput": "Training",
    "mixture": "Training",
    "perplexity": "Evaluation",
    "perplexity_by_decade": "Evaluation",
    "task_scores": "Evaluation",
    "task_table": "Evaluation",
}


def figure_path(name):
    from arkivlm.cli import FIGURES

    return f"{R}/report/{name}{FIGURES[name]}"
