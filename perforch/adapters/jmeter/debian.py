"""Debian 12's jmeter 2.13 package, which cannot load any plan as shipped.

Debian builds JMeter 2.13 against its own XStream 1.4.20, whose allow-list refuses JMeter's types
(`ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper`). perforch starts such a JMeter
through launcher/PerforchJMeter.java, which adds XStream's "any type" permission and then runs
JMeter's normal entry point (see that file). The launcher is compiled once into a cache directory
(javac), or run as a single-file source program when no compiler is around (`java File.java`).

    python -m perforch.adapters.jmeter.debian        # check, compile the launcher, print how JMeter starts
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from perforch.errors import ToolNotFound

LAUNCHER = "PerforchJMeter"
FIRST_STRICT_XSTREAM = (1, 4, 18)  # allow-list on by default from XStream 1.4.18


@dataclass(frozen=True, slots=True)
class Install:
    """Where a JMeter lives and what it is."""

    home: Path | None
    version: str
    needs_xstream_fix: bool


def describe(binary: str) -> Install:
    """Find JMETER_HOME and the version without starting a JVM (from ApacheJMeter.jar's manifest)."""
    home = jmeter_home(Path(binary))
    if home is None:
        return Install(None, "unknown", False)
    manifest = _manifest(home / "bin" / "ApacheJMeter.jar")
    version = _short_version(_manifest_value(manifest, "Implementation-Version") or "unknown")
    return Install(home, version, _strict_xstream(version, manifest))


def _short_version(text: str) -> str:
    """"2.13.19691222" (Debian's build stamp) -> "2.13"; "5.6.3" stays."""
    parts = re.findall(r"\d+", text)
    if len(parts) < 2:
        return text
    return ".".join(parts[:3] if len(parts) > 2 and len(parts[2]) <= 3 else parts[:2])


def jmeter_home(binary: Path) -> Path | None:
    """JMeter's home for a `jmeter` launcher: <home>/bin/jmeter, or a wrapper that names it."""
    try:
        real = binary.resolve()
    except OSError:
        return None
    if (real.parent / "ApacheJMeter.jar").is_file():
        return real.parent.parent
    try:
        head = real.read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return None
    match = re.search(r"-Djmeter\.home=(\S+)", head)
    if match and (Path(match.group(1)) / "bin" / "ApacheJMeter.jar").is_file():
        return Path(match.group(1))
    return None


def launcher_argv(home: Path) -> list[str]:
    """The command that starts JMeter at `home` with the XStream permission added."""
    java = shutil.which("java", path=os.environ.get("PATH")) or (
        str(Path(os.environ["JAVA_HOME"]) / "bin" / "java") if os.environ.get("JAVA_HOME") else None)
    if not java:
        raise ToolNotFound("java not found on PATH", hint="install a Java runtime (apt-get install default-jdk-headless)")
    jars = [home / "bin" / "ApacheJMeter.jar"]
    for sub in ("lib", "lib/ext"):
        jars += sorted((home / sub).glob("*.jar"))
    compiled = compiled_launcher(jars)
    classpath = os.pathsep.join([*([str(compiled)] if compiled else []), *map(str, jars)])
    entry = LAUNCHER if compiled else str(_source())
    return [java, f"-Djmeter.home={home}", "-cp", classpath, entry]


def compiled_launcher(jars: list[Path]) -> Path | None:
    """A directory with PerforchJMeter.class, compiled once per launcher version; None without javac."""
    source = _source()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "perforch" / f"jmeter-launcher-{digest}"
    if (cache / f"{LAUNCHER}.class").is_file():
        return cache
    javac = shutil.which("javac")
    if not javac:
        return None
    try:
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([javac, "-nowarn", "-d", str(cache), str(source)], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return cache if done.returncode == 0 and (cache / f"{LAUNCHER}.class").is_file() else None


def _source() -> Path:
    return Path(str(resources.files(__package__).joinpath("launcher", f"{LAUNCHER}.java")))


def _manifest(jar: Path) -> str:
    try:
        with zipfile.ZipFile(jar) as z:
            return z.read("META-INF/MANIFEST.MF").decode("utf-8", "replace").replace("\r\n ", "").replace("\n ", "")
    except (OSError, KeyError, zipfile.BadZipFile):
        return ""


def _manifest_value(manifest: str, key: str) -> str | None:
    match = re.search(rf"^{re.escape(key)}:\s*(.+)$", manifest, re.MULTILINE)
    return match.group(1).strip() if match else None


def _strict_xstream(version: str, manifest: str) -> bool:
    """JMeter before 3.0 linked against a system XStream that has the allow-list (Debian's packaging)."""
    if not version.startswith("2."):
        return False
    classpath = _manifest_value(manifest, "Class-Path") or ""
    jar = next((Path(p) for p in classpath.split() if Path(p).name.startswith("xstream")), None)
    if jar is None:
        return False
    found = _manifest_value(_manifest(jar), "Bundle-Version") or _manifest_value(_manifest(jar), "Implementation-Version")
    numbers = tuple(int(x) for x in re.findall(r"\d+", found or "")[:3])
    return bool(numbers) and numbers >= FIRST_STRICT_XSTREAM


def main() -> int:
    binary = shutil.which("jmeter")
    if not binary:
        print("no jmeter on PATH", file=sys.stderr)
        return 1
    install = describe(binary)
    print(f"jmeter {install.version} at {install.home} ({binary})")
    if not install.needs_xstream_fix:
        print("no XStream fix needed")
        return 0
    argv = launcher_argv(install.home)  # type: ignore[arg-type]
    print("XStream allow-list on: perforch starts it as\n  " + " ".join(argv[:3]) + " <JMeter jars> " + argv[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
