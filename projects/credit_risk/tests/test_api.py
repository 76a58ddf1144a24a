"""The HTTP API, through FastAPI's test client, on a dry-run model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlstarter import runs

from .. import data, model, serve


@pytest.fixture(scope="module")
def client(trained_once):
    """One dry-run model served for the whole module: no test here changes it, so it is trained once, not per test."""
    run = trained_once("--dry-run")
    with TestClient(serve.create_app()) as c:
        c.run_id = run.run_id
        yield c


def test_example_file_matches_the_schema_example():
    example_file = Path(serve.__file__).parent / "example.json"
    assert json.loads(example_file.read_text()) == serve.EXAMPLE
    serve.Applicant(**serve.EXAMPLE)


def test_predict_one_applicant(client: TestClient):
    body = client.post("/predict", json=serve.EXAMPLE).json()
    assert 0 <= body["probability_of_default"] <= 1
    assert body["decision"] == ("reject" if body["probability_of_default"] >= body["threshold"] else "approve")
    assert body["model_version"] == client.run_id and body["top_features"] is None


def test_the_decision_is_the_saved_models_own(client: TestClient):
    """The API scores with the scorecard or the pipeline; either way it decides as the saved model does."""
    loaded = model.load(runs.latest_run(serve.PROJECT, client.run_id))
    applicants = [serve.EXAMPLE, {**serve.EXAMPLE, "checking_account": "no account", "duration_months": 12}]
    expected = loaded.classifier.predict(data.to_frame(applicants)[loaded.features])
    for explain in ("false", "true"):
        body = client.post(f"/predict/batch?explain={explain}", json={"applicants": applicants}).json()
        assert [p["decision"] == "reject" for p in body["predictions"]] == [bool(e) for e in expected]
        assert {p["threshold"] for p in body["predictions"]} == {loaded.threshold}


def test_explain_returns_the_top_features(client: TestClient):
    body = client.post("/predict?explain=true", json=serve.EXAMPLE).json()
    top = body["top_features"]
    assert len(top) == serve.TOP_FEATURES
    assert all(f["feature"] in serve.EXAMPLE and f["value"] == serve.EXAMPLE[f["feature"]] for f in top)
    effects = [abs(f["effect"]) for f in top]
    assert effects == sorted(effects, reverse=True)


def test_batch_matches_single_predictions(client: TestClient):
    other = {**serve.EXAMPLE, "checking_account": "no account", "duration_months": 36}
    batch = client.post("/predict/batch", json={"applicants": [serve.EXAMPLE, other]}).json()
    assert batch["model_version"] == client.run_id
    singles = [client.post("/predict", json=a).json() for a in (serve.EXAMPLE, other)]
    assert batch["predictions"] == singles


def test_metadata_and_docs(client: TestClient):
    meta = client.get("/metadata").json()
    assert meta["project"] == serve.PROJECT and meta["run_id"] == client.run_id
    assert "val_roc_auc" in meta["metrics"] and "checking_account" in meta["input_schema"]["properties"]
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Applicant"]
    assert schema["examples"] == [serve.EXAMPLE]  # the /docs form is pre-filled with it


def changed(**fields):
    return {**serve.EXAMPLE, **fields}


def without(field):
    return {k: v for k, v in serve.EXAMPLE.items() if k != field}


@pytest.mark.parametrize(
    "body, field",
    [
        (without("age"), "age"),  # a missing field
        (changed(salary=3000), "salary"),  # an extra field
        (changed(age=12), "age"),  # out of range
        (changed(duration_months=0), "duration_months"),
        (changed(credit_amount=10**9), "credit_amount"),
        (changed(housing="castle"), "housing"),  # an unknown category
        (changed(age="forty"), "age"),  # the wrong type
        (changed(age=40.5), "age"),
        (changed(age=None), "age"),
    ],
)
def test_bad_applicants_get_a_422_naming_the_field(client: TestClient, body: dict, field: str):
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert field in [d["loc"][-1] for d in response.json()["detail"]]


@pytest.mark.parametrize("content", [b"{not json", b"", b"[]", b'"applicant"', b"1e999", b'{"age": NaN}'])
def test_malformed_json_is_a_422(client: TestClient, content: bytes):
    response = client.post("/predict", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"]


@pytest.mark.parametrize("applicants", [[], [serve.EXAMPLE] * (serve.MAX_BATCH + 1)])
def test_empty_or_oversized_batches_are_a_422(client: TestClient, applicants: list):
    response = client.post("/predict/batch", json={"applicants": applicants})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "applicants"]


def test_one_bad_applicant_in_a_batch_is_named_by_position(client: TestClient):
    response = client.post("/predict/batch", json={"applicants": [serve.EXAMPLE, changed(age=3)]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "applicants", 1, "age"]


def test_curl_without_a_content_type_header_works(client: TestClient):
    # `curl -X POST localhost:8000/predict -d @example.json` labels JSON as a form
    response = client.post(
        "/predict",
        content=json.dumps(serve.EXAMPLE).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200


def test_an_applicant_like_the_training_data_gets_no_warning(client: TestClient):
    assert client.post("/predict", json=serve.EXAMPLE).json()["warnings"] == []


def test_values_the_schema_allows_but_training_never_saw_are_flagged_by_field(client: TestClient):
    # the schema takes loans up to 1,000,000 DM and 120 months; the training applicants borrowed at most
    # 15,945 DM for at most 60 months (fewer in a dry run), and none asked for a vacation loan
    seen = runs.latest_run(serve.PROJECT, client.run_id).read_json("reference.json")
    assert "vacation" not in seen["categories"]["purpose"]  # in the schema, never in the data
    unusual = {**serve.EXAMPLE, "credit_amount": 5 * seen["numeric"]["credit_amount"]["max"], "duration_months": 120,
               "purpose": "vacation"}  # fmt: skip
    body = client.post("/predict", json=unusual).json()
    flagged = {w["field"]: w["code"] for w in body["warnings"]}
    assert flagged == {"credit_amount": "out_of_range", "duration_months": "out_of_range", "purpose": "unseen_category"}
    assert (
        "above the largest"
        in body["warnings"][[w["field"] for w in body["warnings"]].index("credit_amount")]["message"]
    )
    # the batch form carries each applicant's own warnings
    batch = client.post("/predict/batch", json={"applicants": [serve.EXAMPLE, unusual]}).json()["predictions"]
    assert batch[0]["warnings"] == [] and batch[1]["warnings"] == body["warnings"]
