"""What `make bench` writes into the README: results on other data never sit beside published ones unmarked."""

from __future__ import annotations

from mlstarter import machine

from .. import bench


def results(data: str, official: bool) -> dict:
    run = {"test_roc_auc": 0.99962, "test_roc_auc_ci_low": 0.95, "test_roc_auc_ci_high": 0.9999, "test_accuracy": 0.9,
           "test_screening_sensitivity": 0.99, "test_screening_specificity": 0.8, "test_screening_threshold": 0.4,
           "val_best_epoch": 9, "speed": {"train": {"seconds": 60, "peak_rss_mib": 700}}}  # fmt: skip
    summary = {"mean": 0.99962, "sd": 0.001, "folds": [0.99962]}
    return {"project": bench.PROJECT, "machine": machine.describe(), "data": data, "official_split": official,
            "runs": {"cnn, seed 42": run}, "cnn": {"test_roc_auc": summary, "test_accuracy": summary},
            "serving": {}}  # fmt: skip


def test_published_results_beside_another_split_say_not_comparable():
    text = bench.render(results("the shared sample", official=False))
    published = [line for line in text.splitlines() if "(published" in line]
    assert published and all(bench.NOT_COMPARABLE in line for line in published)
    assert "1.000" not in text and "> 0.999" in text  # 0.99962 is not shown as a perfect score
    assert bench.NOT_COMPARABLE not in bench.render(results("the official PneumoniaMNIST file", official=True))
