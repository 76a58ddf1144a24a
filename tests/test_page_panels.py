"""The Try-it panels of medical_imaging, time_series and gan in a real browser: Chromium, driven by Playwright,
against `mlstarter serve` of each project's evaluated dry run.

    $ CI=true MLSTARTER_DATA_DIR=../shared/datasets .venv/bin/python -m pytest -q tests/test_page_panels.py

As tests/test_page.py does for credit_risk and sentiment (its helpers are used here): each test opens the page,
waits for the example's result, checks it against the API's own answer, makes bad requests (the API's message
must show), opens the model tab and checks, throughout, that the page logged no console error, threw nothing,
had no request fail and asked only its own server. Screenshots and the time from a click to its result
(timings.json, reported, never asserted) go to the `page_output` folder: <pytest's temp folder>/page/.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np
from PIL import Image

from mlstarter import runs

from .test_page import (
    PHONE,
    _served,
    api_message,
    check_model_tab,
    click_to_result,
    fits_width,
    open_page,
    record_timing,
    result_count,
    wait_for_new_result,
)


def refusal(base_url: str, path: str, status: int, **request: Any) -> str:
    """The `msg` of the API's first error for this request (GET without a body, else POST), with its status."""
    method = "POST" if {"json", "files", "content"} & set(request) else "GET"
    response = httpx.request(method, base_url + path, timeout=30, **request)
    assert response.status_code == status, response.text
    return response.json()["detail"][0]["msg"]


def phone_check(browser: Any, base: str, output: Path, project: str) -> None:
    """At a phone's width: the example's result shows, one column, nothing cut off sideways."""
    with open_page(browser, base, viewport=PHONE) as watched:
        watched.page.locator("[data-result]").wait_for()
        assert fits_width(watched.page)
        watched.page.screenshot(path=output / f"{project}-phone.png", full_page=True)
        watched.check()


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# medical_imaging: an X-ray picked, dropped or clicked -> P(pneumonia), threshold, Grad-CAM, warnings


def test_medical_imaging_page(browser, page_server, page_runs, page_output: Path):
    base = page_server("medical_imaging")
    run = runs.Run("medical_imaging", *_served(page_runs("medical_imaging"), "medical_imaging"))
    examples = sorted(p.name for p in (run.path / "examples").glob("*.png"))  # make evaluate saved them
    assert {re.sub(r"-\d+\.png$", "", name) for name in examples} == {"xray-normal", "xray-pneumonia"}
    assert httpx.get(base + "/page/run", timeout=30).json()["examples"] == examples
    metrics = run.read_json("metrics.json")

    with open_page(browser, base) as watched:
        page = watched.page
        result = page.locator("[data-result]")
        result.wait_for()  # the first pneumonia example, read as the page loads
        assert page.get_by_text("not a medical device").count() == 1
        sensitivity, specificity = metrics["test_screening_sensitivity"], metrics["test_screening_specificity"]
        assert (f"the model found {round(100 * sensitivity)}% of pneumonia cases and cleared "
                f"{round(100 * specificity)}% of normal X-rays in the test set") in result.inner_text()  # fmt: skip
        assert result.locator("svg.gauge").count() == 1
        assert result.locator("img[src^='data:image/png;base64,']").count() == 1  # Grad-CAM beside the image

        # an example clicked: the API's answer for that very file
        name = next(n for n in examples if "normal" in n)
        milliseconds = click_to_result(page, page.get_by_role("button", name=f"Example X-ray: normal {name[-5]}"))
        record_timing(page_output, "medical_imaging", "click_to_result_ms", milliseconds)
        content = (run.path / "examples" / name).read_bytes()
        answer = httpx.post(base + "/predict", files={"file": (name, content, "image/png")}, timeout=30).json()
        assert result.locator(".headline").inner_text() == answer["label"].capitalize()
        shown_p = float(re.search(r"P\(pneumonia\) ([0-9.]+)", result.inner_text())[1])
        assert abs(shown_p - answer["probability_pneumonia"]) <= 5e-4
        page.screenshot(path=page_output / "medical_imaging-try.png", full_page=True)

        # a file picked with the labelled input: a noisy colour image, its warnings as the API gives them (the
        # out-of-distribution one among them when it fires)
        noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        before = result_count(page)
        page.get_by_label("Choose a chest X-ray").set_input_files(
            files=[{"name": "noise.png", "mimeType": "image/png", "buffer": png_bytes(noise)}]
        )
        wait_for_new_result(page, before)
        answer = httpx.post(base + "/predict", files={"file": ("noise.png", png_bytes(noise))}, timeout=30).json()
        codes = result.locator("[data-code]").evaluate_all("notes => notes.map(n => n.dataset.code)")
        assert codes == [w["code"] for w in answer["warnings"]] and {"converted", "resized"} <= set(codes)

        # a file dropped on the drop zone
        before = result_count(page)
        page.evaluate(
            """bytes => {
                const data = new DataTransfer();
                data.items.add(new File([new Uint8Array(bytes)], "dropped.png", { type: "image/png" }));
                const zone = document.getElementById("xray-file").closest(".note");
                zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
            }""",
            list(content),
        )
        wait_for_new_result(page, before)
        assert "dropped.png" in result.inner_text()

        # a file that is not an image: the API's 415 and its message, in an alert
        message = refusal(base, "/predict", 415, files={"file": ("notes.txt", b"not an image", "text/plain")})
        page.get_by_label("Choose a chest X-ray").set_input_files(
            files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"}]
        )
        page.get_by_role("alert").filter(has_text=message).wait_for()

        check_model_tab(page, page_runs("medical_imaging"), "medical_imaging")
        page.screenshot(path=page_output / "medical_imaging-model.png", full_page=True)
        watched.check(refused=[415])
    phone_check(browser, base, page_output, "medical_imaging")


