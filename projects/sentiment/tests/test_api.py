"""The HTTP API, through FastAPI's test client, on a model trained on the generated CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlstarter import testing

from .. import serve


@pytest.fixture(scope="module")
def client(toy_csv: Path, tmp_path_factory: pytest.TempPathFactory):
    mp = pytest.MonkeyPatch()
    mp.setenv("MLSTARTER_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    run = testing.train(__package__, "--data", str(toy_csv), "--set", "model.kind=tfidf")
    with TestClient(serve.create_app()) as c:
        c.run_id = run.run_id
        yield c
    mp.undo()


def test_example_file_matches_the_schema_example():
    assert json.loads((Path(serve.__file__).parent / "example.json").read_text()) == serve.EXAMPLE
    serve.Review(**serve.EXAMPLE)


def test_predict_one_text(client: TestClient):
    body = client.post("/predict", json={"text": "A brilliant, charming film."}).json()
    assert body["label"] == "positive" and body["probability_positive"] > 0.5
    assert body["model_version"] == client.run_id
    words = [w["word"] for w in body["words"]]
    assert words[0] in {"brilliant", "charming"} and body["words"][0]["effect"] > 0
    assert len(words) <= serve.TOP_WORDS
    assert body["attention"] is None  # only the transformer kind has attention (test_sequence.py)


def test_predict_a_batch_in_order(client: TestClient):
    texts = ["a dull, lifeless mess", "superb and moving", "bland"]
    body = client.post("/predict/batch", json={"texts": texts}).json()
    assert [p["label"] for p in body["predictions"]] == ["negative", "positive", "negative"]
    assert body["model_version"] == client.run_id


@pytest.mark.parametrize(
    "text",
    [
        "😍😍😍",
        "Très bien, Amélie était charmante !",
        "סרט מצוין",
        "فيلم رائع",
        "很好看",
        "zero\u200bwidth",
        "tab\tand\nnewline",
    ],
)
def test_any_unicode_is_answered(client: TestClient, text: str):
    response = client.post("/predict", json={"text": text})
    assert response.status_code == 200
    assert 0 <= response.json()["probability_positive"] <= 1


@pytest.mark.parametrize(
    ("url", "body", "expected"),
    [
        ("/predict", {"text": ""}, "at least 1 character"),
        ("/predict", {"text": " \n\t "}, "empty or only whitespace"),
        ("/predict", {"text": 42}, "valid string"),
        ("/predict", {"text": None}, "valid string"),
        ("/predict", {"text": ["a", "b"]}, "valid string"),
        ("/predict", {"text": "x" * (serve.MAX_CHARS + 1)}, f"at most {serve.MAX_CHARS} characters"),
        ("/predict", {}, "Field required"),
        ("/predict", {"text": "ok", "extra": 1}, "Extra inputs are not permitted"),
        ("/predict/batch", {"texts": []}, "at least 1 item"),
        ("/predict/batch", {"texts": ["ok"] * (serve.MAX_BATCH + 1)}, f"at most {serve.MAX_BATCH} items"),
        ("/predict/batch", {"texts": ["ok", 3]}, "valid string"),
        ("/predict/batch", {"texts": ["y" * 5000] * 11}, "add up to 55,000 characters"),
        ("/predict/batch", {"texts": "one text"}, "valid list"),
    ],
)
def test_bad_requests_are_422_with_a_reason(client: TestClient, url: str, body: dict, expected: str):
    response = client.post(url, json=body)
    assert response.status_code == 422
    assert expected in json.dumps(response.json())


def test_malformed_json_is_422(client: TestClient):
    response = client.post("/predict", content=b'{"text": "unclosed', headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_metadata_describes_the_input(client: TestClient):
    meta = client.get("/metadata").json()
    assert meta["run_id"] == client.run_id and "text" in meta["input_schema"]["properties"]


def test_an_unpaired_surrogate_is_422_not_500(client: TestClient):
    body = b'{"text": "good \\ud800 film"}'  # JSON may escape half of a surrogate pair; it is not a character
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "valid string" in response.json()["detail"][0]["msg"]


def test_a_text_of_known_words_has_no_warning(client: TestClient):
    body = client.post("/predict", json={"text": "A brilliant, charming film."}).json()
    assert body["known_word_share"] == 0.75 and body["warnings"] == []  # "a" is not in the generated reviews


@pytest.mark.parametrize(
    ("text", "code", "share"),
    [
        ("Zxqv blorf glimmick!", "no_known_words", 0.0),  # no word the model has seen: the answer is its prior
        ("?!? :-)", "no_known_words", 0.0),  # no words at all
        ("brilliant zxqv blorf glimmick frobnar", "few_known_words", 0.2),  # 1 of 5
    ],
)
def test_a_text_the_model_mostly_cannot_read_says_so(client: TestClient, text: str, code: str, share: float):
    # before: a confident-looking label for a text of unknown words, with nothing to tell it apart
    body = client.post("/predict", json={"text": text}).json()
    assert body["known_word_share"] == share
    assert [(w["code"], w["field"]) for w in body["warnings"]] == [(code, "text")]
    batch = client.post("/predict/batch", json={"texts": ["A brilliant film.", text]}).json()["predictions"]
    assert batch[0]["warnings"] == [] and batch[1]["warnings"] == body["warnings"]
