from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from mlstarter import runs, serving


class Item(BaseModel):
    x: float = Field(ge=0, le=10)


class Doubler:
    def __init__(self, run: runs.Run):
        self.factor = run.config["factor"]

    def __call__(self, x: float) -> float:
        if x == 7:
            raise serving.InvalidInputError("7 cannot be doubled here")
        return self.factor * x


router = APIRouter()


@router.post("/predict")
def predict(item: Item, model: Annotated[Doubler, Depends(serving.get_predictor)]) -> dict:
    return {"y": model(item.x)}


def make_app(run_id: str | None = None):
    return serving.create_app(project="demo", router=router, load_predictor=Doubler, input_model=Item, run_id=run_id)


@dataclass
class DemoConfig:
    seed: int = 0
    factor: int = 2


def write_demo_run(metrics: dict | None = None) -> runs.Run:
    """A run of the demo project, saved as training saves one."""
    with runs.create("demo", DemoConfig(), data_files={}, dry_run=False) as run:
        run.save_metrics({"val_roc_auc": 0.9} if metrics is None else metrics)
    return runs.latest_run("demo")


@pytest.fixture
def client(tmp_root: Path):
    write_demo_run()
    with TestClient(make_app()) as c:
        yield c


def test_health_and_metadata(client: TestClient):
    assert client.get("/health").json()["status"] == "ok"
    meta = client.get("/metadata").json()
    assert meta["project"] == "demo" and meta["metrics"] == {"val_roc_auc": 0.9}
    assert meta["input_schema"]["properties"]["x"]["maximum"] == 10


def test_predict_and_the_curl_default_content_type(client: TestClient):
    assert client.post("/predict", json={"x": 3}).json() == {"y": 6}
    # what `curl -d @file.json` sends: JSON labelled as a form
    response = client.post(
        "/predict", content=b'{"x": 3}', headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.json() == {"y": 6}


@pytest.mark.parametrize(
    "body, field",
    [
        (b'{"x": 11}', "x"),
        (b'{"y": 1}', "x"),
        (b'{"x": "three"}', "x"),
        (b'{"x": ', None),
        (b"", None),
        (b'{"x": NaN}', "x"),  # NaN and infinity are not JSON, but Python's parser lets them through
        (b'{"x": Infinity}', "x"),
        (b"1e999", None),
    ],
)
def test_bad_input_is_a_422_that_says_what_is_wrong(client: TestClient, body: bytes, field: str | None):
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail and all("msg" in d for d in detail)
    if field:
        assert detail[0]["loc"][-1] == field


def test_predictor_input_errors_are_422(client: TestClient):
    response = client.post("/predict", json={"x": 7})
    assert response.status_code == 422 and "cannot be doubled" in response.json()["detail"][0]["msg"]


def test_no_trained_run_refuses_to_start_and_names_the_command(tmp_root: Path):
    with pytest.raises(runs.RunNotFoundError, match="make train PROJECT=demo"), TestClient(make_app()):
        pass


def test_docs_work_offline(client: TestClient):
    page = client.get("/docs").text
    assert "cdn." not in page  # no script or stylesheet from a CDN
    [script] = [line.split('"')[1] for line in page.splitlines() if "<script src=" in line]
    assert client.get(script).status_code == 200


def test_a_huge_bad_input_is_not_echoed_back_whole(client: TestClient):
    response = client.post("/predict", json={"x": "z" * 1_000_000})
    assert response.status_code == 422
    assert len(response.content) < 2000
    assert "1,000,000 characters" in response.json()["detail"][0]["input"]
    response = client.post("/predict", json={"x": list(range(100_000))})
    assert response.status_code == 422 and len(response.content) < 2000
    assert response.json()["detail"][0]["input"][-1] == "… (100,000 items)"


def test_an_unpaired_surrogate_in_a_bad_input_is_echoed_escaped(client: TestClient):
    response = client.post("/predict", content=b'{"x": "a\\ud800b"}', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == "a\\ud800b"


def test_a_body_over_the_cap_is_a_413_that_says_the_limit(client: TestClient):
    response = client.post("/predict", content=b" " * (3 * 2**20), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert (
        "3,145,728 bytes" in response.json()["detail"][0]["msg"]
        and f"{serving.DEFAULT_MAX_BODY_BYTES:,}" in response.json()["detail"][0]["msg"]
    )
    chunked = (b" " * 2**20 for _ in range(3))  # no Content-Length: counted as it arrives
    response = client.post("/predict", content=chunked, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "at most" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"[" * 100_000 + b"]" * 100_000, "recursion"),
        (b'{"x": "\xff"}', "utf-8"),
        (b"9" * 5000, "digits"),
    ],
)
def test_a_body_that_cannot_be_parsed_is_a_400_that_says_why(client: TestClient, body: bytes, reason: str):
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert reason in response.json()["detail"][0]["msg"].lower()


def test_422_lists_at_most_50_errors_and_escapes_raw_bytes(client: TestClient):
    response = client.post("/predict", content=bytes(range(256)), headers={"content-type": "application/octet-stream"})
    assert response.status_code == 422 and "\\x80" in response.json()["detail"][0]["input"]
    many = serving.json_safe(list(range(10**4)))
    assert len(many) == serving.MAX_ECHO_ITEMS and many[-1] == "… (10,000 items)"


def test_every_answer_names_the_model_version(client: TestClient):
    run_id = client.get("/health").json()["run_id"]
    for response in (client.get("/health"), client.post("/predict", json={"x": 99}), client.get("/nowhere")):
        assert response.headers["x-model-version"] == run_id
    assert "413" in client.get("/openapi.json").json()["paths"]["/predict"]["post"]["responses"]


def test_a_run_whose_config_is_refused_says_so_in_one_line(tmp_root: Path):
    from mlstarter import persistence
    from mlstarter.config import ConfigError

    write_demo_run()

    def refuse(run: runs.Run):
        raise ConfigError("factor must be at most 1; got 2")

    app = serving.create_app(project="demo", router=router, load_predictor=refuse, input_model=Item)
    with pytest.raises(persistence.ModelLoadError, match="has a config this code refuses: factor must be at most 1"):
        serving.preload(app)
