# Two commands do all the set-up: `make test` and `make notebooks` (both run `make setup` first).
# Every set-up step leaves a stamp in .stamps/, so running them again costs nothing.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT       := $(CURDIR)
VENV       := $(ROOT)/.venv
PYTHON     := $(VENV)/bin/python
TOOLS      := $(ROOT)/.tools
STAMPS     := $(ROOT)/.stamps
KERNEL     := rust-lstm
KERNEL_DIR := $(VENV)/share/jupyter/kernels/$(KERNEL)
EVCXR_VERSION := 0.22.0
# Python for creating the venv: any CPython >= 3.10 with the venv module.
BASE_PYTHON ?= python3
# Per-cell limit for headless runs; training cells need minutes on a 2-core CPU.
CELL_TIMEOUT ?= 3600
# Notebooks executed at once by `make notebooks` and `make test`, each in its own kernel and
# build slot (.evcxr/slotN; `make setup` warms two).
NOTEBOOK_JOBS ?= 2

export PATH := $(VENV)/bin:$(TOOLS)/bin:$(PATH)
# `make notebooks RETRAIN=1` retrains finished runs; QUICK=1 runs the notebooks on a small subset.
export RETRAIN QUICK

.PHONY: help setup test test-lab chromium notebooks handouts nbgrader-course doc lab clean check-gpu bench fuzz
help:
	@echo "make test       set up everything (first time: ~15 min, ~5 GB) and run the tests"
	@echo "make test-lab   JupyterLab in a real browser (Debian's chromium, installed when missing): runs notebook 00"
	@echo "make notebooks  set up everything and execute every notebook in notebooks/"
	@echo "make handouts   write notebooks/handouts/: the notebooks with their exercises cleared (nbgrader)"
	@echo "make nbgrader-course COURSE=dir  an nbgrader course in dir: its nbgrader_config.py and source/"
	@echo "make doc        build lstm_support's API documentation (target/doc/lstm_support/index.html)"
	@echo "make lab        open JupyterLab on notebooks/"
	@echo "make bench      recurrent training speed with recurrent dropout (libtorch paths, native kernels) against fused and PyTorch"
	@echo "make fuzz       fuzz the data-file and run-record parsers (FUZZ_SECONDS each, default 600)"
	@echo "make check-gpu  print whether libtorch sees CUDA"
	@echo "make clean      remove build outputs and the environment (.venv, .tools, target, .evcxr)"

setup: $(STAMPS)/venv $(STAMPS)/cargo-config $(STAMPS)/evcxr $(STAMPS)/kernel $(STAMPS)/kernel-warm

$(STAMPS)/venv: requirements.txt
	@echo "==> Creating .venv with PyTorch 2.13.0 (libtorch for tch), JupyterLab, nbconvert (~5 GB, a few minutes)"
	@mkdir -p $(STAMPS)
	@test -x $(PYTHON) || $(BASE_PYTHON) -m venv $(VENV)
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@$(PYTHON) -c 'from importlib.metadata import version; v = version("torch"); assert v.split("+")[0] == "2.13.0", v; print("    torch", v)'
	@touch $@

# Plain `cargo build` / `cargo test` use the same settings through this generated file.
$(STAMPS)/cargo-config: $(STAMPS)/venv tools/write-cargo-config
	@echo "==> Writing .cargo/config.toml (build tch against .venv's PyTorch)"
	@tools/write-cargo-config "$(ROOT)"
	@touch $@

$(STAMPS)/evcxr:
	@echo "==> Installing evcxr_jupyter $(EVCXR_VERSION) into .tools/ (compiles from source: 6-7 min on 2 cores)"
	@mkdir -p $(STAMPS)
	@cargo install --quiet --locked --root $(TOOLS) evcxr_jupyter@$(EVCXR_VERSION)
	@touch $@

$(STAMPS)/kernel: $(STAMPS)/venv $(STAMPS)/evcxr tools/write-kernelspec tools/evcxr-kernel tools/evcxr/evcxr.toml
	@echo "==> Registering the '$(KERNEL)' Jupyter kernel inside .venv"
	@tools/write-kernelspec "$(ROOT)" "$(KERNEL_DIR)"
	@touch $@

# The kernel's first `:dep lstm_support` compiles tch and plotters (about 3 minutes here); doing
# it once now means no notebook's first cell waits for it (later changes rebuild incrementally).
# A second kernel running at the same time builds in the next slot: slot1 starts as a copy of
# slot0 (cargo reuses a copied build directory; 400 MB), for `--jobs 2`.
$(STAMPS)/kernel-warm: $(STAMPS)/kernel tools/warm-kernel.ipynb
	@echo "==> Building lstm_support in the kernel's cache (first time: ~3 min)"
	@$(PYTHON) tools/run_notebooks.py --kernel $(KERNEL) --timeout $(CELL_TIMEOUT) \
		--output-dir target/warm-kernel --html-dir target/warm-kernel tools/warm-kernel.ipynb
	@rm -rf .evcxr/slot1.tmp && cp -a .evcxr/slot0 .evcxr/slot1.tmp
	@rm -rf .evcxr/slot1 && mv .evcxr/slot1.tmp .evcxr/slot1
	@touch $@

