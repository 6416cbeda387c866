#!/usr/bin/env bash
# JMeter for the tests: Debian 12's jmeter 2.13 (installed by scripts/setup) cannot load any plan as
# packaged (its XStream 1.4.20 allow-list refuses JMeter's types). perforch starts it through the
# launcher perforch/adapters/jmeter/launcher/PerforchJMeter.java, which adds the permission. This
# hook checks that the fix works: it compiles the launcher once (when javac is there; otherwise
# java runs it as a source file) and loads a plan with no sampler. A stamp skips it next time.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
if ! command -v jmeter >/dev/null 2>&1; then
  echo "[jmeter] jmeter is not installed (scripts/setup test installs Debian's jmeter jmeter-http)" >&2
  exit 1
fi
stamp="$VENV/.perforch-jmeter-$(cat perforch/adapters/jmeter/launcher/PerforchJMeter.java perforch/adapters/jmeter/debian.py \
  /usr/share/jmeter/bin/ApacheJMeter.jar 2>/dev/null | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0

"$PY" -m perforch.adapters.jmeter.debian
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/empty.jmx" <<'JMX'
<?xml version="1.0" encoding="UTF-8"?>
<jmeterTestPlan version="1.2" properties="2.8" jmeter="2.13">
  <hashTree>
    <TestPlan guiclass="TestPlanGui" testclass="TestPlan" testname="setup check" enabled="true"/>
    <hashTree/>
  </hashTree>
</jmeterTestPlan>
JMX
"$PY" - "$tmp" <<'PY'
import subprocess, sys
from pathlib import Path
from perforch.adapters.base import Launch
from perforch.adapters.jmeter.tool import JMeterAdapter

tmp = Path(sys.argv[1])
adapter = JMeterAdapter()
argv = adapter.command(Launch(tmp, tmp, adapter.find_binary()), None)
argv[argv.index("-t") + 1] = str(tmp / "empty.jmx")
done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
if done.returncode != 0:
    print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
    sys.exit(f"[jmeter] JMeter could not load a plan (exit code {done.returncode})")
print(f"[jmeter] JMeter {adapter.version(adapter.find_binary())} loads plans", file=sys.stderr)
PY
touch "$stamp"