# time_series: prices as CSV and a horizon -> the fan chart


def csv_of(history: list[dict]) -> str:
    return "date,price\n" + "\n".join(f"{p['date']},{p['price']}" for p in history) + "\n"


def check_model_tab_listing(page: Any, runs_dir: Path, project: str) -> None:
    """check_model_tab for a model card whose results section is a list in words (time_series' "Results in
    words"), not a table: the same checks, with the section's items in place of its table."""
    page.get_by_role("tab", name="The model").click()
    model = page.locator("#model")
    model.locator("table.runs").wait_for()
    assert model.locator(".headline li").count() >= 1, "the model card's results, in words"
    run = runs.Run(project, *_served(runs_dir, project))
    plots = sorted(p.name for p in (run.path / "plots").glob("*.png"))
    assert plots and model.locator(".plots img").count() == len(plots)
    page.wait_for_function("() => [...document.querySelectorAll('.plots img')].every(i => i.complete)")
    widths = model.locator(".plots img").evaluate_all("images => images.map(i => i.naturalWidth)")
    assert all(width > 0 for width in widths), "every plot loaded"
    assert model.locator("table.runs tbody tr.served th").inner_text() == run.run_id


def test_time_series_page(browser, page_server, page_runs, page_output: Path):
    base = page_server("time_series")
    schema = httpx.get(base + "/openapi.json", timeout=30).json()["components"]["schemas"]["ForecastRequest"]
    longest = schema["properties"]["horizon"]["maximum"]  # the served run's own (document_limits)
    example = next(e for e in schema["examples"] if "history" in e)["history"]
    with open_page(browser, base) as watched:
        page = watched.page
        result = page.locator("[data-result]")
        result.wait_for()  # the example's prices, forecast as the page loads
        horizon = page.get_by_role("slider", name="Horizon")
        assert horizon.get_attribute("max") == str(longest) and horizon.input_value() == str(longest)
        assert page.get_by_label("Your daily prices, as CSV").input_value() == csv_of(example).strip()
        answer = httpx.post(base + "/forecast", json={"horizon": longest, "history": example}, timeout=30).json()
        end = answer["path"][-1]
        assert end["date"] in result.locator(".headline").inner_text()
        chart = result.locator("svg.chart")  # the prices sent, the interval's band, the median path
        assert chart.locator("polyline").count() == 2 and chart.locator("polygon").count() == 1
        assert example[0]["date"] in chart.inner_html() and end["date"] in chart.inner_html()  # dates on the axis

        milliseconds = click_to_result(page, page.get_by_role("button", name="Forecast"))
        record_timing(page_output, "time_series", "click_to_result_ms", milliseconds)

        # the slider, by keyboard: Home is one day ahead
        before = result_count(page)
        horizon.focus()
        page.keyboard.press("Home")
        wait_for_new_result(page, before)
        assert result.locator("details tbody tr").count() == 1
        before = result_count(page)
        page.keyboard.press("End")  # back to the longest
        wait_for_new_result(page, before)
        assert result.locator("details tbody tr").count() == longest
        page.screenshot(path=page_output / "time_series-try.png", full_page=True)

        # a line that is not a date and a price: said in the page, before anything is sent
        sent = len([url for url in watched.requests if url.endswith("/forecast")])
        prices = page.get_by_label("Your daily prices, as CSV")
        prices.fill(csv_of(example[:2]) + "2019-13-45,2500\n")
        page.get_by_role("button", name="Forecast").click()
        page.get_by_role("alert").filter(has_text='Line 4: "2019-13-45" is not a date').wait_for()
        assert len([url for url in watched.requests if url.endswith("/forecast")]) == sent

        # too short a history: the API's own message
        short = example[:10]
        message = api_message(base, "/forecast", json={"horizon": longest, "history": short})
        prices.fill(csv_of(short))
        page.get_by_role("button", name="Forecast").click()
        page.get_by_role("alert").filter(has_text=message).wait_for()
        assert prices.get_attribute("aria-invalid") == "true"

        # a CSV file uploaded: forecast from its prices
        before = result_count(page)
        moved = [{**p, "price": round(p["price"] * 1.5, 2)} for p in example]
        page.get_by_label("Or upload a CSV file").set_input_files(
            files=[{"name": "prices.csv", "mimeType": "text/csv", "buffer": csv_of(moved).encode()}]
        )
        wait_for_new_result(page, before)
        assert page.get_by_role("alert").count() == 0
        assert f"from {round(moved[-1]['price']):,} on {moved[-1]['date']}" in result.inner_text()  # 3,760.27: 3,760

        check_model_tab_listing(page, page_runs("time_series"), "time_series")
        page.screenshot(path=page_output / "time_series-model.png", full_page=True)
        watched.check(refused=[422])
    phone_check(browser, base, page_output, "time_series")