test: setup
	@echo "==> cargo test (first run compiles tch against libtorch: a few minutes)"
	cargo test --workspace
	@echo "==> Checking the notebooks: short cells, no unwrap/panic, no Debug output, no absolute paths"
	@$(PYTHON) tools/check_notebooks.py notebooks/*.ipynb
	@echo "==> Executing every notebook in quick mode (QUICK=1) into target/notebooks-quick/"
	@QUICK=1 $(PYTHON) tools/run_notebooks.py --kernel $(KERNEL) --timeout $(CELL_TIMEOUT) \
		--jobs $(NOTEBOOK_JOBS) --output-dir target/notebooks-quick --html-dir target/notebooks-quick/html notebooks/*.ipynb
	@$(PYTHON) tools/check_notebooks.py target/notebooks-quick/*.ipynb
	@echo "==> Handouts: up to date, each stops at its first exercise with that exercise's task"
	@$(PYTHON) tools/tests/test_handouts.py notebooks/handouts/*.ipynb
	@echo "==> Interrupting a training cell in the real kernel, then re-running: it must resume"
	@$(PYTHON) tools/tests/test_interrupt_resume.py
	@echo "==> A wrong input in the real kernel: an error value saying what was expected, no panic, variables kept"
	@$(PYTHON) tools/tests/test_error_values.py
	@echo "==> A failed check, a \`?\` error or a panic is the cell's Jupyter error; Run All stops there; variables kept"
	@$(PYTHON) tools/tests/test_kernel_errors.py
	@echo "==> nbgrader end to end (quick): generate, autograde the solution, the blank handout and one wrong answer, export"
	@QUICK=1 $(PYTHON) tools/tests/test_nbgrader.py

# JupyterLab from .venv, driven by Playwright (PyPI) in Debian's chromium (no browser download).
test-lab: setup chromium
	@echo "==> JupyterLab in chromium: notebook 00, all cells, figures rendered (screenshot in target/test-lab/)"
	@$(PYTHON) tools/tests/test_lab.py

chromium:
	@if ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "==> Installing Debian's chromium package (apt-get, about a minute)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "make test-lab needs a browser: install Debian's chromium package (sudo apt-get install chromium)"; \
			exit 1; \
		fi; \
	fi

notebooks: setup
	@echo "==> Executing every notebook; outputs saved in place, HTML in notebooks/html/"
	@$(PYTHON) tools/run_notebooks.py --kernel $(KERNEL) --timeout $(CELL_TIMEOUT) \
		--jobs $(NOTEBOOK_JOBS) notebooks/*.ipynb

# The solution notebooks' exercises cleared by nbgrader's ClearSolutions (committed, unexecuted).
handouts: $(STAMPS)/venv
	@$(PYTHON) tools/make_handouts.py --out notebooks/handouts notebooks/*.ipynb

# An nbgrader course directory for the notebooks with exercises (see "For teachers" in README.md).
nbgrader-course: setup
	@test -n "$(COURSE)" || { echo "usage: make nbgrader-course COURSE=<directory>"; exit 2; }
	@$(PYTHON) tools/nbgrader_course.py "$(COURSE)" notebooks/*.ipynb

# The crate's API documentation, for students and teachers: every type, with its examples.
doc: $(STAMPS)/cargo-config
	cargo doc -p lstm_support --no-deps
	@echo "==> Open $(ROOT)/target/doc/lstm_support/index.html in a browser"

lab: setup
	@cd notebooks && jupyter lab

# BENCH_ARGS, e.g. `make bench BENCH_ARGS="--units 32 --layers 1 --batches 30"`.
bench: $(STAMPS)/venv $(STAMPS)/cargo-config
	@echo "==> Benchmark: table on stdout, JSON in target/bench/lstm-bench.json"
	cargo run --quiet --release -p lstm_cli --bin lstm-bench -- --python $(PYTHON) $(BENCH_ARGS)

# cargo fuzz needs the nightly toolchain (rustup installs it) and a C++ compiler for libFuzzer.
# Without a sanitizer: the parsers are safe Rust, and ASan does not mix with libtorch's
# allocator; libFuzzer still gets its coverage instrumentation.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := idx run_record
fuzz: $(STAMPS)/cargo-config $(STAMPS)/cargo-fuzz
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@# lstm_support's rpath to libtorch covers its own binaries only, not the fuzz targets.
	@export LD_LIBRARY_PATH="$$($(PYTHON) -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"; \
	for target in $(FUZZ_TARGETS); do \
		echo "==> fuzzing $$target for $(FUZZ_SECONDS) s (corpus in target/fuzz-corpus/$$target)"; \
		mkdir -p target/fuzz-corpus/$$target; \
		(cd fuzz && cargo +nightly fuzz run --sanitizer none $$target \
			../target/fuzz-corpus/$$target seeds/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -print_final_stats=1) \
			2>&1 | tee target/fuzz-$$target.log | { grep -E '^(#[0-9]+ +DONE|stat::|==)' || true; }; \
	done

$(STAMPS)/cargo-fuzz:
	@echo "==> Installing cargo-fuzz into .tools/"
	@mkdir -p $(STAMPS)
	@cargo install --quiet --locked --root $(TOOLS) cargo-fuzz
	@touch $@

check-gpu: $(STAMPS)/cargo-config
	cargo run --quiet --release -p lstm_support --example device_info

clean:
	rm -rf target .evcxr .venv .tools .stamps .cargo/config.toml
