"""Driving the real `annotation-insights` command: running it, serving with it, the worked example.

Every command runs in its own process, with a clean environment (no inherited
`ANNOTATION_INSIGHTS_*` variables) and a scratch working directory, exactly as a user's
shell would start it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support.servers import free_port

SCRIPT = Path(sys.executable).with_name("annotation-insights")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "annotation_insights"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANNOTATION_INSIGHTS_")}
    env.pop("COLUMNS", None)  # rich would size tables by it; a pipe must work without it
    return env | extra


def run_cli(*args: str, database: str | None = None, cwd: Path | str | None = None,
            env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `annotation-insights [--database DB] ARGS...` and capture its output as text."""
    command = [*COMMAND, *(["--database", database] if database else []), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=env if env is not None else clean_env())


def check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 1, nothing on stdout, one `error: ...` line on stderr naming every fragment."""
    assert result.returncode == 1, f"exit {result.returncode}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), (fragment, lines[0])
    return lines[0]


def create_key(database: str, slug: str, *scopes: str, cwd: Path | str | None = None) -> str:
    flags = [arg for scope in scopes for arg in ("--scope", scope)]
    return check(run_cli("keys", "create", slug, *flags, database=database, cwd=cwd)).stdout.splitlines()[-1]


class Server:
    """`annotation-insights serve` in a child process, logging to a file in `workdir`."""

    def __init__(self, workdir: Path, *args: str, database: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"serve-{self.port}.log"
        self._command = [*COMMAND, *(["--database", database] if database else []), "serve",
                         "--host", "127.0.0.1", "--port", str(self.port), *args]
        self._workdir, self._env = workdir, env if env is not None else clean_env()
        self._start()

    def _start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self._workdir, env=self._env)

    def restart(self) -> None:
        """Serve again on the same port once the previous process has stopped."""
        assert self.process.poll() is not None, "stop the server first"
        self._start()
        self.wait_healthy()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 30) -> dict:
        """The /health answer once the server gives one; fails fast if the server died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                response = httpx.get(f"{self.url}/health", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not answer /health within {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 10) -> tuple[int, float]:
        """SIGTERM, as a service manager stops it: (exit code, seconds it took)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"serve ignored SIGTERM for {timeout} s:\n{self.log()}") from None
        return code, time.monotonic() - started

    def __enter__(self) -> "Server":
        self.wait_healthy()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
