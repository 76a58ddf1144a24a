"""Serve a trained credit-risk run over HTTP.

    $ make serve PROJECT=credit_risk [RUN=<run id>] [PORT=8000]
    $ python -m projects.credit_risk.serve [--run <run id>] [--port 8000]
    $ curl -X POST localhost:8000/predict -d @projects/credit_risk/example.json
    $ curl -X POST 'localhost:8000/predict?explain=true' -d @projects/credit_risk/example.json

Open http://127.0.0.1:8000/ to try the model and see its run (page.js), or /docs for a form with an example applicant.
`POST /predict` scores one applicant: the probability of default, the decision at the
threshold chosen in training, and (with `?explain=true`) the attributes that moved the
score most. `POST /predict/batch` scores up to 1000 applicants at once.
"""

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from mlstarter import server, serving
from mlstarter.paths import project_name
from mlstarter.runs import Run

from . import data, model
from .model import contributions

PROJECT = project_name(__package__)
MAX_BATCH = 1000  # applicants per batch request: bounds memory and latency
TOP_FEATURES = 5  # attributes returned by ?explain=true
EXAMPLE = json.loads(
    (Path(__file__).parent / "example.json").read_text(encoding="utf-8")
)  # the first applicant in the data

# One allowed-values type per categorical attribute, e.g. Choice["housing"] = Literal["rent", "own", "for free"]
Choice = {column: Literal[tuple(values.values())] for column, values in data.CATEGORIES.items()}


def whole_number(column: str, description: str) -> Any:
    """A pydantic Field for an integer attribute (serving.Integer), limited to its valid range."""
    low, high = data.NUMERIC_RANGES[column]
    return Field(ge=low, le=high, description=f"{description} ({low} to {high})")


class Applicant(BaseModel):
    """One loan applicant, in the readable values of the German Credit data."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    checking_account: Choice["checking_account"] = Field(description="Balance of the applicant's checking account")
    duration_months: serving.Integer = whole_number("duration_months", "Duration of the loan in months")
    credit_history: Choice["credit_history"] = Field(description="Credit history")
    purpose: Choice["purpose"] = Field(description="What the loan is for")
    credit_amount: serving.Integer = whole_number("credit_amount", "Amount of the loan in Deutsche Mark")
    savings: Choice["savings"] = Field(description="Savings account or bonds")
    employment_since: Choice["employment_since"] = Field(description="Present employment since")
    installment_rate: serving.Integer = whole_number(
        "installment_rate", "Installment as a share of disposable income, in bands"
    )
    personal_status_sex: Choice["personal_status_sex"] = Field(description="Sex and personal status")
    other_debtors: Choice["other_debtors"] = Field(description="Other debtors or guarantors")
    residence_since: serving.Integer = whole_number("residence_since", "Years at the present residence, in bands")
    property: Choice["property"] = Field(description="Most valuable property")
    age: serving.Integer = whole_number("age", "Age in years")
    other_installment_plans: Choice["other_installment_plans"] = Field(description="Other installment plans")
    housing: Choice["housing"] = Field(description="Housing")
    existing_credits: serving.Integer = whole_number("existing_credits", "Number of existing credits at this bank")
    job: Choice["job"] = Field(description="Job")
    dependents: serving.Integer = whole_number("dependents", "Number of people the applicant supports")
    telephone: Choice["telephone"] = Field(description="Telephone registered in the applicant's name")
    foreign_worker: Choice["foreign_worker"] = Field(description="Foreign worker")


class Contribution(BaseModel):
    feature: str
    value: str | int = Field(description="The applicant's value")
    effect: float = Field(description="Change in log-odds of default against a typical applicant; positive = riskier")


class Prediction(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "probability_of_default": 0.0526,
                    "decision": "approve",
                    "threshold": 0.19,
                    "model_version": "20261126-134730",
                    "top_features": None,
                    "warnings": [],
                }
            ]
        }
    )

    probability_of_default: float = Field(ge=0, le=1)
    decision: Literal["approve", "reject"]
    threshold: float = Field(description="Reject when the probability of default is at least this")
    model_version: str = Field(description="The run id of the model that answered")
    top_features: list[Contribution] | None = Field(default=None, description="With ?explain=true")
    warnings: list[serving.PredictionWarning] = serving.warnings_field()


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"applicants": [EXAMPLE]}]})
    applicants: list[Applicant] = Field(min_length=1, max_length=MAX_BATCH)


class BatchPrediction(BaseModel):
    model_version: str
    predictions: list[Prediction]


class CreditPredictor:
    """The model of one run, loaded once at start-up."""

    def __init__(self, run: Run):
        self.run_id = run.run_id
        loaded = model.load(run)
        self.model = loaded.classifier  # the fitted pipeline with its threshold
        self.threshold = loaded.threshold  # the one the model carries: its predict() rejects at P(default) >= this
        self.features = loaded.features
        self.reference = loaded.reference
        self.scorecard = loaded.scorecard  # the logistic model as a sum of points: fast; None for trees
        # what training saw (ranges of numbers, counts of categories); runs saved before it existed have none
        self.seen = run.reference

    def predict(self, applicants: list[Applicant], explain: bool) -> list[Prediction]:
        records = [a.model_dump() for a in applicants]
        if self.scorecard is not None and not explain:
            p = [self.scorecard.probability(r) for r in records]  # the pipeline's exact answer, 100x faster
        else:
            X = data.to_frame(records)[self.features]
            p = self.model.predict_proba(X)[:, 1]
        effects = contributions(self.model, X, self.reference) if explain else None
        predictions = []
        for i, p_default in enumerate(p):
            top = None
            if effects is not None:
                row = effects.iloc[i]
                top = [
                    Contribution(feature=f, value=X[f].iloc[i], effect=round(float(row[f]), 4))
                    for f in row.abs().sort_values(ascending=False).index[:TOP_FEATURES]
                ]
            predictions.append(
                Prediction(
                    probability_of_default=round(float(p_default), 4),
                    # the model's own rule (FixedThresholdClassifier.predict), applied to p from either path
                    decision="reject" if p_default >= self.threshold else "approve",
                    threshold=self.threshold,
                    model_version=self.run_id,
                    top_features=top,
                    warnings=self.unlike_training(records[i]),
                )
            )
        return predictions

    def unlike_training(self, record: dict[str, Any]) -> list[serving.PredictionWarning]:
        """A warning for each value the schema allows but training never saw: a number outside the range
        of the training applicants, or a category none of them had. The model's answer there is a guess."""
        if self.seen is None:
            return []
        warnings = []
        for column in self.features:
            value = record[column]
            if column in self.seen["numeric"]:
                low, high = self.seen["numeric"][column]["min"], self.seen["numeric"][column]["max"]
                if not low <= value <= high:
                    side = "below the smallest" if value < low else "above the largest"
                    warnings.append(serving.PredictionWarning(
                        code="out_of_range", field=column,
                        message=f"{column} {value:,} is {side} the model learned from ({low:,} to {high:,}): "
                        "its answer for such an applicant is an extrapolation",
                    ))  # fmt: skip
            elif self.seen["categories"][column].get(value, 0) == 0:
                warnings.append(serving.PredictionWarning(
                    code="unseen_category", field=column,
                    message=f"no applicant the model learned from had {column} {value!r}: its answer rests on no data "
                    "about such applicants",
                ))  # fmt: skip
        return warnings


