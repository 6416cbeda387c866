"""Runs JMeter and makes its exit code honest (standard library only; started as a script).

JMeter 2.13 exits 0 when it cannot load the plan: it only writes "Error in NonGUIDriver" to its
log. This wrapper runs the JMeter command, waits for it, then looks at the log for such plan
errors and exits 1 with the reason on stderr, so the run fails with the cause in its message.

Ctrl-C and timeouts: the runner signals the whole process group; JMeter stops (its CSV results are
flushed after every sample), and this wrapper ignores the signal so that it outlives JMeter and
returns JMeter's exit code.

    python supervise.py JMETER_LOG -- JMETER_COMMAND...
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

FATAL = re.compile(r"Error in NonGUIDriver|ForbiddenClassException|CannotResolveClassException|"
                   r"Problem loading XML|Could not open|Test plan is empty|Error loading|"
                   r"Error in the test plan|An error occurred")
TAIL_LINES = 6


def plan_errors(log_text: str) -> list[str]:
    """The lines of a JMeter log (or its output) that say the plan did not load."""
    lines = log_text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if FATAL.search(line) and ("ERROR" in line or "FATAL" in line or not re.match(r"\d{4}[-/]", line)):
            found.append(line.strip())
            found += [x.strip() for x in lines[i + 1:i + 1 + TAIL_LINES] if x.strip() and not re.match(r"\d{4}[-/]", x)]
            break
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: supervise.py JMETER_LOG -- COMMAND...", file=sys.stderr)
        return 2
    log = Path(argv[0])
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(argv[2:], restore_signals=True,
                                preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM)])
    except OSError as exc:
        print(f"cannot start {argv[2]}: {exc}", file=sys.stderr)
        return 127
    code = proc.wait()
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    errors = plan_errors(text)
    if errors:
        print("JMeter could not run the plan (from " + str(log) + "):", file=sys.stderr)
        for line in errors:
            print("  " + line, file=sys.stderr)
        return code or 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