# gan: a class, a seed and a count -> a grid; two seeds -> a walk between them


def canvas_image(page: Any, index: int, side: int) -> np.ndarray:
    """The first image (side x side, one pixel in from the corner) of the index-th canvas of the result, gray."""
    values = page.evaluate(
        """([index, side]) => {
            const canvas = document.querySelectorAll("[data-result] canvas")[index];
            return Array.from(canvas.getContext("2d").getImageData(1, 1, side, side).data);
        }""",
        [index, side],
    )
    return np.array(values, dtype=np.uint8).reshape(side, side, 4)[..., 0]


def test_gan_page(browser, page_server, page_runs, page_output: Path):
    base = page_server("gan")

    def first_image(query: str) -> np.ndarray:
        body = httpx.get(f"{base}{query}&format=json", timeout=30).json()
        return np.array(body["images"][0], dtype=np.uint8)

    with open_page(browser, base) as watched:
        page = watched.page
        result = page.locator("[data-result]")
        page.wait_for_function("() => document.querySelectorAll('[data-result] canvas').length === 2")  # grid, walk
        # the grid: 16 images of every class in turn, one class a column, as the API draws them
        grid = result.locator("canvas").first
        assert (grid.get_attribute("width"), grid.get_attribute("height")) == (str(10 * 9 + 1), str(2 * 9 + 1))
        assert np.array_equal(canvas_image(page, 0, 8), first_image("/generate?n=16&seed=0"))
        classes = page.get_by_label("Class", exact=True).evaluate("s => [...s.options].map(o => o.value)")
        assert classes == ["", *map(str, range(10))]

        # a class, a seed and a count
        page.get_by_label("Class", exact=True).select_option("3")
        page.get_by_label("Seed", exact=True).fill("7")
        page.get_by_label("How many", exact=True).fill("4")
        milliseconds = click_to_result(page, page.get_by_role("button", name="Generate"))
        record_timing(page_output, "gan", "click_to_result_ms", milliseconds)
        assert "4 images from seed 7, class 3" in result.inner_text()
        assert np.array_equal(canvas_image(page, 0, 8), first_image("/generate?n=4&seed=7&class=3"))

        # a walk: its first image is the first seed's, as /generate?n=1 draws it
        page.get_by_label("From seed", exact=True).fill("3")
        page.get_by_label("To seed", exact=True).fill("11")
        page.get_by_label("Steps", exact=True).fill("5")
        page.get_by_label("Class of the walk", exact=True).select_option("7")
        milliseconds = click_to_result(page, page.get_by_role("button", name="Walk", exact=True))
        record_timing(page_output, "gan", "walk_click_to_result_ms", milliseconds)
        walk = result.locator("canvas").nth(1)
        assert walk.get_attribute("width") == str(5 * 9 + 1)
        assert np.array_equal(canvas_image(page, 1, 8), first_image("/generate?n=1&seed=3&class=7"))
        assert "Seed 3 (left) to seed 11 (right) in 5 steps, class 7" in result.inner_text()
        page.screenshot(path=page_output / "gan-try.png", full_page=True)

        # too many images, too few steps: the API's own messages, in alerts
        message = refusal(base, "/generate?n=101&seed=7&class=3&format=json", 422)
        page.get_by_label("How many", exact=True).fill("101")
        page.get_by_role("button", name="Generate").click()
        page.get_by_role("alert").filter(has_text=message).wait_for()
        message = refusal(base, "/walk?from_seed=3&to_seed=11&steps=1&class=7&format=json", 422)
        page.get_by_label("Steps", exact=True).fill("1")
        page.get_by_role("button", name="Walk", exact=True).click()
        page.get_by_role("alert").filter(has_text=message).wait_for()

        check_model_tab(page, page_runs("gan"), "gan")
        page.screenshot(path=page_output / "gan-model.png", full_page=True)
        watched.check(refused=[422, 422])
    phone_check(browser, base, page_output, "gan")
