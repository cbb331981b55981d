# Developer and CI entry points. `make help` lists them.
# The virtualenv is rebuilt only when pyproject.toml changes (stamp file).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-pyproject
DEMO_PG := .demo/pg
SMPP_PORT ?= 2775
PHONE_PORT ?= 2776
MAIL_IN_PORT ?= 2525
MAIL_SINK_PORT ?= 2526
DEMO_MAILBOX := .demo/mailbox
DEMO_LOGS := .demo/logs
DEMO_PRIVACY_KEY := .demo/privacy-key
DEMO_CONTACT ?= contact@campaign.example
# pytest processes (pytest-xdist): each starts its own PostgreSQL; 1 runs in this process.
TEST_WORKERS ?= 2

.PHONY: translations help venv demo test test-deps lint typecheck bench clean distclean interop-deps docs

help:
	@echo "make venv       create $(VENV) and install the project with dev tools"
	@echo "make demo       local PostgreSQL + SMSC simulator + mail sink + gateway + admin pages,"
	@echo "                with a made-up story in its database; logs in .demo/logs (Ctrl-C stops all)"
	@echo "make test       test-deps, lint, mypy, then pytest in TEST_WORKERS=2 processes"
	@echo "                (each starts its own throwaway PostgreSQL)"
	@echo "make test-deps  install PostgreSQL, Chromium and node-smpp for the tests when it can"
	@echo "                (best effort: root apt-get, npm; SKIP_TEST_DEPS=1 installs nothing)"
	@echo "make lint       ruff check, hadolint on the Dockerfile"
	@echo "make typecheck  mypy --strict (configured in pyproject.toml)"
	@echo "make bench      run the benchmark scripts in bench/"
	@echo "make docs       regenerate docs/configuration.md from gateway/config.py"
	@echo "make translations  extract the pages' words, update and compile the catalogs"
	@echo "make interop-deps  node-smpp for tests/test_interop.py (skipped without it; needs npm)"
	@echo "make clean      stop the demo/bench databases, remove caches and build output"

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

typecheck: venv
	$(BIN)/mypy

test: test-deps lint typecheck
	$(BIN)/pytest $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# Never fails: what cannot be installed is named with the test that will skip.
test-deps:
	@bash scripts/test-deps

# docs/configuration.md is generated; tests/test_config_reference.py fails when it is stale.
docs: venv
	$(BIN)/python -m gateway.config_reference > docs/configuration.md.tmp
	mv docs/configuration.md.tmp docs/configuration.md

# The pages' words (docs/locale.md): extract to the template, merge into each
# language's .po (then translate what is new or fuzzy), and compile to check it.
# The gateway compiles the .po itself at start; the .mo here is not committed.
TRANSLATIONS := gateway/web/translations
translations: venv
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k NavItem:3 --no-location --sort-output \
		--project=gateway -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-wrap
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

# Optional: without these node modules tests/test_interop.py is skipped, not failed.
interop-deps:
	npm ci --prefix tests/interop --no-audit --no-fund

bench: venv
	@set -e; for script in bench/[!_]*.py; do \
	  [ -f "$$script" ] || continue; \
	  echo "== $$script"; PYTHONPATH=$(CURDIR) $(BIN)/python "$$script"; \
	done

