"""The SPEC §8 worked example through HTTP on both backends."""

from support.worked_example import WORKED_RANGE, WORKED_ROW, WORKED_TOTALS, worked_events


def test_worked_example(client, tenant):
    r = client.post("/acme/events", json=worked_events(), headers={"Authorization": f"Bearer {tenant.write}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 10, "duplicates": 0}
    r = client.get("/acme/stats", params={"api_key": tenant.read, **WORKED_RANGE})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [{k: row[k] for k in WORKED_ROW} for row in body["data"]] == [WORKED_ROW]
    assert body["stats"] == WORKED_TOTALS
