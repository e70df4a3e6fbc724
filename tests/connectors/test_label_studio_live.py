"""A real Label Studio, offline on SQLite, annotated through its own API with our webhook.

Run by scripts/label-studio-it.sh (Label Studio lives in its own venv); skipped unless
ANNOTATION_INSIGHTS_LABEL_STUDIO names that venv's `label-studio` binary.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from annotation_insights.api.app import create_app
from annotation_insights.cli.main import app as cli_app
from support.servers import serve_app

BINARY = os.environ.get("ANNOTATION_INSIGHTS_LABEL_STUDIO")
pytestmark = [
    pytest.mark.label_studio,
    pytest.mark.skipif(not BINARY, reason="set ANNOTATION_INSIGHTS_LABEL_STUDIO to a label-studio "
                                          "binary (scripts/label-studio-it.sh does)"),
]
TOKEN = "0123456789abcdef0123"
CONFIG = ('<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
          '<Label value="boat"/><Label value="buoy"/></RectangleLabels></View>')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _data_directory(tmp_path_factory) -> Path:
    """A new Label Studio data directory: a copy of the migrated empty one that
    scripts/install-label-studio.sh made beside the binary, when there is one (a new
    database takes Label Studio a minute to migrate)."""
    data = tmp_path_factory.mktemp("label-studio")
    template = Path(BINARY).parents[1] / "data-template"
    if (template / "label_studio.sqlite3").exists():
        shutil.copytree(template, data, dirs_exist_ok=True)
    return data


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    port = _free_port()
    data = _data_directory(tmp_path_factory)
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "SSRF_PROTECTION_ENABLED": "false"}
    log = (data / "label-studio.log").open("w")
    process = subprocess.Popen(
        [BINARY, "start", "--no-browser", "--internal-host", "127.0.0.1", "-p", str(port),
         "--username", "ana@example.org", "--password", "not-a-secret-1", "--user-token", TOKEN,
         "--enable-legacy-api-token"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"Label Studio exited; see {data / 'label-studio.log'}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("Label Studio did not start within 300 s")
            time.sleep(1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


class LabelStudio:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30,
                                 headers={"Authorization": f"Token {TOKEN}"})

    def __call__(self, method: str, path: str, body=None):
        response = self.http.request(method, path, json=body)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response.json() if response.content else None


def box(rid: str, x: float, origin: str = "manual") -> dict:
    return {"id": rid, "from_name": "label", "to_name": "image", "type": "rectanglelabels",
            "origin": origin, "original_width": 640, "original_height": 480, "image_rotation": 0,
            "value": {"x": x, "y": 10, "width": 20, "height": 15, "rotation": 0,
                      "rectanglelabels": ["boat"]}}


def test_label_studio_annotations_arrive_and_stats_match(label_studio, database_url, db, settings,
                                                        tenant):
    ls = LabelStudio(label_studio)
    project = ls("POST", "/api/projects/", {"title": "Harbor Boats", "label_config": CONFIG})["id"]
    ls("POST", f"/api/projects/{project}/import",
       [{"data": {"image": f"https://example.org/{i}.jpg"}} for i in range(4)])
    answer = ls("GET", f"/api/tasks/?project={project}&page_size=10")
    t1, t2, t3, t4 = sorted(task["id"] for task in answer["tasks"])
    before = ls("POST", f"/api/tasks/{t4}/annotations/", {"result": [box("b1", 5), box("b2", 40)]})

    with serve_app(create_app(settings, db)) as server:
        result = CliRunner().invoke(cli_app, [
            "connect", "label-studio", "--url", label_studio, "--token", TOKEN,
            "--project", str(project), "--workspace", "acme", "--public-url", server,
            "--api-key", tenant.all])
        assert result.exit_code == 0, result.output
        assert "Backfilled 4 tasks" in result.output and "2 new events" in result.output

        prediction = ls("POST", "/api/predictions/", {
            "task": t1, "result": [box("p1", 5, "prediction")], "score": 0.9, "model_version": "v1"})
        first = ls("POST", f"/api/tasks/{t1}/annotations/", {
            "result": [box("p1", 5, "prediction"), box("r2", 40)], "parent_prediction": prediction["id"]})
        ls("PATCH", f"/api/annotations/{first['id']}/",
           {"result": [box("p1", 6, "prediction-changed"), box("r3", 70)]})
        ls("POST", f"/api/tasks/{t2}/annotations/", {"result": []})
        ls("POST", f"/api/tasks/{t3}/annotations/?was_cancelled=1", {"result": [], "was_cancelled": True})
        ls("PATCH", f"/api/annotations/{before['id']}/",
           {"result": [box("b1", 5), box("b2", 40), box("b3", 80)]})
        ls("DELETE", f"/api/annotations/{first['id']}/")

        today = dt.datetime.now(dt.timezone.utc).date()
        stats = httpx.get(f"{server}/acme/stats", params={
            "api_key": tenant.read, "startDate": (today - dt.timedelta(days=1)).isoformat(),
            "endDate": (today + dt.timedelta(days=1)).isoformat()}).json()
        # Connecting again, now straight into the store: the webhook is updated, nothing new.
        again = CliRunner().invoke(cli_app, [
            "--database", database_url, "connect", "label-studio", "--url", label_studio,
            "--token", TOKEN, "--project", str(project), "--workspace", "acme",
            "--public-url", server])
        assert again.exit_code == 0, again.output
        assert "Webhook updated" in again.output and "0 new events" in again.output, again.output

    row, = stats["data"]
    assert (row["projectId"], row["projectName"]) == (f"label-studio-{project}", "Harbor Boats")
    assert {
        "boxesAdded": row["boxesAdded"], "boxesRemoved": row["boxesRemoved"],
        "boxesUpdated": row["boxesUpdated"], "netBoxesAdded": row["netBoxesAdded"],
        "imagesLabeled": row["imagesLabeled"], "markedNull": row["markedNull"],
        "modelAssisted": row["modelAssisted"],
    } == {
        # b1 b2 (backfill), p1 r2 r3, b3 | r2, then p1 r3 with the annotation | p1 moved
        "boxesAdded": 6, "boxesRemoved": 3, "boxesUpdated": 1,
        "netBoxesAdded": 3, "imagesLabeled": 3, "markedNull": 1, "modelAssisted": 1,
    }
    assert stats["labelers"] == [{"id": row["labelerId"], "displayName": "ana@example.org",
                                  "email": "ana@example.org"}]
