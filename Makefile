# Two entry points (README quickstart): `make quick` and `make test`.
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
CHROMIUM := /usr/bin/chromium

.PHONY: setup quick test
setup: $(VENV)/.installed $(FASHION_MNIST)

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	touch $@

# Fashion-MNIST from Debian's package (offline); without root, prepare falls back to a download.
$(FASHION_MNIST):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	else echo "note: not root; install dataset-fashion-mnist or let torchvision download it"; fi

# Debian's Chromium, for the test that opens reports/index.html in a real browser
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "note: not root; install chromium for the browser test (it is skipped without)"; fi

quick: setup
	stitchkit repro -S suite=quick

test: setup $(CHROMIUM)
	ruff check .
	ruff format --check .
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet
	pytest
