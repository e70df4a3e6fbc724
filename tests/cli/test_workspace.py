"""`annotation-insights workspace create|list`, refusals, and how every command finds its store."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .helpers import assert_one_line_error, check, clean_env, run_cli


def test_create_then_list_shows_name_and_timezone(database_url, tmp_path):
    created = check(run_cli("workspace", "create", "acme", "--name", "Acme Vision [EU]",
                            "--timezone", "Europe/Berlin", database=database_url, cwd=tmp_path))
    assert "acme" in created.stdout and "Europe/Berlin" in created.stdout
    # `python -m annotation_insights` is the same command as the console script.
    by_module = subprocess.run([sys.executable, "-m", "annotation_insights", "--database", database_url,
                                "workspace", "create", "beta"], capture_output=True, text=True,
                               env=clean_env(), cwd=tmp_path, timeout=60)
    assert by_module.returncode == 0, by_module.stderr

    listed = check(run_cli("workspace", "list", database=database_url, cwd=tmp_path))
    # One tab-separated line per workspace; the name verbatim, brackets and all.
    assert listed.stdout.splitlines() == ["acme\tAcme Vision [EU]\tEurope/Berlin", "beta\tbeta\tUTC"]


def refused(database: str, cwd, *args: str):
    result = run_cli(*args, database=database, cwd=cwd)
    assert result.stdout == ""
    return result


@pytest.mark.backends("duckdb")  # checked before the store is written: the same on both backends
def test_invalid_input_is_one_clear_line_and_changes_nothing(database_url, tmp_path):
    db = database_url
    assert_one_line_error(refused(db, tmp_path, "workspace", "create", "Bad_Slug"), "Bad_Slug", "slug")
    assert_one_line_error(refused(db, tmp_path, "workspace", "create", "a" * 64), "a" * 64, "slug")
    assert_one_line_error(refused(db, tmp_path, "workspace", "create", "stats"), "stats", "reserved")
    assert_one_line_error(refused(db, tmp_path, "workspace", "create", "zoo", "--timezone",
                                  "Mars/Olympus_Mons"), "Mars/Olympus_Mons", "timezone")
    assert check(run_cli("workspace", "list", database=db, cwd=tmp_path)).stdout == ""


def test_duplicates_and_unknown_workspaces_are_one_clear_line(database_url, tmp_path):
    db = database_url
    check(run_cli("workspace", "create", "acme", "--name", "First", database=db, cwd=tmp_path))
    assert_one_line_error(refused(db, tmp_path, "workspace", "create", "acme", "--name", "Second"),
                          "acme", "already exists")
    assert_one_line_error(refused(db, tmp_path, "keys", "create", "nobody"), "nobody")
    assert_one_line_error(refused(db, tmp_path, "stats", "nobody", "--start", "2024-03-01",
                                  "--end", "2024-03-02"), "nobody")
    listed = check(run_cli("workspace", "list", database=db, cwd=tmp_path))
    assert listed.stdout.splitlines() == ["acme\tFirst\tUTC"]


def test_environment_variable_names_the_store_like_the_database_flag(database_url, tmp_path):
    env = clean_env(ANNOTATION_INSIGHTS_DATABASE=database_url)
    check(run_cli("workspace", "create", "via-env", env=env, cwd=tmp_path))
    listed = check(run_cli("workspace", "list", database=database_url, cwd=tmp_path))
    assert listed.stdout.splitlines() == ["via-env\tvia-env\tUTC"]
    # Nothing went to the default ./annotation-insights.duckdb instead.
    assert not (tmp_path / "annotation-insights.duckdb").exists()
    # --database wins over the environment, as a flag should.
    other = check(run_cli("workspace", "list", database=str(tmp_path / "other.duckdb"), env=env,
                          cwd=tmp_path))
    assert other.stdout == ""


def test_a_store_that_cannot_be_opened_is_one_clear_line(tmp_path):
    for database, fragment in [(str(tmp_path / "missing" / "x.duckdb"), "missing"),
                               (str(tmp_path), str(tmp_path)),
                               ("postgresql://ann:top secret@db.example/insights", "malformed")]:
        line = assert_one_line_error(run_cli("workspace", "list", database=database, cwd=tmp_path), fragment)
        assert "secret" not in line


def test_database_flag_works_after_the_command_too(tmp_path):
    store = str(tmp_path / "late-flag.duckdb")
    check(run_cli("workspace", "create", "late", "--database", store, cwd=tmp_path))
    listed = check(run_cli("workspace", "list", f"--database={store}", cwd=tmp_path)).stdout
    assert listed.splitlines() == ["late\tlate\tUTC"]
    assert not (tmp_path / "annotation-insights.duckdb").exists()
