"""The SPEC §8 worked example through HTTP on both backends."""

WORKED = [
    ("2024-03-01T10:00:00Z", "annotation.created", "img1", "a1", {}),
    ("2024-03-01T10:01:00Z", "annotation.created", "img1", "a2", {}),
    ("2024-03-01T10:02:00Z", "annotation.deleted", "img1", "a2", {}),
    ("2024-03-01T10:03:00Z", "annotation.updated", "img1", "a1", {}),
    ("2024-03-01T10:04:00Z", "image.marked_null", "img2", None, {}),
    ("2024-03-01T10:05:00Z", "image.model_assisted", "img3", None, {}),
    ("2024-03-02T10:00:00Z", "annotation.deleted", "img1", "a1", {}),
    ("2024-03-02T10:01:00Z", "annotation.created", "img1", "a3", {"modelAssisted": True}),
    ("2024-03-02T12:00:00Z", "image.approved", "img1", None, {}),
    ("2024-03-03T12:00:00Z", "image.rejected", "img2", None, {}),
]


def worked_events():
    events = []
    for i, (time, type_, image, annotation, extra) in enumerate(WORKED):
        event = {"id": f"e{i}", "type": type_, "time": time, "project": "p", "image": image,
                 "labeler": "A", **extra}
        if annotation:
            event["annotation"] = annotation
        events.append(event)
    return events


def test_worked_example(client, tenant):
    r = client.post("/acme/events", json=worked_events(), headers={"Authorization": f"Bearer {tenant.write}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 10, "duplicates": 0}
    r = client.get("/acme/stats", params={"api_key": tenant.read, "startDate": "2024-03-01",
                                          "endDate": "2024-03-02"})
    assert r.status_code == 200, r.text
    body = r.json()
    row = body["data"][0]
    assert (row["boxesAdded"], row["boxesRemoved"], row["boxesUpdated"], row["boxesDrawn"],
            row["netBoxesAdded"], row["imagesLabeled"], row["markedNull"], row["modelAssisted"],
            row["approved"], row["rejected"], row["approvalRate"]) == (3, 2, 1, 1, 2, 3, 1, 2, 1, 0, 100)
    assert body["stats"] == {
        "numImagesLabeled": 2, "numBoxesDrawn": 1, "numImagesMarkedNull": 1,
        "totalImagesUsingModelAssist": 2, "numBoxesAdded": 3, "numBoxesRemoved": 2,
        "numBoxesUpdated": 1, "netBoxesAdded": 2, "netBoxesUpdated": 1, "approvalRate": 100}
