"""A throwaway PostgreSQL cluster for the test suite.

`ANNOTATION_INSIGHTS_TEST_POSTGRES` (a postgresql:// URL to a server where the user may
create databases) wins; otherwise the suite starts its own cluster from the installed
server binaries in a temporary directory and removes it afterwards.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from collections.abc import Iterator

ENV = "ANNOTATION_INSIGHTS_TEST_POSTGRES"
_scratch_numbers = itertools.count()


def _binary(name: str) -> str | None:
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """Yield an admin URL of a running server, or None when no server can be had."""
    with _server() as url:
        try:
            yield url
        finally:
            spares = _spares.pop(url, None)
            if spares is not None:
                spares.close()


@contextmanager
def _server() -> Iterator[str | None]:
    if os.environ.get(ENV):
        yield os.environ[ENV]
        return
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        yield None
        return
    run_as: list[str] = []
    user = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user, run_as = "postgres", ["runuser", "-u", "postgres", "--"]
    base = tempfile.mkdtemp(prefix="ai-pg-")
    data = os.path.join(base, "data")
    if run_as:
        shutil.chown(base, user)
    port = _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    try:
        subprocess.run([*run_as, initdb, "-D", data, "-A", "trust", "-U", user, "-E", "UTF8",
                        "--no-sync"], check=True, **quiet)
        subprocess.run([*run_as, pg_ctl, "-D", data, "-w", "-l", os.path.join(base, "log"), "-o",
                        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
                        "-c max_connections=200", "start"], check=True, **quiet)
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", data, "-m", "immediate", "stop"], **quiet)
        shutil.rmtree(base, ignore_errors=True)


def require_server(admin_url: str | None) -> str:
    """The admin URL, or skip the test (fail it in CI, where PostgreSQL is mandatory)."""
    import pytest

    if admin_url is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but no server could be started")
        pytest.skip("no PostgreSQL server binaries on this machine")
    return admin_url


class _Spares:
    """Empty databases made one ahead on a thread. CREATE DATABASE copies template1
    (~0.25 s), and some 160 tests each wait for a new database in their setup; made while
    the previous test runs, it is ready when asked for."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._maker = ThreadPoolExecutor(1, thread_name_prefix="postgres-spare")
        self._next: Future[str] = self._maker.submit(self._create)

    def _create(self) -> str:
        import psycopg

        name = f"ai_spare_{os.getpid()}_{next(_scratch_numbers)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def take(self, name: str) -> None:
        """A new empty database named `name`."""
        import psycopg

        spare, self._next = self._next.result(), self._maker.submit(self._create)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{spare}" RENAME TO "{name}"')

    def close(self) -> None:
        _drop(self.admin_url, self._next.result())
        self._maker.shutdown()


_spares: dict[str, _Spares] = {}


def _drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(admin_url: str | None, prefix: str) -> Iterator[str]:
    """A fresh, empty database on the test server; dropped afterwards."""
    admin_url = require_server(admin_url)
    name = f"{prefix}_{os.getpid()}_{next(_scratch_numbers)}"
    if admin_url not in _spares:
        _spares[admin_url] = _Spares(admin_url)
    _spares[admin_url].take(name)
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        _drop(admin_url, name)
