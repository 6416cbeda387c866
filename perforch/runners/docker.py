"""Containers through the Docker SDK: one session per run, and nothing left behind.

Every container, network and volume a run creates carries the labels `perforch.run=<run id>` and
`perforch.owner=<host>:<pid>:<start time>`. `DockerSession.close()` removes all of them (also what
an interrupted create left unnamed, found by label); `clean()` removes what hard-killed runs left
(their owner process is gone), for `perforch clean`.

How a tool container reaches the target:
- a target on this machine's loopback (http://127.0.0.1:PORT, the usual first try) is reachable only
  from the host's own network namespace: a bridge network's gateway reaches servers bound to
  0.0.0.0, not to 127.0.0.1. So tool containers use **host networking** when the SUT is not a
  container: 127.0.0.1 inside is the host's, the base URL stays as written, and distributed
  processes find each other on 127.0.0.1 like local processes do. (Docker Desktop runs the engine in
  a VM where that does not hold: there loopback URLs are rewritten to host.docker.internal.)
- a containerized SUT (target.start.image) gets a private bridge network for the run; the tool
  containers join it and reach the SUT by its name, `sut`.
"""

from __future__ import annotations

import os
import signal as signals
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from perforch.errors import ToolFailed, ToolNotFound
from perforch.runners.local import ProcessResult

RUN_LABEL = "perforch.run"
OWNER_LABEL = "perforch.owner"
ROLE_LABEL = "perforch.role"
SCRIPT_DIR = Path("/perforch/script")  # where a tool container sees the generated script (read-only)
RAW_DIR = Path("/perforch/raw")  # where it writes raw results (the run directory's raw/)
ENGINE_TIMEOUT_S = 30


class DockerUnavailable(ToolNotFound):
    """No Docker engine answers."""


