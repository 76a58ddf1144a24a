"""The models, the business decision and the explanations.

Three models, chosen with `model.kind`:
- logistic: one-hot categories + standardised numbers -> L2-regularised logistic regression,
  fitted with defaulters weighted by the cost ratio. A readable scorecard: within one
  attribute, the difference between two categories' coefficients is the change in log-odds
  of default between them; a number's coefficient is the change per standard deviation.
- boosting: scikit-learn's HistGradientBoostingClassifier on the raw columns (it splits on
  categories natively): shallow trees, slow learning rate, feature subsampling.
- blend: the average of the two models' probabilities (a soft vote).

`build` makes the unfitted model, train.py fits it, `save` writes it into a run and `load`
reads it back for evaluate.py and serve.py. The saved model carries its decision threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import make_scorer
from sklearn.model_selection import FixedThresholdClassifier, ParameterGrid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlstarter import persistence, runs
from mlstarter.runs import Run

from . import data
from .config import Config, CostConfig, ModelConfig

# Types a saved model may contain beyond skops' safe defaults. Loading refuses anything else
# (see mlstarter.persistence); if you add a step to the pipeline, add its types here.
TRUSTED_TYPES = [
    "functools.partial",  # wraps check_array inside the boosting model's input validation
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "sklearn.utils._bunch.Bunch",  # the blend's named members
    f"{__name__}.CostWeightedLogisticRegression",  # this module's own class (below), named as a copy names it
]


def build(cfg: Config, X: pd.DataFrame) -> Pipeline:
    """An unfitted pipeline for the columns of `X` (categorical columns have a category dtype)."""
    if cfg.model.kind == "logistic":
        return logistic_pipeline(cfg, X)
    if cfg.model.kind == "boosting":
        return boosting_pipeline(cfg)
    # blend: average the two models' probabilities (a soft vote): their errors differ, so the average ranks better
    members = [("logistic", logistic_pipeline(cfg, X)), ("boosting", boosting_pipeline(cfg))]
    return Pipeline([("model", VotingClassifier(members, voting="soft"))])


def logistic_pipeline(cfg: Config, X: pd.DataFrame) -> Pipeline:
    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in X.columns if c not in categorical]
    encode = ColumnTransformer(
        [
            # one column per category; the full category list keeps serving stable for rare values
            (
                "categories",
                OneHotEncoder(categories=[list(X[c].cat.categories) for c in categorical], handle_unknown="ignore"),
                categorical,
            ),
            ("numbers", StandardScaler(), numeric),  # (x - mean) / sd, so coefficients compare
        ],
        verbose_feature_names_out=False,
    )
    weights = {0: 1.0, 1: cost_ratio(cfg.cost)} if cfg.model.logistic_cost_weighted else None
    classifier = CostWeightedLogisticRegression(C=cfg.model.logistic_c[0], class_weight=weights, max_iter=5000)
    return Pipeline([("encode", encode), ("model", classifier)])


class CostWeightedLogisticRegression(LogisticRegression):
    """Logistic regression that may weight the classes while fitting, yet still predicts P(default).

    Weighting defaulters by w = bad_as_good / good_as_bad makes the fit care most about the
    costly mistakes, but multiplies the odds it predicts by w (logit p_weighted = logit p + log w).
    Subtracting log w from the intercept undoes that, so predict_proba is again P(default).
    The correction is part of `fit`, not a step after it: scikit-learn's tools (the threshold
    search in train.py, the blend's VotingClassifier) clone and refit the model, and every
    refit must undo the weighting too.
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> CostWeightedLogisticRegression:
        super().fit(X, y, sample_weight=sample_weight)
        if isinstance(self.class_weight, dict):
            self.intercept_ -= np.log(self.class_weight[1] / self.class_weight[0])
        return self


