# Huzhu — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HUZHU := $(VENV)/bin/huzhu
PORT ?= 8000
DEMO_PASSWORD ?= huzhu-demo
PYTEST_WORKERS ?= 2
export HUZHU_DEBUG ?= 1

.PHONY: install demo test test-sqlite test-postgres lint browser-deps messages clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "需要 Python 3.11 ($(PYTHON))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# Chromium and CJK fonts for browser tests and screenshots, from Debian's packages.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q chromium fonts-noto-cjk >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-noto-cjk >/dev/null)); \
	  else \
	    sudo apt-get install -y -q chromium fonts-noto-cjk >/dev/null; \
	  fi; \
	fi
	@test -x /usr/bin/chromium || { echo "Chromium 未安装：apt-get install chromium fonts-noto-cjk"; exit 1; }

# Compiled catalogs are committed too; recompile when GNU gettext is on the machine.
messages: $(VENV)/.installed
	@if command -v msgfmt >/dev/null; then \
	  $(HUZHU) compilemessages --ignore '.venv/*' --ignore 'node_modules/*' >/dev/null; \
	else echo "msgfmt 未安装：使用已提交的 .mo 翻译文件"; fi

install: $(VENV)/.installed node_modules/.installed messages
	@mkdir -p var

demo: install
	$(HUZHU) migrate --noinput
	$(HUZHU) seed-demo --password $(DEMO_PASSWORD) --if-empty
	@echo "Huzhu 演示：http://127.0.0.1:$(PORT)/ （以上为演示账号，密码 $(DEMO_PASSWORD)）"
	$(HUZHU) runserver 127.0.0.1:$(PORT)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check huzhu tests benchmarks >/dev/null
	env -u DATABASE_URL $(HUZHU) makemigrations --check --dry-run >/dev/null

test: install browser-deps lint test-sqlite test-postgres

test-sqlite:
	@echo "== test suite on SQLite =="
	env -u DATABASE_URL -u HUZHU_DATABASE_URL $(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q

test-postgres:
	@if [ -n "$$DATABASE_URL" ]; then \
	  echo "== test suite on PostgreSQL =="; \
	  $(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q; \
	else echo "DATABASE_URL 未设置：跳过 PostgreSQL（.ci/run 会设置）"; fi

clean:
	rm -rf $(VENV) node_modules var