# Without DATABASE_URL, a persistent cluster in $(DEMO_PG) keeps data between runs; it is
# marked as the demo's (devdb --demo), so `gateway demo seed` fills it with its made-up
# story (once: a second run adds nothing). A DATABASE_URL of yours is never seeded.
# One screen of output: every process's JSON logs go to files in $(DEMO_LOGS).
demo: venv
	@set -euo pipefail; \
	pids=""; started_pg=""; \
	cleanup() { \
	  trap - INT TERM EXIT; \
	  if [ -n "$$pids" ]; then kill -TERM $$pids 2>/dev/null || true; wait $$pids 2>/dev/null || true; fi; \
	  if [ -n "$$started_pg" ]; then $(BIN)/python -m gateway.devdb stop --dir $(DEMO_PG) >>$(DEMO_LOGS)/postgres.log 2>&1 || true; fi; \
	  echo "demo stopped"; \
	}; \
	trap cleanup INT TERM EXIT; \
	mkdir -p $(DEMO_LOGS); \
	if [ -z "$${DATABASE_URL:-}" ]; then \
	  DATABASE_URL="$$($(BIN)/python -m gateway.devdb start --demo --dir $(DEMO_PG) 2>>$(DEMO_LOGS)/postgres.log)" \
	    || { echo "the demo database did not start: see $(DEMO_LOGS)/postgres.log"; exit 1; }; \
	  started_pg=1; \
	fi; \
	export DATABASE_URL; \
	if [ ! -s $(DEMO_PRIVACY_KEY) ]; then \
	  (umask 077; $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))' > $(DEMO_PRIVACY_KEY)); \
	fi; \
	export GATEWAY_PRIVACY_HASH_SECRET="$$(cat $(DEMO_PRIVACY_KEY))"; \
	export GATEWAY_KEYWORDS=keywords.yaml GATEWAY_SMPP_PORT=$(SMPP_PORT); \
	export GATEWAY_ORGANIZATION_TIMEZONE="$${GATEWAY_ORGANIZATION_TIMEZONE:-America/New_York}"; \
	export GATEWAY_WEB_COOKIE_SECURE=false GATEWAY_WEB_PHONE_SIMULATOR=$(PHONE_PORT); \
	export GATEWAY_MAIL_SMTP_ENABLED=true GATEWAY_MAIL_SMTP_PORT=$(MAIL_IN_PORT) \
	  GATEWAY_MAIL_CONTACT_ADDRESSES=$(DEMO_CONTACT) GATEWAY_MAIL_FROM_NAME="Campaign contact centre" \
	  GATEWAY_MAIL_OUT_HOST=127.0.0.1 GATEWAY_MAIL_OUT_PORT=$(MAIL_SINK_PORT) \
	  GATEWAY_MAIL_OUT_SECURITY=none GATEWAY_MAIL_DEMO_MAILBOX=$(DEMO_MAILBOX); \
	port="$${GATEWAY_HTTP_PORT:-8080}"; \
	demo_key() { $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))'; }; \
	export GATEWAY_PUBLIC_BASE_URL="http://127.0.0.1:$$port" GATEWAY_WRITE_FORM_ENABLED=true \
	  GATEWAY_WRITE_FORM_SECRET="$$(demo_key)" GATEWAY_MAIL_LINK_SECRET="$$(demo_key)" \
	  GATEWAY_VOICE_ENABLED=true GATEWAY_VOICE_SIMULATOR=true \
	  GATEWAY_VOICE_AUTH_TOKEN="$$(demo_key)" GATEWAY_VOICE_ACCOUNT_SID=ACdemo \
	  GATEWAY_VOICE_PROGRAM=ensemble; \
	echo "preparing the demo (the first run writes its made-up story: about a minute)..."; \
	if seeded="$$($(BIN)/gateway demo seed 2>>$(DEMO_LOGS)/seed.log)"; then \
	  printf '%s\n' "$$seeded" >>$(DEMO_LOGS)/seed.log; \
	  data="$$(printf '%s\n' "$$seeded" | sed -n 1p)"; \
	else \
	  data="not seeded: $$(tail -n 1 $(DEMO_LOGS)/seed.log)"; \
	fi; \
	$(BIN)/gateway smsc --port $(SMPP_PORT) --phone-port $(PHONE_PORT) >>$(DEMO_LOGS)/smsc.log 2>&1 & pids="$$!"; \
	$(BIN)/python -m gateway.mail.demo_sink --port $(MAIL_SINK_PORT) --dir $(DEMO_MAILBOX) \
	  >>$(DEMO_LOGS)/mail-sink.log 2>&1 & pids="$$pids $$!"; \
	$(BIN)/gateway run >>$(DEMO_LOGS)/gateway.log 2>&1 & gateway_pid="$$!"; pids="$$pids $$gateway_pid"; \
	up=""; \
	for _ in $$(seq 150); do \
	  if $(BIN)/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
	      "http://127.0.0.1:$$port/login" 2>/dev/null; then up=1; break; fi; \
	  kill -0 "$$gateway_pid" 2>/dev/null || break; sleep 0.2; \
	done; \
	if [ -z "$$up" ]; then \
	  echo "the gateway did not start; the end of $(DEMO_LOGS)/gateway.log:"; \
	  tail -n 5 $(DEMO_LOGS)/gateway.log; exit 1; \
	fi; \
	login="admin@example.org"; \
	password="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(12))')"; \
	if ! printf '%s\n' "$$password" | \
	    $(BIN)/gateway user add "$$login" --role admin --password-stdin >/dev/null 2>&1; then \
	  printf '%s\n' "$$password" | \
	    $(BIN)/gateway user password "$$login" --password-stdin >/dev/null; \
	fi; \
	url="http://127.0.0.1:$$port"; \
	echo; \
	echo "The demo is running: every supporter, gift and question in it is made up."; \
	echo "  admin pages     $$url/   log in as $$login, password $$password"; \
	echo "  phone           $$url/phone   (text either short code as a supporter)"; \
	echo "  call simulator  $$url/voice-line/simulator"; \
	echo "  mailbox         $$url/mailbox   (mail $(DEMO_CONTACT) on 127.0.0.1:$(MAIL_IN_PORT))"; \
	echo "  write form      $$url/write"; \
	echo "  demo data       $$data"; \
	echo "  command line    export DATABASE_URL=$$DATABASE_URL"; \
	echo "                  export GATEWAY_PRIVACY_HASH_SECRET=\$$(cat $(DEMO_PRIVACY_KEY))"; \
	echo "  logs            $(DEMO_LOGS)/gateway.log  (and smsc.log, mail-sink.log, seed.log)"; \
	echo "Ctrl-C stops the gateway, the simulators and the demo database."; \
	wait -n $$pids || true

clean:
	@for pg in $(DEMO_PG) .bench/pg; do \
	  if [ -f $$pg/PG_VERSION ] && [ -x $(BIN)/python ]; then \
	    $(BIN)/python -m gateway.devdb stop --dir $$pg || true; fi; \
	done
	rm -rf .demo .bench .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
