"""The forecast API: answers, the same answer twice, and a 422 with a reason for every bad request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlstarter import testing
from mlstarter.config import from_dict

from .. import data, model, serve
from ..config import Config, DataConfig

EXAMPLE = json.loads((Path(serve.__file__).parent / "example.json").read_text())


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSTARTER_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
        run = testing.train(__package__, "--dry-run", "--set", "serve.returns=arima")
        with TestClient(serve.create_app()) as client:
            client.run_id = run.run_id
            yield client


def test_forecast_from_the_training_series_end(client: TestClient):
    response = client.post("/forecast", json={"horizon": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == client.run_id and body["returns_model"] == "arima"
    assert body["last_date"] == "2018-12-31" and len(body["path"]) == 5
    assert [step["date"] for step in body["path"]][:2] == ["2019-01-01", "2019-01-02"]
    for step in body["path"]:
        assert 0 < step["lower"] < step["median_price"] < step["upper"] and step["volatility_pct"] > 0
    widths = [s["upper"] - s["lower"] for s in body["path"]]
    assert widths == sorted(widths)  # uncertainty grows with the horizon
    assert client.post("/forecast", json={"horizon": 5}).json() == body  # the same answer twice


def test_forecast_from_a_sent_history(client: TestClient):
    body = client.post("/forecast", json=EXAMPLE).json()
    assert body["last_date"] == EXAMPLE["history"][-1]["date"]
    assert body["last_price"] == EXAMPLE["history"][-1]["price"]
    calm = [{"date": p["date"], "price": 100 + 0.01 * i} for i, p in enumerate(EXAMPLE["history"])]
    calm_body = client.post("/forecast", json={"horizon": 1, "history": calm}).json()
    assert calm_body["annualised_volatility_pct"] < body["annualised_volatility_pct"]  # it reads the history


@pytest.mark.parametrize(
    "request_body, says",
    [
        ({"horizon": 0}, "greater than or equal to 1"),
        ({"horizon": 21}, "at most 20 trading days"),
        ({"horizon": 251}, "less than or equal to 250"),
        ({"horizon": 2.5}, "valid integer"),
        ({"horizon": True}, "valid integer"),
        ({"history": [{"date": "9999-12-31", "price": 1}] * 60}, "less than or equal to 2200-12-31"),
        ({"history": [{"date": f"{1900 + i}-01-02", "price": 100 + i} for i in range(60)]}, "send daily prices"),
        (
            {
                "history": [
                    {"date": d["date"], "price": 1e12 if i % 2 else 1e-300} for i, d in enumerate(EXAMPLE["history"])
                ]
            },
            "move too much",
        ),
        ({"history": EXAMPLE["history"][:10]}, "at least 60 daily prices"),
        ({"history": EXAMPLE["history"][::-1]}, "sorted oldest first"),
        ({"history": EXAMPLE["history"] + EXAMPLE["history"][-1:]}, "appears twice"),
        ({"history": [{"date": "2024-01-02", "price": 0}] * 60}, "greater than 0"),
        ({"history": [{"date": "2024-01-02", "price": "NaN"}] * 60}, "finite number"),
        ({"history": [{"date": "yesterday", "price": 1}] * 60}, "valid date"),
        ({"horizon": 5, "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_requests_get_a_422_that_says_why(client: TestClient, request_body: dict, says: str):
    response = client.post("/forecast", json=request_body)
    assert response.status_code == 422
    assert says in json.dumps(response.json())


def test_not_json_is_a_422(client: TestClient):
    response = client.post("/forecast", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "json_invalid"


def test_small_prices_keep_their_digits(client: TestClient):
    cheap = [{"date": p["date"], "price": p["price"] / 1e7} for p in EXAMPLE["history"]]  # 0.00025 a share
    step = client.post("/forecast", json={"horizon": 1, "history": cheap}).json()["path"][0]
    assert 0 < step["lower"] < step["median_price"] < step["upper"] < 0.001


def codes(body: dict) -> set[str]:
    assert all(w["field"] == "history" and w["message"] for w in body["warnings"])
    return {w["code"] for w in body["warnings"]}


def test_prices_unlike_the_training_series_get_warnings(client: TestClient):
    """The dry run trained on 2017-2018; prices from inside it get no warning, a crash or a dead calm do."""
    assert client.post("/forecast", json={"horizon": 2}).json()["warnings"] == []  # the training series itself
    assert client.post("/forecast", json=EXAMPLE).json()["warnings"] == []  # October to December 2018
    crash = [*EXAMPLE["history"][:-1], {**EXAMPLE["history"][-1], "price": EXAMPLE["history"][-2]["price"] * 0.8}]
    body = client.post("/forecast", json={"horizon": 2, "history": crash}).json()
    assert "return_out_of_range" in codes(body) and "-22.3% on 2018-12-31" in json.dumps(body["warnings"])
    assert len(body["path"]) == 2  # a warning, not a refusal: the forecast is made
    calm = [{"date": p["date"], "price": 100 + 0.01 * i} for i, p in enumerate(EXAMPLE["history"])]
    assert codes(client.post("/forecast", json={"horizon": 1, "history": calm}).json()) == {"volatility_out_of_range"}


def test_fewer_prices_than_the_served_models_use_is_a_warning(prices_csv: Path):
    prices = data.load_prices(DataConfig(path=str(prices_csv), price_column="Close"))
    seen = data.reference(prices, volatility_window=21, history_wanted=101)  # e.g. serve.returns=mean, 100 days
    last = prices.frame.price
    assert serve.unlike_training(last.iloc[-101:], seen) == []  # its own prices, as many as wanted
    [warning] = serve.unlike_training(last.iloc[-60:], seen)
    assert warning.code == "short_history" and "60 prices; the served models use the last 101" in warning.message
    assert model.history_wanted(from_dict(Config, {"serve": {"returns": "mean"}})) == Config().model.mean_window + 1
