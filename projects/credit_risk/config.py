"""Every knob of the credit-risk project, with the reason for each default.

Change a value for one run from the command line, e.g.
    $ python -m projects.credit_risk.train --set model.kind=logistic --set cost.bad_as_good=10
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlstarter import tuning
from mlstarter.config import ConfigError


@dataclass
class DataConfig:
    path: str = ""  # your own file in the same format (--data); empty = the canonical German Credit file
    separator: Literal["comma", "semicolon", "tab", "pipe"] = (
        "comma"  # of your own CSV; semicolon: Excel in much of Europe
    )
    test_size: float = 0.2  # 200 applicants held out, touched only by evaluate.py
    drop_features: tuple[str, ...] = ()  # e.g. personal_status_sex,age to train without sensitive attributes

    def validate(self) -> None:
        if not 0.05 <= self.test_size <= 0.5:
            raise ConfigError(f"data.test_size must be between 0.05 and 0.5; got {self.test_size}")


@dataclass
class ModelConfig:
    # logistic: as cheap as any kind in 10-fold CV, and it reads like a scorecard
    kind: Literal["logistic", "boosting", "blend"] = "logistic"
    cv_folds: int = 5  # stratified folds: they choose the hyperparameters and the threshold; 5 is the usual protocol
    # logistic regression: C is the inverse L2 strength, searched over this grid by CV
    logistic_c: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)  # below 0.03 underfits, above 1 barely regularises
    # weight defaulters by the cost ratio (5) when fitting: 10-fold CV cost 0.025 lower (make bench)
    logistic_cost_weighted: bool = True
    # gradient boosting (scikit-learn's HistGradientBoosting): small trees, slow learning, feature subsampling
    boosting_learning_rate: tuple[float, ...] = (0.02, 0.05)  # searched by CV; small steps generalise better
    boosting_max_depth: int = 3  # shallow trees capture a few interactions; depth 2 and 4 scored lower in CV
    boosting_max_iter: int = 400  # enough trees for learning rate 0.02
    boosting_max_features: float = 0.3  # share of features each split may use, as in a random forest
    boosting_min_samples_leaf: int = 20  # no leaf describes fewer than 20 applicants

    def validate(self) -> None:
        if self.cv_folds < 2:
            raise ConfigError(f"model.cv_folds must be at least 2; got {self.cv_folds}")
        for key in ("boosting_max_depth", "boosting_max_iter", "boosting_min_samples_leaf"):
            if getattr(self, key) < 1:
                raise ConfigError(f"model.{key} must be at least 1; got {getattr(self, key)}")
        if not 0 < self.boosting_max_features <= 1:
            raise ConfigError(
                f"model.boosting_max_features is a share of the features, in (0, 1]; got {self.boosting_max_features}"
            )
        if min(self.logistic_c, default=0) <= 0 or min(self.boosting_learning_rate, default=0) <= 0:
            raise ConfigError("model.logistic_c and model.boosting_learning_rate need at least one value, all above 0")


@dataclass
class CostConfig:
    # The StatLog cost matrix for this dataset: lending to a bad applicant costs five times
    # as much as turning away a good one.
    bad_as_good: float = 5.0  # a defaulter classified as good (false negative)
    good_as_bad: float = 1.0  # a good payer classified as bad (false positive)

    def validate(self) -> None:
        if self.bad_as_good <= 0 or self.good_as_bad <= 0:
            raise ConfigError(
                f"both costs must be above 0; got bad_as_good={self.bad_as_good}, good_as_bad={self.good_as_bad}"
            )


@dataclass
class Config:
    seed: int = 42  # fixes the split, the CV folds and the model; same seed -> same metrics
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    cost: CostConfig = field(default_factory=CostConfig)

    def validate(self) -> None:
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be between 0 and 2**32 - 1; got {self.seed}")


def searchable(cfg: Config) -> dict[str, tuning.Param]:
    """The knobs `make tune` searches for this config's model kind, and their ranges (see tune.py).

    Each trial sets every key to one value (a grid field such as logistic_c becomes a
    one-value grid). The ranges are wide around the defaults; the log scales spread trials
    evenly over orders of magnitude, where C and learning rates act.
    """
    logistic = {
        "model.logistic_c": tuning.Float(1e-3, 10.0, log=True),
        "model.logistic_cost_weighted": tuning.Choice((True, False)),
    }
    boosting = {
        "model.boosting_learning_rate": tuning.Float(0.01, 0.3, log=True),
        "model.boosting_max_depth": tuning.Int(2, 6),
        "model.boosting_max_iter": tuning.Int(50, 800, log=True),
        "model.boosting_max_features": tuning.Float(0.1, 1.0),
        "model.boosting_min_samples_leaf": tuning.Int(5, 80, log=True),
    }
    return {"logistic": logistic, "boosting": boosting, "blend": {**logistic, **boosting}}[cfg.model.kind]
