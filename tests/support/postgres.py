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


@contextmanager
def scratch_database(admin_url: str | None, prefix: str) -> Iterator[str]:
    """A fresh, empty database on the test server; dropped afterwards."""
    import psycopg

    admin_url = require_server(admin_url)
    name = f"{prefix}_{os.getpid()}_{next(_scratch_numbers)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
