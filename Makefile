# Two commands matter: `make run` (the demo) and `make test` (everything).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
CHROMIUM ?= /usr/bin/chromium
PORT ?= 8000

.PHONY: run install test lint unit browser-deps bench bench-deps messages clean

# The demo talks to loopback Kuaidi100 (8100), SMS (8025) and WeChat Pay (8770) emulators.
run: install
	$(BIN)/portal migrate
	PORTAL_DEMO_EMULATORS=1 $(BIN)/portal demo
	PORTAL_DEMO_EMULATORS=1 $(BIN)/portal serve --port $(PORT)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@# The emulators are not in the wheel (demo and tests only): this venv reaches them here.
	$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "portal-repo.pth").write_text("$(CURDIR)\n")'
	rm -f $(VENV)/.installed-*
	touch $@

# Playwright's own browser download does not work everywhere; Debian's Chromium does.
browser-deps:
	@if [ ! -x $(CHROMIUM) ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then \
		echo "installing Chromium and CJK fonts from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -m "not browser"

test: install browser-deps lint
	PORTAL_CHROMIUM=$(CHROMIUM) $(BIN)/pytest

bench-deps:
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)

# With a local PostgreSQL and no PORTAL_BENCH_DATABASE_URL given, the benchmarks run on a
# database of their own too, made fresh for this run and dropped after it (as .ci/run does).
bench: install bench-deps
	@if [ -z "$$PORTAL_BENCH_DATABASE_URL" ] && pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
		db=portal_bench_$$$$; \
		psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $$db" >/dev/null || exit 1; \
		trap 'psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS '"$$db"' WITH (FORCE)" >/dev/null 2>&1 || true' EXIT; \
		echo "PostgreSQL: fresh database $$db (dropped at the end)"; \
		PORTAL_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$$db $(BIN)/python -m bench $(BENCH); \
	else \
		$(BIN)/python -m bench $(BENCH); \
	fi

# Re-extract translatable strings and merge them into the zh_CN catalog.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d portal/locale -w 100

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
