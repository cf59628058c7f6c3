# Two commands: `make run` (the app with everything it needs, embedded defaults) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell md5sum pyproject.toml | cut -c1-12)
PORT ?= 5000
TEST_DATABASE_URL ?=
# No .env is read (README): python-dotenv is no dependency of the app, but a dev tool pulls it in.
export FLASK_SKIP_DOTENV := 1

.PHONY: run test test-sqlite test-postgres venv chromium poppler redis interop-provider libreoffice lint bench screens clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 est requis ($(PYTHON) introuvable)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: venv
	$(BIN)/python scripts/dev.py --port $(PORT)

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# pdfinfo, pdffonts, pdftotext: the PDF readers of tests/routes/test_pdf_rendering.py.
poppler:
	@command -v pdfinfo >/dev/null || { apt-get update -qq && apt-get install -y -qq poppler-utils >/dev/null; }

# The certified OpenID provider of tests/interop (npm's oidc-provider, pinned by its package-lock.json).
interop-provider:
	@test -d tests/interop/node_modules/oidc-provider || npm ci --prefix tests/interop --no-audit --no-fund

# The suite keeps sessions and rate limits in Redis (127.0.0.1:6379, nothing on disk): start one if none answers.
redis: venv
	@$(BIN)/python -c "import redis; redis.Redis(host='127.0.0.1', port=6379).ping()" 2>/dev/null || { \
	  command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }; \
	  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes; }

# The export tests open XLSX/ODS files with LibreOffice headless (tests/routes/test_tabular.py).
libreoffice:
	@command -v libreoffice >/dev/null || command -v soffice >/dev/null || { apt-get update -qq && \
		apt-get install -y -qq libreoffice-calc-nogui >/dev/null; }

test: venv chromium poppler redis interop-provider libreoffice
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$(TEST_DATABASE_URL)" ]; then $(MAKE) --no-print-directory test-postgres; \
	else echo "TEST_DATABASE_URL non défini : suite PostgreSQL non lancée."; fi

test-sqlite:
	TEST_BACKEND=sqlite $(BIN)/pytest

test-postgres:
	TEST_BACKEND=postgres TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest

lint: venv
	$(BIN)/ruff check app tests bench scripts config.py wsgi.py
	$(BIN)/ruff format --check app tests bench scripts config.py wsgi.py

bench: venv
	$(BIN)/python bench/portfolio.py

# docs/screens/*.png, linked from the README: each role's home and the main pages on the demo scenario.
screens: venv chromium
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) instance/app.sqlite3 .pytest_cache
