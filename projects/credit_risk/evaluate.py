"""Evaluate a trained credit-risk run on the held-out test applicants.

    $ make evaluate PROJECT=credit_risk [RUN=<run id>]
    $ python -m projects.credit_risk.evaluate [--run <run id>]

Measures the model on the test part that training never saw: ranking (ROC AUC, average precision,
KS), probabilities (Brier score, calibration), the business decision (expected cost at the
chosen threshold, confusion matrix), fairness by sex and age group, and feature importance.
Writes test_* metrics into metrics.json, plots/*.png, fairness.json and MODEL_CARD.md
into the run folder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate, true_positive_rate

from mlstarter import datasets, model_card, plots, runs
from mlstarter.config import from_dict
from mlstarter.metrics import binary_metrics, prefixed
from mlstarter.paths import project_name
from mlstarter.scripts import evaluate_parser, run_script

from . import data, model
from .config import Config
from .model import THRESHOLD_GRID, bayes_threshold, decision_costs, expected_cost, global_importance

PROJECT = project_name(__package__)
# make promote refuses (without --force) a run worse than the promoted one in any of these test metrics
PROMOTE_ON = {"test_roc_auc": "higher", "test_cost": "lower"}
KIND_DESCRIPTIONS = {
    "logistic": "cost-weighted L2 logistic regression on one-hot categories and standardised numbers",
    "boosting": "scikit-learn HistGradientBoostingClassifier",
    "blend": "the average of the logistic and boosting models' probabilities",
}


def fairness_report(y: np.ndarray, reject: np.ndarray, groups: pd.DataFrame) -> dict[str, dict]:
    """Per group: how many applicants, how many defaulted, how many we approve, and the error rates.

    true_positive_rate  = share of defaulters we reject (higher is safer)
    false_positive_rate = share of good payers we wrongly reject (the harm to a good applicant)
    The 'difference' row is the largest gap between groups (fairlearn's MetricFrame.difference).
    """
    report = {}
    for attribute in groups.columns:
        frame = MetricFrame(
            metrics={
                "applicants": lambda y_true, y_pred: len(y_true),
                "default_rate": lambda y_true, y_pred: float(np.mean(y_true)),
                "approval_rate": lambda y_true, y_pred: float(1 - np.mean(y_pred)),
                "true_positive_rate": true_positive_rate,
                "false_positive_rate": false_positive_rate,
            },
            y_true=y,
            y_pred=reject.astype(int),
            sensitive_features=groups[attribute],
        )
        by_group = frame.by_group.astype(float).round(3)
        report[attribute] = {
            "by_group": by_group.to_dict(orient="index"),
            "difference": frame.difference().drop(["applicants", "default_rate"]).astype(float).round(3).to_dict(),
        }
    return report


def main(argv: list[str] | None = None) -> int:
    args = evaluate_parser(__doc__).parse_args(argv)
    run = runs.latest_run(PROJECT, args.run)
    cfg = from_dict(Config, run.config)  # checked by the same rules as train.py's
    credit_model = model.load(run)

    # 1. The same data and seed as training give the same split; we use only its test set.
    applicants = data.load(cfg)
    if datasets.checksums(applicants.files) != run.environment["dataset_sha256"]:
        print("warning: the data file differs from the one this run was trained on; the test split may differ too.")
    test = applicants.splits["test"]
    X_test, y_test = data.features(test, cfg.data.drop_features), test[data.TARGET].to_numpy()
    p_test = credit_model.classifier.predict_proba(X_test)[:, 1]
    reject = credit_model.classifier.predict(X_test) == 1  # the decision the model carries: P(default) >= threshold
    threshold = credit_model.threshold

    # 2. Metrics, against the two trivial policies (approve everyone, reject everyone).
    metrics = {
        **prefixed(binary_metrics(y_test, p_test, threshold), "test"),
        **prefixed(decision_costs(y_test, p_test, threshold, cfg.cost), "test"),
    }
    fairness = fairness_report(y_test, reject, data.sensitive_features(test))
    importance = global_importance(credit_model.pipeline, X_test, y_test, cfg.seed)

    # 3. Plots.
    plot_dir = run.path / "plots"
    plots.roc(y_test, p_test, plot_dir / "roc.png", title="ROC curve (test)")
    plots.precision_recall(
        y_test, p_test, plot_dir / "precision_recall.png", title="Precision-recall, default = positive (test)"
    )
    plots.calibration(y_test, p_test, plot_dir / "calibration.png", n_bins=5, title="Calibration (test)")
    plots.curve(
        THRESHOLD_GRID,
        [expected_cost(y_test, p_test, t, cfg.cost) for t in THRESHOLD_GRID],
        plot_dir / "cost_vs_threshold.png",
        title="Expected cost per applicant (test)",
        xlabel="Threshold on P(default)",
        ylabel="Cost",
        mark_x=threshold,
        mark_label=f"chosen by cross-validation: {threshold:.2f}",
    )
    confusion = np.array([[metrics["test_tn"], metrics["test_fp"]], [metrics["test_fn"], metrics["test_tp"]]])
    plots.confusion(
        confusion, ["repaid", "defaulted"], plot_dir / "confusion_matrix.png", title="Confusion matrix (test)"
    )
    top = sorted(importance.items(), key=lambda kv: abs(kv[1]), reverse=True)[:20]
    kind_label = (
        "coefficient (log-odds of default; compare categories within an attribute)"
        if cfg.model.kind == "logistic"
        else "drop in ROC AUC when shuffled (permutation importance)"
    )
    plots.bars(
        [k for k, _ in top],
        [v for _, v in top],
        plot_dir / "importance.png",
        title=f"Feature importance ({cfg.model.kind})",
        xlabel=kind_label,
    )

    # 4. Write everything into the run folder (each file atomically).
    all_metrics = runs.update_json(run.path / "metrics.json", metrics)
    runs.write_json(run.path / "fairness.json", fairness)
    runs.write_json(run.path / "importance.json", dict(top))
    test_table = metrics_table(metrics, base_rate=float(np.mean(y_test)))
    card = render_card(
        run, cfg, credit_model, all_metrics, fairness, top, kind_label, len(applicants.frame), test_table
    )
    runs.write_text(run.path / "MODEL_CARD.md", card)

    print(f"***** Evaluation of {PROJECT} run {run.run_id} on {len(test)} held-out applicants *****")
    print(test_table)
    gaps = ", ".join(f"{a}: {r['difference']['false_positive_rate']:.3f}" for a, r in fairness.items())
    print(f"Gap in wrongly rejected good payers between groups: {gaps}")
    print(f"Plots and MODEL_CARD.md written to {run.path}")
    return 0


def metrics_table(metrics: dict, base_rate: float) -> str:
    """The test metrics beside what a model without skill would score (terminal and model card)."""
    rows = [
        ("ROC AUC", "roc_auc", "0.500 (no skill)"),
        ("Average precision (PR AUC, default = positive)", "average_precision", f"{base_rate:.3f} (the default rate)"),
        ("Brier score", "brier", f"{base_rate * (1 - base_rate):.3f} (always predict the default rate)"),
        ("Expected calibration error", "ece", "0 (perfect)"),
        ("KS statistic", "ks", "0.000"),
        (
            f"Cost per applicant at threshold {metrics['test_threshold']:.2f}",
            "cost",
            f"{metrics['test_cost_reject_all']:.3f} (reject everyone), {metrics['test_cost_approve_all']:.3f} (approve everyone)",
        ),
        ("Sensitivity (defaulters rejected)", "sensitivity", ""),
        ("Specificity (good payers approved)", "specificity", ""),
    ]
    return model_card.table([{"metric": m, "value": metrics[f"test_{k}"], "baseline": b} for m, k, b in rows])


def render_card(
    run: runs.Run,
    cfg: Config,
    credit_model: model.CreditModel,
    metrics: dict,
    fairness: dict,
    top: list[tuple[str, float]],
    kind_label: str,
    n_applicants: int,
    test_table: str,
) -> str:
    n_test = metrics["test_tp"] + metrics["test_fn"] + metrics["test_tn"] + metrics["test_fp"]
    if cfg.data.path:
        source, population = f"Your own file: `{cfg.data.path}`.", f"{n_applicants} applicants from your file"
    else:
        source = f"{data.DATASET.citation} License {data.DATASET.license}."
        population = f"{n_applicants} German applicants, published in 1994"
    fairness_tables = []
    for attribute, report in fairness.items():
        rows = [
            {"group": g, **{k: (int(v) if k == "applicants" else v) for k, v in values.items()}}
            for g, values in report["by_group"].items()
        ]
        rows.append(
            {
                "group": "**largest gap**",
                "applicants": "",
                "default_rate": "",
                **{k: v for k, v in report["difference"].items()},
            }
        )
        fairness_tables.append(f"**By {attribute.replace('_', ' ')}**\n\n{model_card.table(rows)}")
    return model_card.render(
        f"{run.project} · run {run.run_id}",
        {
            "Model details": (
                f"- Kind: **{cfg.model.kind}** ({KIND_DESCRIPTIONS[cfg.model.kind]}), "
                f"hyperparameters chosen by {cfg.model.cv_folds}-fold stratified CV: `{credit_model.params}`\n"
                f"- Output: the probability that the applicant defaults; the loan is rejected when it is at least **{credit_model.threshold:.2f}** (the saved model carries it: its `predict()` is the decision)\n"
                f"- Trained by mlstarter's `{run.project}` project, seed {cfg.seed}; full config in `config.json`, versions in `environment.json`"
            ),
            "Intended use": (
                "Teaching: how to build, evaluate and explain a credit-scoring model end to end. "
                f"It is **not** fit to decide on real loans: the data are {population}, "
                "and a real lender must meet legal duties (e.g. adverse-action reasons, anti-discrimination law) that this project does not."
            ),
            "Data": (
                f"{source}\n\n"
                f"Stratified split with seed {cfg.seed}: {1 - cfg.data.test_size:.0%} development "
                f"({cfg.model.cv_folds}-fold cross-validation chose the hyperparameters and the threshold, then the model was refit on all of it), "
                f"{cfg.data.test_size:.0%} test (this card). "
                f"Dropped attributes: {', '.join(cfg.data.drop_features) or 'none'}."
            ),
            "Test metrics": test_table
            + f"\n\nConfusion matrix (rows: actual, columns: decision): repaid → approved {metrics['test_tn']}, rejected {metrics['test_fp']}; "
            f"defaulted → approved {metrics['test_fn']}, rejected {metrics['test_tp']}.\n\n"
            f"Cross-validation on the development set: ROC AUC {metrics['cv_roc_auc_mean']:.3f} ± {metrics['cv_roc_auc_std']:.3f} over folds, "
            f"cost {metrics['val_cost']:.3f} per applicant on the out-of-fold predictions (a little optimistic: the threshold was chosen on them). "
            f"With {n_test} test applicants, ROC AUC moves by about ±0.03 from one split to another (measured on 200): "
            f"see `make bench` for repeated cross-validation.",
            "Business decision": (
                f"Cost matrix: approving a defaulter costs {cfg.cost.bad_as_good:g}, rejecting a good payer {cfg.cost.good_as_bad:g}. "
                f"The threshold {credit_model.threshold:.2f} minimised the expected cost on the validation folds of the cross-validation "
                f"(scikit-learn's `TunedThresholdClassifierCV`; a perfectly calibrated model would use {bayes_threshold(cfg.cost):.3f}). "
                "Plot: `plots/cost_vs_threshold.png`."
            ),
            "Fairness": (
                "Decisions on the test applicants by group. A true positive is a defaulter we reject; a false positive is a good payer we reject. "
                "Groups are small (some under 40 people), so gaps of several points can be noise.\n\n"
                + "\n\n".join(fairness_tables)
            ),
            "What drives the score": (
                f"Top attributes, {kind_label} (`plots/importance.png`):\n\n"
                + model_card.table([{"feature": k, "importance": v} for k, v in top[:10]])
            ),
            "Limitations and ethical considerations": (
                "- Sex (through personal status), age and foreign-worker status are model inputs by default, as in the original data; "
                "many jurisdictions forbid using them for credit. Try `--set data.drop_features=personal_status_sex,age,foreign_worker` and compare the fairness tables.\n"
                "- 1000 applicants: every metric here has wide error bars.\n"
                "- The labels describe loans that were granted; rejected applicants never got the chance to repay (selection bias)."
            ),
        },
    )


if __name__ == "__main__":
    raise SystemExit(run_script(main))
