# `make test` and `make demo` bootstrap .venv themselves: a fresh machine needs nothing but python3.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# Re-install only when what we install from changes.
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv test test-fast demo demo-seg demo-video benchmark clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml requirements/constraints.txt
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	# setuptools<81: mmengine 0.10.7 resolves `mmaction::`/`mmseg::` bases through pkg_resources.
	$(VPY) -m pip install -q -c requirements/constraints.txt setuptools pip
	$(VPY) -m pip install -q -c requirements/constraints.txt -e '.[all,test]'
	touch $(STAMP)

test: $(STAMP)
	SNL_NO_SKIPS=1 $(VPY) -m pytest -q -rs $(PYTEST_ARGS)

test-fast: $(STAMP)
	SNL_NO_SKIPS=1 $(VPY) -m pytest -q -rs -m "not slow" $(PYTEST_ARGS)

# What the block is for: DeepLabV3-R18 plain / + NL / + SNL / + gSNL on digit scenes where a blank box takes the class
# of the digit that appears twice, through tools/train.py and tools/test.py; prints the comparison, writes the
# pictures (docs/demo.md). Options: make demo DEMO_ARGS="--seeds 0 1 2" (the documented full run),
# DEMO_ARGS="--models plain snl" (half the time), DEMO_ARGS="--task digits" (classification of the digits)
demo: $(STAMP)
	$(VPY) tools/demo.py $(DEMO_ARGS)

# The same scenes demo (docs/segmentation.md); options: make demo-seg DEMO_SEG_ARGS="--iters 200 --out DIR"
demo-seg: $(STAMP)
	$(VPY) tools/demo.py --task scenes $(DEMO_SEG_ARGS)

# I3D plain vs + SNL on "moving digits" videos (UCF-101 layout, decord) through tools/train.py and tools/test.py
# (docs/video.md, "make demo-video"); options: make demo-video DEMO_VIDEO_ARGS="--seeds 0 1 --epochs 6"
demo-video: $(STAMP)
	$(VPY) tools/demo.py --task video $(DEMO_VIDEO_ARGS)

benchmark: $(STAMP)
	$(VPY) tools/analysis/benchmark_blocks.py --out docs/benchmark_blocks

clean:
	rm -rf $(VENV) *.egg-info
