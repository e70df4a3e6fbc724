"""SPEC §3 reference data: placeholders for unseen projects and labelers, PUT names into
the stats answer, system labelers, and FastAPI's own body validation in the one error shape."""

from __future__ import annotations

from api.helpers import assert_error, bearer, event, ingest_ok, stats_ok


def put(client, key, path, body):
    return client.put(f"/acme/{path}", json=body, headers=bearer(key))


def listed(client, key, resource):
    response = client.get(f"/acme/{resource}", headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def project_of(body: dict) -> tuple[str, str]:
    """(projectName, projectType) of the one row of a stats answer."""
    [row] = body["data"]
    return row["projectName"], row["projectType"]


def test_unseen_projects_and_labelers_get_placeholders(client, tenant):
    ingest_ok(client, tenant.write, [event("e1", project="traffic-cams", labeler="zoe@tool")])
    body = stats_ok(client, tenant.read)
    [row] = body["data"]
    assert (row["projectId"], row["projectName"], row["projectType"]) \
        == ("traffic-cams", "traffic-cams", "object-detection")
    assert body["labelers"] == [{"id": "zoe@tool", "displayName": "zoe@tool", "email": None}]
    assert listed(client, tenant.read, "projects") == [
        {"slug": "traffic-cams", "name": "traffic-cams", "type": "object-detection"}]
    assert listed(client, tenant.read, "labelers") == [
        {"id": "zoe@tool", "displayName": "zoe@tool", "email": None, "system": False}]


def test_put_names_show_in_the_stats_answer(client, tenant):
    ingest_ok(client, tenant.write, [event("e1", project="cams", labeler="zoe")])
    project = {"name": "Traffic Cams", "type": "instance-segmentation"}
    response = put(client, tenant.admin, "projects/cams", project)
    assert response.status_code == 200, response.text
    assert response.json() == {"slug": "cams"} | project
    labeler = {"displayName": "Zoe Q.", "email": "zoe@example.com"}
    response = put(client, tenant.admin, "labelers/zoe", labeler)
    assert response.json() == {"id": "zoe", "displayName": "Zoe Q.", "email": "zoe@example.com",
                               "system": False}
    body = stats_ok(client, tenant.read)
    assert project_of(body) == ("Traffic Cams", "instance-segmentation")
    assert body["labelers"] == [{"id": "zoe", "displayName": "Zoe Q.", "email": "zoe@example.com"}]
    put(client, tenant.admin, "projects/cams", {"name": "Cameras"})
    put(client, tenant.admin, "labelers/zoe", {"displayName": "Zoe"})
    body = stats_ok(client, tenant.read)
    assert project_of(body) == ("Cameras", "object-detection")
    assert body["labelers"] == [{"id": "zoe", "displayName": "Zoe", "email": None}]


def test_names_put_before_any_event_are_kept_when_events_arrive(client, tenant):
    put(client, tenant.admin, "projects/cams", {"name": "Traffic Cams", "type": "classification"})
    put(client, tenant.admin, "labelers/zoe", {"displayName": "Zoe Q.", "email": "zoe@example.com"})
    assert stats_ok(client, tenant.read)["labelers"] == []
    ingest_ok(client, tenant.write, [event("e1", project="cams", labeler="zoe")])
    body = stats_ok(client, tenant.read)
    assert project_of(body) == ("Traffic Cams", "classification")
    assert body["labelers"] == [{"id": "zoe", "displayName": "Zoe Q.", "email": "zoe@example.com"}]


def test_a_system_labeler_is_reported_with_placeholder_name_and_no_email(client, tenant):
    ingest_ok(client, tenant.write, [event("e1", labeler="autolabelservice"),
                                     event("e2", labeler="zoe", image="img2")])
    response = put(client, tenant.admin, "labelers/autolabelservice",
                   {"displayName": "Auto Label", "email": "bot@example.com", "system": True})
    assert response.status_code == 200 and response.json()["system"] is True
    body = stats_ok(client, tenant.read)
    assert [row["labelerId"] for row in body["data"]] == ["autolabelservice", "zoe"]
    assert body["labelers"] == [
        {"id": "autolabelservice", "displayName": "autolabelservice", "email": None},
        {"id": "zoe", "displayName": "zoe", "email": None}]


def test_put_bodies_that_fastapi_rejects_are_400_in_the_error_shape(client, tenant):
    headers = bearer(tenant.admin) | {"Content-Type": "application/json"}
    response = client.put("/acme/projects/cams", content=b"name=Cams", headers=headers)
    error = assert_error(response, 400, "invalid_json", "not valid JSON")
    assert [d["field"] for d in error["details"]] == ["body"]
    cases = [
        ("projects/cams", {"nom": "Cams"}, ["name", "nom"]),
        ("projects/cams", {"name": ""}, ["name"]),
        ("projects/cams", {"name": 5}, ["name"]),
        ("projects/cams", ["Cams"], ["body"]),
        ("labelers/zoe", {"displayName": "Zoe", "system": "maybe"}, ["system"]),
        ("labelers/zoe", {"email": "zoe@example.com"}, ["displayName"]),
    ]
    for path, body, fields in cases:
        error = assert_error(put(client, tenant.admin, path, body), 400, "bad_request",
                             "Invalid request", *fields)
        assert [d["field"] for d in error["details"]] == fields, (path, body)
        assert all(d["index"] is None for d in error["details"])
    response = client.put("/acme/projects/cams", headers=bearer(tenant.admin))
    assert_error(response, 400, "bad_request", "body")
    assert listed(client, tenant.read, "projects") == []


def test_put_refuses_bad_project_slugs_and_labeler_ids(client, tenant):
    response = put(client, tenant.admin, "projects/Traffic%20Cams", {"name": "Cams"})
    assert_error(response, 400, "bad_request", "Invalid project slug 'Traffic Cams'")
    response = put(client, tenant.admin, "labelers/zo%01e", {"displayName": "Zoe"})
    assert_error(response, 400, "bad_request", "control characters")
    response = put(client, tenant.admin, "labelers/" + "z" * 257, {"displayName": "Zoe"})
    assert_error(response, 400, "bad_request", "labeler_id")
    response = put(client, tenant.admin, "projects/cams", {"name": "Ca\x00ms"})
    assert_error(response, 400, "bad_request", "A project name must not contain control characters")
    response = put(client, tenant.admin, "labelers/zoe", {"displayName": "Zoe", "email": "z\x00@x"})
    assert_error(response, 400, "bad_request", "A labeler email must not contain control characters")
    assert listed(client, tenant.read, "projects") == []
    assert listed(client, tenant.read, "labelers") == []
