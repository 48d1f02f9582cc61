import glob
import json
import os
import shutil

from snakemake.utils import validate


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
    sample_root = os.path.normpath(SAMPLE["path"]) if SAMPLE else None
    for i, src in enumerate(cfg["sources"]):
        generated = sample_root and os.path.normpath(src["path"]).startswith(sample_root + os.sep)
        if not generated and next(glob.iglob(src["path"], recursive=True), None) is None:
            raise ValueError(
                f"config key sources[{i}].path: the glob {src['path']!r} of source {src['name']!r} matches no file; "
                "fix the path (relative paths start at the working directory) or remove the source.")
    parent = os.path.abspath(R)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.access(parent, os.W_OK):
        raise ValueError(f"config key results: {R!r} is not writable ({parent} denies writing); choose another results directory.")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ValueError("Spark needs Java 17 and no `java` was found: install it "
                         "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME.")


check_config(config)


def settings(section):
    """A config section as one JSON argument; a changed threshold reruns its stage and those after it."""
    return json.dumps(config.get(section, {}), sort_keys=True)


def sample_manifest():
    return [os.path.join(SAMPLE["path"], "MANIFEST.json")] if SAMPLE else []
