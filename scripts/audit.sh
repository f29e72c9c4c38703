#!/usr/bin/env bash
# Audit the resolved dependencies installed in .venv for known vulnerabilities with pip-audit (PyPI's advisory
# data by default). Extra arguments go to pip-audit, e.g. `scripts/audit.sh --ignore-vuln GHSA-xxxx-xxxx-xxxx`
# or `scripts/audit.sh -s osv`.
#
# pip-audit says "No known vulnerabilities found" even when it could look up none of the packages (PyPI's
# per-release JSON unreachable, say); this script counts what was really audited and fails when nothing was.
# Exit codes: 0 no known vulnerability, 1 vulnerabilities found, 2 the audit could not run or audited nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  echo "no .venv here: run scripts/test.sh first" >&2
  exit 2
fi
.venv/bin/python -m pip install -q --disable-pip-version-check pip-audit

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
# --skip-editable: news-assistant itself (installed editable) is not on PyPI.
.venv/bin/python -m pip_audit --local --skip-editable --progress-spinner off --aliases on --desc off \
  --format json --output "$report" "$@" || status=$?

.venv/bin/python - "$report" "$status" <<'PY'
import json
import sys

path, status = sys.argv[1], int(sys.argv[2])
try:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
except (OSError, ValueError):
    print(f"audit: pip-audit wrote no report (exit code {status})", file=sys.stderr)
    sys.exit(2)
deps = [d for d in data.get("dependencies", []) if "editable" not in (d.get("skip_reason") or "")]
skipped = [d for d in deps if d.get("skip_reason")]
audited = [d for d in deps if not d.get("skip_reason")]
vulnerable = [d for d in audited if d.get("vulns")]
for d in vulnerable:
    for v in d["vulns"]:
        fixes = ", ".join(v.get("fix_versions") or []) or "no fixed release"
        aliases = ", ".join(v.get("aliases") or [])
        print(f"VULNERABLE {d['name']} {d['version']}: {v['id']}" + (f" ({aliases})" if aliases else "")
              + f"; fixed in: {fixes}")
print(f"audit: {len(audited)} of {len(deps)} installed distributions audited, "
      f"{sum(len(d['vulns']) for d in vulnerable)} known vulnerabilities in {len(vulnerable)} of them")
if skipped:
    names = ", ".join(sorted(f"{d['name']}" for d in skipped))
    print(f"audit: NOT audited ({len(skipped)}): {names}", file=sys.stderr)
    print(f"audit: e.g. {skipped[0]['skip_reason']}", file=sys.stderr)
    # A local build such as torch 2.13.0+cpu is never on PyPI under that version: audit its base version by hand.
if not audited:
    print("audit: nothing could be audited: the advisory service is unreachable from here, so no result is "
          "a clean bill of health", file=sys.stderr)
    sys.exit(2)
if vulnerable:
    sys.exit(1)
if status not in (0, 1):
    sys.exit(2)
PY
