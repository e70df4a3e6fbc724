"""Connect a Label Studio project in one step: register the webhook, then backfill.

The webhook is registered first and the existing annotations fetched after, so nothing
made in between is missed; anything seen twice (by webhook and backfill) is a no-op
because both go through the same "last version seen" diff. Labeler names and emails
come from Label Studio's users API.

Where the events go is a `Sink`: straight into the store (`DirectSink`, the CLI's
`--database`), or through a running server's HTTP API (`HttpSink`) when that server
holds the store (an embedded DuckDB file is open in one process only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from annotation_insights.connectors.label_studio import HANDLED_ACTIONS, project_slug
from annotation_insights.errors import ApiError, BadRequest

PAGE_SIZE = 100
_JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$")


class LabelStudioApi:
    """The few Label Studio REST calls the connector needs."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._http.headers["Authorization"] = self._authorization(token)

    def _authorization(self, token: str) -> str:
        if not _JWT.match(token):
            return f"Token {token}"  # a legacy API token
        # A personal access token is a JWT refresh token: trade it for an access token.
        answer = self._call("POST", "/api/token/refresh", json={"refresh": token})
        return f"Bearer {answer['access']}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BadRequest(f"Cannot reach Label Studio at {self.url}: {exc}") from None
        if response.status_code in (401, 403):
            raise BadRequest(f"Label Studio refused the token ({response.status_code}) for "
                             f"{method} {path}: check --token.")
        if response.status_code >= 400:
            raise BadRequest(f"Label Studio answered {response.status_code} to {method} {path}: "
                             f"{response.text[:300]}")
        return response.json() if response.content else None

    def project(self, project_id: int) -> dict:
        return self._call("GET", f"/api/projects/{project_id}/")

    def users(self) -> list[dict]:
        answer = self._call("GET", "/api/users/")
        return answer.get("results", []) if isinstance(answer, dict) else answer

    def task_pages(self, project_id: int) -> Iterator[tuple[list[dict], int]]:
        """(tasks with their annotations, total tasks), one page at a time."""
        page = 1
        while True:
            answer = self._call("GET", "/api/tasks/", params={
                "project": project_id, "fields": "all", "page": page, "page_size": PAGE_SIZE})
            tasks, total = answer.get("tasks", []), int(answer.get("total", 0))
            if not tasks:
                return
            yield tasks, total
            if page * PAGE_SIZE >= total:
                return
            page += 1

    def ensure_webhook(self, project_id: int, url: str, headers: dict[str, str]) -> tuple[str, dict]:
        """Create the webhook, or update the one already pointing at `url`'s endpoint."""
        body = {"project": project_id, "url": url, "send_payload": True,
                "send_for_all_actions": False, "actions": list(HANDLED_ACTIONS),
                "headers": headers, "is_active": True}
        endpoint = url.split("?", 1)[0]
        for hook in self._call("GET", "/api/webhooks/", params={"project": project_id}) or []:
            if str(hook.get("url", "")).split("?", 1)[0] == endpoint:
                self._call("PATCH", f"/api/webhooks/{hook['id']}/", json=body)
                return "updated", hook
        return "created", self._call("POST", "/api/webhooks/", json=body)

    def close(self) -> None:
        self._http.close()


def display_name(user: dict) -> str:
    full = f"{user.get('first_name') or ''} {user.get('last_name') or ''}".strip()
    return full or user.get("username") or user.get("email") or str(user.get("id"))


class Sink(Protocol):
    def apply(self, body: dict) -> int: ...
    def name_labelers(self, users: list[dict]) -> None: ...


@dataclass
class DirectSink:
    """Into the store this process opened."""

    db: Any
    workspace: Any
    project_override: str | None = None

    def apply(self, body: dict) -> int:
        from annotation_insights.connectors.label_studio import parse_delivery
        from annotation_insights.connectors.label_studio_sync import apply_delivery

        delivery = parse_delivery(body, project_override=self.project_override)
        return apply_delivery(self.db, self.workspace, delivery, backfill=True).accepted

    def name_labelers(self, users: list[dict]) -> None:
        from annotation_insights.store.queries import connectors as connectors_sql

        with self.db.transaction() as tx:
            for user in users:
                tx.execute(connectors_sql.NAME_TOOL_LABELER, {
                    "workspace_id": self.workspace.id, "id": str(user["id"]),
                    "display_name": display_name(user), "email": user.get("email") or None})


@dataclass
class HttpSink:
    """Through a running server's API (a key with `write` and `admin` scopes)."""

    server: str
    api_key: str
    workspace: str
    project_override: str | None = None

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.server.rstrip("/"), timeout=60.0,
                                  headers={"Authorization": f"Bearer {self.api_key}"})

    def _check(self, response: httpx.Response) -> dict:
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300]
            raise ApiError(f"The server at {self.server} answered {response.status_code}: {message}",
                           status=response.status_code)
        return response.json()

    def apply(self, body: dict) -> int:
        params = {"backfill": "true"}
        if self.project_override:
            params["project"] = self.project_override
        try:
            response = self._http.post(f"/{self.workspace}/integrations/label-studio",
                                       params=params, json=body)
        except httpx.HTTPError as exc:
            raise BadRequest(f"Cannot reach the server at {self.server}: {exc}") from None
        return int(self._check(response)["accepted"])

    def name_labelers(self, users: list[dict]) -> None:
        for user in users:
            self._check(self._http.put(f"/{self.workspace}/labelers/{user['id']}", json={
                "displayName": display_name(user), "email": user.get("email") or None,
                "system": False}))


@dataclass
class ConnectResult:
    webhook: str
    webhook_url: str
    project: str
    tasks: int
    accepted: int
    labelers: int


def connect(api: LabelStudioApi, sink: Sink, *, project_id: int, webhook_url: str,
            webhook_key: str, project_override: str | None = None,
            on_page: Callable[[int, int], None] | None = None) -> ConnectResult:
    """Register the webhook, name the labelers, then backfill every existing annotation."""
    project = api.project(project_id)
    action, _ = api.ensure_webhook(project_id, webhook_url, {"Authorization": f"Bearer {webhook_key}"})
    users = api.users()
    sink.name_labelers(users)
    summary = {"id": project_id, "title": project.get("title"),
               "label_config": project.get("label_config")}
    tasks_done = accepted = 0
    for tasks, total in api.task_pages(project_id):
        annotations = [a for t in tasks for a in (t.get("annotations") or [])]
        for annotation in annotations:
            annotation.setdefault("project", project_id)
        if annotations:
            accepted += sink.apply({"action": "ANNOTATIONS_CREATED", "annotation": annotations,
                                    "project": summary})
        tasks_done += len(tasks)
        if on_page:
            on_page(tasks_done, total)
    if tasks_done == 0:
        sink.apply({"action": "PROJECT_CONNECTED", "project": summary})  # names the project
    return ConnectResult(action, webhook_url, project_override or project_slug(project_id),
                         tasks_done, accepted, len(users))