class Scorecard:
    """A fitted logistic pipeline as the table of points it is: log-odds of default = intercept + the
    points of each category the applicant has + weight x (value - mean) / sd for each number.

    Exactly the pipeline's probability (a test checks it), in microseconds instead of milliseconds:
    no data frame, no column transformer, just a sum. The API uses it for every applicant without
    `?explain=true`.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        encode, logistic = pipeline.named_steps["encode"], pipeline.named_steps["model"]
        weights, at = logistic.coef_[0], 0
        self.intercept = float(logistic.intercept_[0])
        self.points: dict[str, dict[str, float]] = {}
        onehot = encode.named_transformers_["categories"]
        for column, categories in zip(encode.transformers_[0][2], onehot.categories_, strict=True):
            self.points[column] = {str(c): float(w) for c, w in zip(categories, weights[at:], strict=False)}
            at += len(categories)
        scaler = encode.named_transformers_["numbers"]
        self.numbers = {
            column: (float(w), float(m), float(sd))
            for column, w, m, sd in zip(
                encode.transformers_[1][2], weights[at:], scaler.mean_, scaler.scale_, strict=True
            )
        }

    @classmethod
    def of(cls, model: Pipeline) -> Scorecard | None:
        """The scorecard of a logistic pipeline; None for the other kinds (trees have no table of points)."""
        steps = getattr(model, "named_steps", {})
        return cls(model) if "encode" in steps and isinstance(steps.get("model"), LogisticRegression) else None

    def probability(self, applicant: dict) -> float:
        """P(default) for one applicant given as readable values, e.g. {"housing": "own", "age": 35, ...}."""
        log_odds = self.intercept
        for column, points in self.points.items():
            log_odds += points.get(str(applicant[column]), 0.0)  # an unknown category adds nothing, as in one-hot
        for column, (weight, mean, sd) in self.numbers.items():
            log_odds += weight * (applicant[column] - mean) / sd
        return 1 / (1 + math.exp(-log_odds))


def boosting_pipeline(cfg: Config) -> Pipeline:
    booster = HistGradientBoostingClassifier(
        learning_rate=cfg.model.boosting_learning_rate[0],
        max_depth=cfg.model.boosting_max_depth,
        max_iter=cfg.model.boosting_max_iter,
        max_features=cfg.model.boosting_max_features,
        min_samples_leaf=cfg.model.boosting_min_samples_leaf,
        categorical_features="from_dtype",  # splits on the category columns directly
        random_state=cfg.seed,
    )
    return Pipeline([("model", booster)])


def search_space(cfg: ModelConfig) -> list[dict]:
    """The hyperparameter candidates that cross-validation chooses from."""
    c, rate = list(cfg.logistic_c), list(cfg.boosting_learning_rate)
    if cfg.kind == "logistic":
        return list(ParameterGrid({"model__C": c}))
    if cfg.kind == "boosting":
        return list(ParameterGrid({"model__learning_rate": rate}))
    return list(ParameterGrid({"model__logistic__model__C": c, "model__boosting__model__learning_rate": rate}))


def cost_ratio(cost: CostConfig) -> float:
    return cost.bad_as_good / cost.good_as_bad


# ----- the business decision ---------------------------------------------------------------
#
# Written out here because they are the lesson: the cost of a decision, the grid of thresholds
# tried and the Bayes threshold. The search over the grid (fit on k - 1 folds, cost of every
# threshold on the k-th, average over the folds, keep the cheapest, refit on every applicant)
# is scikit-learn's TunedThresholdClassifierCV, called in train.py with this cost as its score.
# The saved model is a FixedThresholdClassifier: the fitted pipeline with that threshold, whose
# predict() is the decision (1 = reject) and predict_proba() still P(default).

THRESHOLD_GRID = np.round(np.arange(0.01, 1.0, 0.01), 2)  # thresholds tried: 0.01, 0.02, ..., 0.99


def decision_cost(y: np.ndarray, reject: np.ndarray, cost: CostConfig) -> float:
    """Average cost per applicant of these decisions (1 or True = reject the applicant).

    cost = (bad_as_good * #defaulters approved + good_as_bad * #good payers rejected) / n
    """
    y, reject = np.asarray(y), np.asarray(reject).astype(bool)
    approved_defaulters = np.sum(~reject & (y == 1))
    rejected_payers = np.sum(reject & (y == 0))
    return float((cost.bad_as_good * approved_defaulters + cost.good_as_bad * rejected_payers) / len(y))


def expected_cost(y: np.ndarray, p_default: np.ndarray, threshold: float, cost: CostConfig) -> float:
    """Average cost per applicant when we reject everyone with P(default) >= threshold."""
    return decision_cost(y, np.asarray(p_default) >= threshold, cost)


def cheapest_threshold(
    y: np.ndarray, p_default: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], cost: CostConfig
) -> float:
    """The threshold of THRESHOLD_GRID with the lowest cost averaged over the validation folds (of equally
    cheap ones, the lowest): what TunedThresholdClassifierCV in train.py chooses, from out-of-fold predictions."""
    mean_cost = [np.mean([expected_cost(y[val], p_default[val], t, cost) for _, val in folds]) for t in THRESHOLD_GRID]
    return float(THRESHOLD_GRID[int(np.argmin(mean_cost))])


def cost_scorer(cost: CostConfig) -> Any:
    """The cost as a scikit-learn scorer for the threshold search. Scorers are maximised, so it is
    the negative cost; TunedThresholdClassifierCV calls it with the decisions at each threshold."""
    return make_scorer(decision_cost, greater_is_better=False, cost=cost)


def bayes_threshold(cost: CostConfig) -> float:
    """With perfectly calibrated probabilities, rejecting is cheaper exactly when
    p * bad_as_good > (1 - p) * good_as_bad, i.e. p > good_as_bad / (good_as_bad + bad_as_good)."""
    return cost.good_as_bad / (cost.good_as_bad + cost.bad_as_good)


def with_threshold(pipeline: Pipeline, threshold: float) -> FixedThresholdClassifier:
    """The fitted pipeline and its decision in one model: predict() rejects when P(default) >= threshold.
    Not fitted again: it wraps the pipeline as it is."""
    return FixedThresholdClassifier(pipeline, threshold=float(threshold), response_method="predict_proba")


def decision_costs(y: np.ndarray, p_default: np.ndarray, threshold: float, cost: CostConfig) -> dict[str, float]:
    """Cost per applicant at the threshold, and of the two policies that need no model."""
    return {
        "cost": expected_cost(y, p_default, threshold, cost),
        "cost_reject_all": expected_cost(y, p_default, 0.0, cost),
        "cost_approve_all": expected_cost(y, p_default, 1.01, cost),
    }


# ----- the run's model files ----------------------------------------------------------------


@dataclass
class CreditModel:
    """A run's model as evaluate.py and serve.py use it."""

    classifier: FixedThresholdClassifier  # predict_proba: P(default); predict: 1 = reject, at its threshold
    features: list[str]  # the input columns, in order
    reference: pd.DataFrame  # the typical applicant that explanations compare against (one row)
    params: dict[str, Any]  # the hyperparameters cross-validation chose
    scorecard: Scorecard | None  # the logistic model as a table of points; None for the other kinds

    @property
    def pipeline(self) -> Pipeline:
        """The fitted pipeline inside (encoding and model), without the decision."""
        return self.classifier.estimator

    @property
    def threshold(self) -> float:
        """Reject when P(default) >= threshold: the threshold the saved model carries."""
        return float(self.classifier.threshold)


def save(
    run_dir: Path, classifier: FixedThresholdClassifier, params: dict, reference: pd.DataFrame, cost: CostConfig
) -> None:
    """Write the model files of a run: model.skops (the model with its threshold) and decision.json."""
    persistence.save_sklearn(classifier, run_dir / "model.skops")
    decision = {
        "threshold": float(classifier.threshold),  # the model carries it; written here too, for a reader of the run
        "bayes_threshold": bayes_threshold(cost),
        "params": params,
        "features": list(reference.columns),
        "reference_applicant": reference.iloc[0].to_dict(),
    }
    runs.write_json(run_dir / "decision.json", decision)


def load(run: Run) -> CreditModel:
    """Read a run's model back, safely: skops refuses any type outside TRUSTED_TYPES."""
    classifier = persistence.load_sklearn(run.path / "model.skops", TRUSTED_TYPES)
    decision = run.read_json("decision.json")
    features = decision["features"]
    return CreditModel(
        classifier=classifier,
        features=features,
        reference=data.to_frame([decision["reference_applicant"]])[features],
        params=decision["params"],
        scorecard=Scorecard.of(classifier.estimator),
    )


# ----- explanations --------------------------------------------------------------------------


def reference_applicant(X: pd.DataFrame) -> pd.DataFrame:
    """A typical applicant: the median of each number, the most common value of each category."""
    row = {
        c: (X[c].mode().iloc[0] if isinstance(X[c].dtype, pd.CategoricalDtype) else int(X[c].median()))
        for c in X.columns
    }
    return pd.DataFrame([row]).astype(X.dtypes.to_dict())


def contributions(model: Pipeline, X: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """How much each attribute moves each applicant's log-odds of default.

    contribution[f] = logit P(default | x) - logit P(default | x with f set to the typical value)
    Positive values push towards default. One batched predict call: (1 + n_features) * n rows.
    """
    variants = [X]
    for column in X.columns:
        variant = X.copy()
        variant[column] = pd.Series([reference[column].iloc[0]] * len(X), index=X.index, dtype=X[column].dtype)
        variants.append(variant)
    p = np.clip(model.predict_proba(pd.concat(variants, ignore_index=True))[:, 1], 1e-9, 1 - 1e-9)
    logit = np.log(p / (1 - p)).reshape(len(variants), len(X))  # (1 + n_features, n)
    return pd.DataFrame((logit[0] - logit[1:]).T, columns=X.columns, index=X.index)


def global_importance(model: Pipeline, X: pd.DataFrame, y: np.ndarray, seed: int) -> dict[str, float]:
    """Logistic: the coefficient of each category and of each standardised number (log-odds;
    compare categories within one attribute). Boosting and blend: permutation importance,
    the drop in ROC AUC when one column is shuffled."""
    if isinstance(model.named_steps["model"], LogisticRegression):
        names = [readable_name(name, X.columns) for name in model.named_steps["encode"].get_feature_names_out()]
        return dict(zip(names, model.named_steps["model"].coef_[0].round(6).tolist(), strict=True))
    result = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=10, random_state=seed)
    return dict(zip(X.columns, result.importances_mean.round(6).tolist(), strict=True))


def readable_name(encoded: str, columns: pd.Index) -> str:
    """'checking_account_< 0 DM' (a one-hot column's name) -> 'checking_account = < 0 DM'."""
    for column in columns:
        if encoded.startswith(f"{column}_") and encoded != column:
            return f"{column} = {encoded[len(column) + 1 :]}"
    return encoded