def connect(timeout_s: float = ENGINE_TIMEOUT_S):  # noqa: ANN201
    """A client for the engine DOCKER_HOST (or the default socket) points at; DockerUnavailable if none."""
    try:
        import docker
    except ImportError:  # pragma: no cover - a dependency of perforch
        raise DockerUnavailable("the docker Python package is missing", hint="pip install docker") from None
    where = os.environ.get("DOCKER_HOST") or "the default socket (/var/run/docker.sock)"
    hint = ("start Docker (e.g. `sudo systemctl start docker`), check DOCKER_HOST and your access to the socket, "
            "or install the tool and use --runner local")
    problem = _unix_socket_problem(os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    if problem:  # checked here: the SDK leaks the socket of a failed connect
        raise DockerUnavailable(f"no Docker engine answers at {where}: {problem}", hint=hint)
    client = None
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
        return client
    except Exception as exc:  # the SDK raises several kinds; all mean "no engine here"
        if client is not None:
            client.close()
        raise DockerUnavailable(f"no Docker engine answers at {where}: {_short(exc)}", hint=hint) from None


def _unix_socket_problem(docker_host: str) -> str | None:
    """Why the engine's unix socket cannot be reached, or None (also for tcp:// and ssh:// hosts)."""
    if not docker_host.startswith("unix://"):
        return None
    path = docker_host[len("unix://"):]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        try:
            sock.connect(path)
        except OSError as exc:
            return f"{path}: {exc.strerror or exc}"
    return None


def engine_answers() -> bool:
    try:
        connect(timeout_s=3).close()
        return True
    except DockerUnavailable:
        return False


def owner_id(pid: int | None = None) -> str:
    """host:pid:start-time of a process, to tell a live run's resources from a dead run's."""
    import psutil

    pid = pid or os.getpid()
    try:
        created = int(psutil.Process(pid).create_time())
    except psutil.Error:
        created = 0
    return f"{socket.gethostname()}:{pid}:{created}"


def owner_alive(owner: str) -> bool | None:
    """True/False for an owner on this host; None when it ran elsewhere (cannot tell)."""
    import psutil

    try:
        host, pid_text, created_text = owner.rsplit(":", 2)
        pid, created = int(pid_text), int(created_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    try:
        return int(psutil.Process(pid).create_time()) == created
    except psutil.Error:
        return False


class DockerSession:
    """What one run creates in the engine. Use as a context manager: leaving removes everything."""

    def __init__(self, client, run_id: str) -> None:  # noqa: ANN001
        self.client = client
        self.run_id = run_id
        self.labels = {RUN_LABEL: run_id, OWNER_LABEL: owner_id()}
        self.containers: list[ContainerProcess] = []
        self.network: str | None = None
        info = _safe(lambda: client.info(), {}) or {}
        self.desktop = "docker desktop" in str(info.get("OperatingSystem", "")).lower()

    def __enter__(self) -> DockerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def private_network(self) -> str:
        """The run's own bridge network (created on first use)."""
        if self.network is None:
            from perforch.runners.supervise import deferring_sigint

            name = f"perforch-{self.run_id}"
            with deferring_sigint():
                self.client.networks.create(name, driver="bridge", labels=dict(self.labels), check_duplicate=True)
                self.network = name
        return self.network

    def start(
        self,
        name: str,
        image: str,
        argv: Sequence[str] | None,
        logs_dir: Path,
        *,
        role: str = "tool",
        env: Mapping[str, str] | None = None,
        volumes: Mapping[str, Mapping[str, str]] | None = None,
        workdir: str | None = None,
        network: str | None = None,  # None: host networking
        aliases: Sequence[str] = (),
        publish: Mapping[str, tuple[str, int | None]] | None = None,
        user: str | None = None,
        entrypoint: Sequence[str] | None = None,
        init: bool = True,
        cpus: float | None = None,
    ) -> ContainerProcess:
        """Create and start a labelled container; its stdout/stderr stream into logs_dir.
        Ctrl-C waits until it is created and recorded (so that close() knows it)."""
        from perforch.runners.supervise import deferring_sigint

        with deferring_sigint():
            return self._start(name, image, argv, logs_dir, role=role, env=env, volumes=volumes, workdir=workdir,
                               network=network, aliases=aliases, publish=publish, user=user,
                               entrypoint=entrypoint, init=init, cpus=cpus)

    def _start(self, name: str, image: str, argv: Sequence[str] | None, logs_dir: Path, *, role: str,
               env: Mapping[str, str] | None, volumes: Mapping[str, Mapping[str, str]] | None, workdir: str | None,
               network: str | None, aliases: Sequence[str], publish: Mapping[str, tuple[str, int | None]] | None,
               user: str | None, entrypoint: Sequence[str] | None, init: bool, cpus: float | None) -> ContainerProcess:
        import docker.errors

        kwargs: dict[str, object] = dict(
            image=image, command=list(argv) if argv is not None else None, name=f"perforch-{self.run_id}-{name}",
            labels={**self.labels, ROLE_LABEL: role}, environment=dict(env or {}), detach=True,
            volumes={k: dict(v) for k, v in (volumes or {}).items()}, init=init, stdin_open=False, tty=False,
        )
        if workdir:
            kwargs["working_dir"] = workdir
        if user:
            kwargs["user"] = user
        if entrypoint is not None:
            kwargs["entrypoint"] = list(entrypoint) or [""]
        if publish:
            kwargs["ports"] = dict(publish)
        if cpus:
            kwargs["nano_cpus"] = int(cpus * 1e9)
        if network is None:
            kwargs["network_mode"] = "host"
        else:
            kwargs["network"] = network
            kwargs["hostname"] = name
            kwargs["networking_config"] = {network: self.client.api.create_endpoint_config(aliases=[name, *aliases])}
        try:
            container = self.client.containers.create(**kwargs)
        except docker.errors.ImageNotFound as exc:
            raise ToolFailed(f"cannot create container {name}: image {image} not found", details=_short(exc)) from None
        except docker.errors.APIError as exc:
            raise ToolFailed(f"cannot create container {name} from {image}: {_short(exc)}") from None
        process = ContainerProcess(container, name, tuple(argv or ()), logs_dir)
        self.containers.append(process)
        try:
            container.start()
        except docker.errors.APIError as exc:
            process.close_logs()
            raise ToolFailed(
                f"cannot start container {name} from {image}: {_short(exc)}",
                hint="does the image contain the tool? `docker run --rm IMAGE ...` shows what it holds",
            ) from None
        process.follow()
        return process

    def close(self) -> list[str]:
        """Remove every container and network of the run (Ctrl-C cannot interrupt it); returns what was
        removed. Also sweeps by label, for anything created but not yet recorded when interrupted."""
        from perforch.runners.supervise import ignoring_sigint

        with ignoring_sigint():
            removed = [c.remove() for c in self.containers]
            self.containers = []
            removed += remove_labelled(self.client, {RUN_LABEL: self.run_id})
            self.network = None
        return [r for r in removed if r]


class ContainerProcess:
    """A running container with the face of a local process (poll, signal, wait, kill, result)."""

    def __init__(self, container, name: str, argv: tuple[str, ...], logs_dir: Path) -> None:  # noqa: ANN001
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.container = container
        self.name = name
        self.argv = argv
        self.stdout_log = logs_dir / f"{name}.stdout.log"
        self.stderr_log = logs_dir / f"{name}.stderr.log"
        self.started = time.time()
        self.stopped = False
        self._code: int | None = None
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._files = [self.stdout_log.open("wb"), self.stderr_log.open("wb")]

    def follow(self) -> None:
        """Start streaming logs and waiting for the exit code in background threads."""
        for i, (out, err) in enumerate(((True, False), (False, True))):
            t = threading.Thread(target=self._stream, args=(out, err, self._files[i]), daemon=True,
                                 name=f"logs-{self.name}-{i}")
            t.start()
            self._threads.append(t)
        threading.Thread(target=self._wait, daemon=True, name=f"wait-{self.name}").start()

    def _stream(self, stdout: bool, stderr: bool, fh) -> None:  # noqa: ANN001
        stream = None
        try:
            stream = self.container.client.api.logs(self.container.id, stdout=stdout, stderr=stderr,
                                                    stream=True, follow=True)
            for chunk in stream:
                fh.write(chunk)
                fh.flush()
        except Exception:  # the container went away: the log ends here
            pass
        finally:
            if stream is not None:
                try:
                    stream.close()
                except Exception:
                    pass

    def _wait(self) -> None:
        try:
            self._code = int(self.container.client.api.wait(self.container.id)["StatusCode"])
        except Exception:
            self._code = self._inspect_code()
        self._done.set()

    def _inspect_code(self) -> int | None:
        try:
            self.container.reload()
            state = self.container.attrs.get("State", {})
            return None if state.get("Running") else int(state.get("ExitCode", -1))
        except Exception:
            return -1

    @property
    def id(self) -> str:
        return self.container.id

    def poll(self) -> int | None:
        return self._code if self._done.is_set() else None

    def wait(self, timeout_s: float) -> int | None:
        self._done.wait(max(0.0, timeout_s))
        return self.poll()

    def signal(self, sig: int) -> None:
        try:
            self.container.kill(signal=int(sig))
        except Exception:  # not running any more
            pass

    def kill(self) -> None:
        self.signal(signals.SIGKILL)
        self.wait(5)

    def result(self, interrupted: bool = False, timed_out: bool = False) -> ProcessResult:
        for t in self._threads:
            t.join(timeout=3)
        self.close_logs()
        return ProcessResult(self.name, self.argv, self.poll(), interrupted, timed_out,
                             self.stdout_log, self.stderr_log, self.started, time.time(), self.stopped)

    def close_logs(self) -> None:
        for fh in self._files:
            if not fh.closed:
                fh.close()

    def published_port(self, port: int) -> int | None:
        """The host port a container port was published on."""
        self.container.reload()
        bindings = (self.container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp") or []
        for b in bindings:
            if b.get("HostPort"):
                return int(b["HostPort"])
        return None

    def remove(self) -> str | None:
        try:
            self.container.remove(force=True, v=True)
            return self.container.name
        except Exception:
            return None
        finally:
            self._done.wait(5)
            for t in self._threads:
                t.join(timeout=3)
            self.close_logs()


def remove_labelled(client, labels: Mapping[str, str] | None = None) -> list[str]:  # noqa: ANN001
    """Remove containers, then networks and volumes, carrying these labels (all of perforch's when None)."""
    flt = {"label": [f"{k}={v}" for k, v in (labels or {}).items()] or [RUN_LABEL]}
    removed: list[str] = []
    for container in _safe(lambda: client.containers.list(all=True, filters=flt), []):
        try:
            container.remove(force=True, v=True)
            removed.append(f"container {container.name}")
        except Exception:
            pass
    for network in _safe(lambda: client.networks.list(filters=flt), []):
        for _ in range(3):  # a just-removed container may hold its endpoint for a moment
            try:
                network.remove()
                removed.append(f"network {network.name}")
                break
            except Exception:
                time.sleep(0.3)
    for volume in _safe(lambda: client.volumes.list(filters=flt), []):
        try:
            volume.remove(force=True)
            removed.append(f"volume {volume.name}")
        except Exception:
            pass
    return removed


def leftovers(client, run_id: str | None = None) -> list[str]:  # noqa: ANN001
    """Names of perforch's containers/networks/volumes still present (of one run, or all)."""
    flt = {"label": [f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL]}
    names = [f"container {c.name}" for c in _safe(lambda: client.containers.list(all=True, filters=flt), [])]
    names += [f"network {n.name}" for n in _safe(lambda: client.networks.list(filters=flt), [])]
    names += [f"volume {v.name}" for v in _safe(lambda: client.volumes.list(filters=flt), [])]
    return names


def runs_in_engine(client) -> dict[str, str]:  # noqa: ANN001
    """run id -> owner label, for every run with something labelled in the engine."""
    runs: dict[str, str] = {}
    flt = {"label": [RUN_LABEL]}
    for obj in (_safe(lambda: client.containers.list(all=True, filters=flt), [])
                + _safe(lambda: client.networks.list(filters=flt), [])
                + _safe(lambda: client.volumes.list(filters=flt), [])):
        attrs = obj.attrs or {}
        labels = attrs.get("Labels") or attrs.get("Config", {}).get("Labels") or {}
        if labels.get(RUN_LABEL):
            runs.setdefault(labels[RUN_LABEL], labels.get(OWNER_LABEL, ""))
    return runs


def _safe(call, default):  # noqa: ANN001, ANN202
    try:
        return call()
    except Exception:
        return default


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
