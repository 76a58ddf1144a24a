"""Model tests: the decision rule, and behaviour the trained models should show on this data.

Each behavioural expectation is one the German Credit data clearly supports, with the
reason written beside it; both model kinds must meet it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from .. import data, model
from ..config import Config, CostConfig
from ..model import THRESHOLD_GRID, Scorecard, bayes_threshold, contributions, expected_cost, reference_applicant
from ..train import fit

KINDS = ["logistic", "boosting", "blend"]


def saved_classifier(run):
    """The run's classifier: predict_proba gives P(default), predict the decision at its threshold."""
    return model.load(run).classifier


def with_value(X: pd.DataFrame, column: str, value) -> pd.DataFrame:
    changed = X.copy()
    changed[column] = pd.Series([value] * len(X), index=X.index, dtype=X[column].dtype)
    return changed


# ----- the decision rule ---------------------------------------------------------------------


def test_expected_cost_matches_the_cost_matrix():
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.1, 0.8, 0.2, 0.1])
    # threshold 0.5: one defaulter approved (cost 5), one good payer rejected (cost 1)
    assert expected_cost(y, p, 0.5, CostConfig()) == pytest.approx(6 / 5)
    assert expected_cost(y, p, 0.0, CostConfig()) == pytest.approx(3 / 5)  # reject everyone
    assert expected_cost(y, p, 1.01, CostConfig()) == pytest.approx(10 / 5)  # approve everyone


def test_bayes_threshold():
    assert bayes_threshold(CostConfig()) == pytest.approx(1 / 6)
    assert bayes_threshold(CostConfig(bad_as_good=1, good_as_bad=1)) == pytest.approx(0.5)


def test_the_cost_scorer_is_the_negative_expected_cost(splits):
    develop, test = splits
    X, y = data.features(develop), develop[data.TARGET].to_numpy()
    classifier = model.with_threshold(model.build(Config(), X).fit(X, y), 0.3)
    X_test, y_test = data.features(test), test[data.TARGET].to_numpy()
    p = classifier.predict_proba(X_test)[:, 1]
    assert np.array_equal(classifier.predict(X_test), (p >= 0.3).astype(int))  # the model carries its decision
    scorer = model.cost_scorer(CostConfig())
    assert scorer(classifier, X_test, y_test) == pytest.approx(-expected_cost(y_test, p, 0.3, CostConfig()))


def test_the_threshold_scikit_learn_chose_is_the_cheapest_on_the_validation_predictions(splits):
    """What TunedThresholdClassifierCV does is the lesson written out: on the out-of-fold predictions
    (equal folds, so the mean over folds is the cost over all applicants), no threshold of the grid
    costs less; among equally cheap ones it keeps the lowest."""
    develop = splits[0]
    cfg = Config()
    result = fit(cfg, model.build(cfg, data.features(develop)), develop, progress=False)
    y = develop[data.TARGET].to_numpy()
    costs = np.array([expected_cost(y, result.oof, t, cfg.cost) for t in THRESHOLD_GRID])
    assert expected_cost(y, result.oof, result.threshold, cfg.cost) == pytest.approx(costs.min())
    assert result.threshold == THRESHOLD_GRID[np.isclose(costs, costs.min())].min()
    assert result.model.threshold == result.threshold  # the fitted model carries it
    assert abs(result.threshold - bayes_threshold(cfg.cost)) < 0.1  # near 1/6: the probabilities are calibrated


# ----- behaviour of the trained models ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_models_rank_far_better_than_chance(kind, trained, splits):
    classifier, (_, test) = saved_classifier(trained[kind]), splits
    from sklearn.metrics import roc_auc_score

    # Cross-validated AUCs on this data are 0.78-0.80, and one 200-row fold varies by about ±0.03.
    assert roc_auc_score(test[data.TARGET], classifier.predict_proba(data.features(test))[:, 1]) > 0.70


