"""make predict: a price CSV forecast as the API forecasts a history, bad lines left out and listed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlstarter import batch
from mlstarter.datasets import DataError

from .. import predict, serve
from .conftest import simulated_prices


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_a_price_file_gives_the_apis_forecast(trained_once, tmp_path: Path):
    run = trained_once("--dry-run")
    prices = simulated_prices(120, seed=3).rename(columns={"Close": "Adj Close"})
    source = tmp_path / "prices.csv"
    prices.to_csv(source, index=False)
    output = tmp_path / "forecast.csv"
    assert predict.main([str(source), str(output), "--horizon", "3"]) == 0
    rows = read(output)
    assert [r["day"] for r in rows] == ["1", "2", "3"] and {r["model_version"] for r in rows} == {run.run_id}
    history = [{"date": d, "price": p} for d, p in zip(prices["Date"], prices["Adj Close"], strict=True)]
    with TestClient(serve.create_app()) as client:
        answer = client.post("/forecast", json={"horizon": 3, "history": history}).json()
    assert [float(r["median_price"]) for r in rows] == [step["median_price"] for step in answer["path"]]
    assert {r["warnings"] for r in rows} == {batch.cell(answer["warnings"])}  # the API's warnings, as "code(field)"


def test_a_tab_separated_file_is_named_then_read_with_separator(trained_once, tmp_path: Path):
    trained_once("--dry-run")
    source, output = tmp_path / "prices.tsv", tmp_path / "forecast.csv"
    simulated_prices(120, seed=3).to_csv(source, index=False, sep="\t")
    with pytest.raises(DataError, match="looks tab-separated.*Pass --separator tab"):
        predict.main([str(source), str(output), "--price-column", "Close"])
    assert predict.main([str(source), str(output), "--price-column", "Close", "--separator", "tab"]) == 0
    assert len(read(output)) == 5


def test_bad_lines_are_left_out_and_listed(trained_once, tmp_path: Path):
    trained_once("--dry-run")
    prices = simulated_prices(120, seed=3).astype({"Close": object})
    prices.loc[5, "Close"] = "n/a"
    prices.loc[9, "Date"] = "soon"
    source = tmp_path / "prices.csv"
    prices.to_csv(source, index=False)
    output = tmp_path / "forecast.csv"
    assert predict.main([str(source), str(output), "--price-column", "Close"]) == 1  # a forecast, and two bad lines
    assert len(read(output)) == 5
    errors = {r["line"]: r["error"] for r in read(output.with_name("forecast.csv.errors.csv"))}
    assert errors.keys() == {"line 7", "line 11"}  # line 1 is the header
    assert errors["line 7"].startswith("price: Input should be a valid number")
    assert errors["line 11"].startswith("date: Input should be a valid date")


def test_too_few_prices_is_no_forecast_and_says_why(trained_once, tmp_path: Path):
    trained_once("--dry-run")
    source = tmp_path / "prices.csv"
    simulated_prices(10).to_csv(source, index=False)
    output = tmp_path / "forecast.csv"
    assert predict.main([str(source), str(output), "--price-column", "Close"]) == 1
    assert read(output) == []
    [error] = read(output.with_name("forecast.csv.errors.csv"))
    assert error["line"] == "all lines" and "at least 60 daily prices" in error["error"]
    with pytest.raises(DataError, match="no column 'Adj Close'"):
        predict.main([str(source), str(output)])
