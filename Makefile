# make run   : fresh clone -> .venv with pinned deps -> the whole workflow on the sample archive
# make test  : fresh clone -> .venv with pinned deps -> the whole test suite
# make bench : benchmarks (not part of the tests)
#
# Needs Python 3.11+ and Java 17 (Spark). As root on Debian/Ubuntu a missing Java is installed.

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-data.txt pyproject.toml | cksum | cut -d' ' -f1)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
CORES  ?= all

.PHONY: run test slurm slurm-test bench bench-venv-datatrove lint java chromium venv spark-classes clean-results

venv: $(STAMP)

$(STAMP): requirements.txt requirements-data.txt pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	$(VENV)/bin/python -m pip install -q --no-deps -r requirements-data.txt
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e . || \
	  $(VENV)/bin/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

# The Spark driver JVM's class-data archive for this venv and Java (arkivlm/class_archive.py):
# built once (~40 s), then every Spark stage starts about 2 s sooner. A no-op where it exists.
spark-classes: venv java
	@python -m arkivlm.class_archive

java:
	@command -v java >/dev/null 2>&1 || [ -n "$$JAVA_HOME" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Java not found: installing openjdk-17-jre-headless"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	  else echo "Spark needs Java 17: install openjdk-17-jre-headless (or set JAVA_HOME) and rerun."; exit 1; fi; }

# The report test opens report.html in headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "chromium not found: installing Debian's chromium for the report test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "warning: chromium missing; the report test will fail (apt-get install chromium)"; fi; }

run: venv java spark-classes
	snakemake --cores $(CORES)
	snakemake --report results/report.html
	@echo
	@echo "Report:  $(CURDIR)/results/report.html"
	@echo "Corpus:  $(CURDIR)/results/corpus/"
	@echo "Stats:   $(CURDIR)/results/stats/"
	@echo "Models:  $$(ls -d $(CURDIR)/results/models/*/hf | tr '\n' ' ')"
	@echo "Metrics: $$(ls $(CURDIR)/results/eval/*/metrics.json | tr '\n' ' ')"

# As root (as CI is) the suite includes the Slurm tests: a single-node Slurm is started first.
test: venv java spark-classes chromium
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory slurm && export ARKIVLM_SLURM_TEST=1; fi; \
	python -m pytest -q -rs --durations=30

# A single-node Slurm shaped like a MeluXina GPU node (root; Debian's slurm-wlm and munge).
slurm:
	bash tests/slurm/start_slurm.sh

slurm-test: venv java spark-classes slurm
	ARKIVLM_SLURM_TEST=1 python -m pytest -q -rs tests/test_slurm.py tests/test_meluxina_profile.py

lint: venv
	snakemake --lint

# As root, the test Slurm is started first: Snakemake's Slurm executor plugin asks `scontrol show
# config` at every start, which waits 10 s where Slurm's tools are installed but no controller runs.
bench: venv java spark-classes bench-venv-datatrove
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory slurm; fi
	python -m bench.run

# The datatrove peer's own venv (bench only; datatrove is no dependency of the project).
DT_VENV  := bench/.venv-datatrove
DT_STAMP := $(DT_VENV)/.installed-$(shell cat bench/requirements-datatrove.txt | cksum | cut -d' ' -f1)

bench-venv-datatrove: $(DT_STAMP)

$(DT_STAMP): bench/requirements-datatrove.txt | venv
	@test -x $(DT_VENV)/bin/python || $(PYTHON) -m venv $(DT_VENV)
	$(DT_VENV)/bin/python -m pip install -q -r bench/requirements-datatrove.txt
	$(DT_VENV)/bin/python bench/datatrove_check.py "$$($(VENV)/bin/python -c 'from arkivlm.langid import default_model_path; print(default_model_path())')"
	rm -f $(DT_VENV)/.installed-*
	touch $@

clean-results:
	rm -rf results archive/sample .snakemake