router = APIRouter(tags=[PROJECT])
PredictorDep = Annotated[CreditPredictor, Depends(serving.get_predictor)]


@router.post("/predict")
def predict(applicant: Applicant, predictor: PredictorDep, request: Request, explain: bool = False) -> Prediction:
    """Score one applicant."""
    answer = predictor.predict([applicant], explain)[0]
    log(request, [applicant], [answer])
    return answer


@router.post("/predict/batch")
def predict_batch(
    batch: BatchRequest, predictor: PredictorDep, request: Request, explain: bool = False
) -> BatchPrediction:
    """Score up to 1000 applicants in one call."""
    answers = predictor.predict(batch.applicants, explain)
    log(request, batch.applicants, answers)
    return BatchPrediction(model_version=predictor.run_id, predictions=answers)


def log(request: Request, applicants: list[Applicant], answers: list[Prediction]) -> None:
    """Log each applicant and answer for drift monitoring (monitor.py), when the server logs. Every attribute
    is logged, the sensitive ones too (sex and status, age, foreign worker): monitoring fairness needs them.
    The guide's monitoring section says what that asks of you."""
    for applicant, answer in zip(applicants, answers, strict=True):
        output = {"probability_of_default": answer.probability_of_default, "decision": answer.decision}
        serving.log_prediction(request, applicant.model_dump(), output, answer.warnings)


def example_requests() -> dict[str, dict]:
    """What `make bench-serve` sends: one applicant, and a batch of 100."""
    return {
        "single": {"path": "/predict", "json": EXAMPLE},
        "batch": {"path": "/predict/batch", "json": {"applicants": [EXAMPLE] * 100}},
    }


def create_app(run_id: str | None = None) -> FastAPI:
    """The app for `uvicorn --factory projects.credit_risk.serve:create_app` (newest run by default)."""
    return serving.create_app(
        project=PROJECT,
        router=router,
        load_predictor=CreditPredictor,
        input_model=Applicant,
        run_id=run_id,
        description=__doc__,
        panel=Path(__file__).with_name("page.js"),  # the Try-it tab of the page at GET /
    )


if __name__ == "__main__":
    raise SystemExit(server.main(PROJECT))
