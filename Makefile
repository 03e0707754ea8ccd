# Everything starts from nothing: each target creates .venv and installs zsk into it when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The PyTorch build to install first; by default the versions the project is tested with.
# Override for another build or index: make setup TORCH="torch torchvision".
TORCH ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.zsk-installed
DEMO_DATA ?= data/shapes

# f-CLSWGAN on the field's benchmark files (xlsa17): XLSA17 holds AWA2/ and CUB/
XLSA17 ?= data/xlsa17
DATASET ?= awa2
XLSA17_FOLDER_awa2 := AWA2
XLSA17_FOLDER_cub := CUB

.PHONY: setup test lint demo demo-features fclswgan bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip uninstall -q -y zsk 2>/dev/null || true  # zsk's distribution name before zsk-toolkit
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

test: setup
	OMP_NUM_THREADS=2 $(BIN)/pytest -q
	PYTHON=$(BIN)/python bash examples/zsk-plugin-example/ci.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two stages in one spec: the image GAN (the recogniser, whose generator imagines the unseen
# classes), then a feature GAN of its discriminator's embeddings φ(x), which zsk train extracts
# between the stages; each stage's validation run (some seen classes held out) is built and
# trained with it and chooses GZSL's constants and the headline routes: no extra flag.
demo-features: setup
	test -f $(DEMO_DATA)/classes.txt || $(BIN)/zsk data synth $(DEMO_DATA)
	$(BIN)/zsk build examples/shapes-two-stage.yaml --force
	$(BIN)/zsk train
	$(BIN)/zsk eval

# The same, and runs/shapes-two-stage/report.md (imagined images of the unseen classes, every
# route of both stages)
demo: demo-features
	$(BIN)/zsk report

# Build, train (the run and its validation run on the benchmark's val_loc classes) and evaluate
# f-CLSWGAN with the published settings: make fclswgan DATASET=awa2 (or cub) XLSA17=DIR
fclswgan: setup
	$(BIN)/zsk build examples/fclswgan-$(DATASET)-xlsa17.yaml --force \
		--set data.params.root=$(XLSA17)/$(XLSA17_FOLDER_$(DATASET))
	$(BIN)/zsk train
	$(BIN)/zsk eval

bench: setup
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) runs build dist *.egg-info