@pytest.mark.parametrize("kind", KINDS)
def test_no_checking_account_is_safer_than_an_overdrawn_one(kind, trained, splits):
    # In the data 49% of applicants with an overdrawn account (< 0 DM) default, against 12%
    # of those with no checking account: the strongest single signal in the data.
    classifier, X = saved_classifier(trained[kind]), data.features(splits[1])
    p_overdrawn = classifier.predict_proba(with_value(X, "checking_account", "< 0 DM"))[:, 1]
    p_none = classifier.predict_proba(with_value(X, "checking_account", "no account"))[:, 1]
    assert p_none.mean() < p_overdrawn.mean() - 0.1
    assert (p_none <= p_overdrawn + 1e-9).mean() > 0.9  # and for nearly every applicant


@pytest.mark.parametrize("kind", KINDS)
def test_longer_loans_are_riskier_on_average(kind, trained, splits):
    # Default rate rises with duration: 21% for loans of a year or less, 52% beyond 3 years.
    classifier, X = saved_classifier(trained[kind]), data.features(splits[1])
    p_short = classifier.predict_proba(with_value(X, "duration_months", 6))[:, 1]
    p_long = classifier.predict_proba(with_value(X, "duration_months", 48))[:, 1]
    assert p_long.mean() > p_short.mean() + 0.05


@pytest.mark.parametrize("kind", KINDS)
def test_predictions_do_not_depend_on_row_order_or_batching(kind, trained, splits):
    classifier, X = saved_classifier(trained[kind]), data.features(splits[1])
    p = classifier.predict_proba(X)[:, 1]
    shuffled = X.sample(frac=1, random_state=0)
    assert np.allclose(classifier.predict_proba(shuffled)[:, 1], pd.Series(p, index=X.index)[shuffled.index])
    assert np.allclose([classifier.predict_proba(X.iloc[[i]])[0, 1] for i in range(5)], p[:5])


@pytest.mark.parametrize("kind", KINDS)
def test_contributions_explain_the_difference_from_a_typical_applicant(kind, trained, splits):
    classifier, X = saved_classifier(trained[kind]), data.features(splits[1])
    reference = reference_applicant(X)
    # the typical applicant itself: nothing to explain
    assert np.allclose(contributions(classifier, reference, reference).to_numpy(), 0)
    effects = contributions(classifier, X.head(20), reference)
    assert effects.shape == (20, len(X.columns))
    if kind == "logistic":
        # for a linear model the effects add up exactly to the difference in log-odds
        logit = lambda q: np.log(q / (1 - q))  # noqa: E731
        p, p_ref = classifier.predict_proba(X.head(20))[:, 1], classifier.predict_proba(reference)[0, 1]
        assert np.allclose(effects.sum(axis=1), logit(p) - logit(p_ref), atol=1e-6)


def test_the_scorecard_is_the_logistic_pipeline_exactly(trained, frame):
    """The API scores with the scorecard: it must give the pipeline's probability for every applicant,
    and the decision the saved model makes at the threshold it carries."""
    loaded, X = model.load(trained["logistic"]), data.features(frame)
    card = loaded.scorecard
    ours = [card.probability(record) for record in X.to_dict("records")]
    np.testing.assert_allclose(ours, loaded.classifier.predict_proba(X)[:, 1], rtol=1e-9, atol=1e-12)
    assert np.array_equal(np.array(ours) >= loaded.threshold, loaded.classifier.predict(X) == 1)
    unseen = {**X.iloc[0].to_dict(), "purpose": "a purpose no one had"}  # one-hot ignores it: adds 0 points
    unknown = X.iloc[[0]].astype({"purpose": "object"}).assign(purpose="a purpose no one had")
    assert card.probability(unseen) == pytest.approx(loaded.classifier.predict_proba(unknown)[0, 1], rel=1e-9)
    assert model.load(trained["boosting"]).scorecard is None  # trees have no table of points
    assert Scorecard.of(loaded.pipeline) is not None
