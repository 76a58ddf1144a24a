"""Serve a trained sentiment run over HTTP.

    $ make serve PROJECT=sentiment [RUN=<run id>] [PORT=8000]
    $ python -m projects.sentiment.serve [--run <run id>] [--port 8000]
    $ curl -X POST localhost:8000/predict -d @projects/sentiment/example.json
    $ curl -X POST localhost:8000/predict -H 'Content-Type: application/json' -d '{"text": "Not bad at all!"}'

Open http://127.0.0.1:8000/ to try the model and see its run (page.js), or /docs for a form with an example.
`POST /predict` labels one text: positive or negative, P(positive), and the words that pushed
the decision most (effect = change in log-odds of positive when the word is removed).
For the transformer kind (`--set model.kind=transformer`), the answer's `attention` also says which
tokens each attention head of the network's last block looks at: per head, one weight per token, the
share of the head's attention the token receives, averaged over the text's tokens as they look
(received[j] = mean over i of A[i, j], A = softmax(QK^T / sqrt(d)); each in [0, 1], each head's sum 1).
It is null for every other kind, which has no attention. Attention shows where the network looked,
not why it decided: `words` measures what each word did to the decision.
`POST /predict/batch` labels up to 100 texts at once, each answered as by `POST /predict`. Any language and any Unicode
(accents, emoji, right-to-left scripts) is accepted, though the model only knows English reviews.
`make serve` logs each prediction for `make monitor`: a summary of the text (its words, characters and
share of known words), never the text itself, and the answer.
"""

import json
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from mlstarter import server, serving
from mlstarter.paths import project_name
from mlstarter.runs import Run

from . import model
from .data import FEW_KNOWN_WORDS, LABEL_NAMES, known_share, summarize
from .model import attention_received, attention_weights, probability, word_effects

PROJECT = project_name(__package__)
MAX_CHARS = 5000  # per text; a review snippet is about 110 characters, a long review a few thousand
MAX_BATCH = 100  # texts per batch request
# Explaining a text scores it once more per distinct word (up to 100), so a batch's cost grows with its
# total length: this cap keeps the slowest batch to seconds, not minutes, on a small CPU.
MAX_BATCH_CHARS = 50_000
TOP_WORDS = 5  # words returned with each prediction
EXAMPLE = json.loads((Path(__file__).parent / "example.json").read_text(encoding="utf-8"))


def not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("the text is empty or only whitespace; send at least one word")
    return text


# "At least one character that is not whitespace", for the schema: the characters are listed (Python's
# str.isspace), not written as \S, whose meaning differs between regex engines (\x1c-\x1f among others)
NOT_BLANK = "[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
Text = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=MAX_CHARS),  # strict: 42 or null is not a text
    AfterValidator(not_blank),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_CHARS, "pattern": NOT_BLANK}),
]


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    text: Text = Field(description=f"The review, 1 to {MAX_CHARS} characters")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"texts": [EXAMPLE["text"], "Dull."]}]})
    texts: list[Text] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH} reviews, {MAX_BATCH_CHARS:,} characters in all",
    )

    @model_validator(mode="after")
    def not_too_long(self) -> "BatchRequest":
        total = sum(len(t) for t in self.texts)
        if total > MAX_BATCH_CHARS:
            raise ValueError(f"the texts add up to {total:,} characters; send at most {MAX_BATCH_CHARS:,} per batch")
        return self


class WordEffect(BaseModel):
    word: str
    effect: float = Field(description="Change in log-odds of positive when the word is removed; > 0 pushed to positive")


Weight = Annotated[float, Field(ge=0, le=1)]


class Attention(BaseModel):
    tokens: list[str] = Field(
        description="The tokens the network read, in order: the text lower-cased and split into words and "
        "punctuation as in training, at most the run's transformer.max_length of them"
    )
    heads: list[list[Weight]] = Field(
        description="For each attention head of the last block, one weight per token: the share of the head's "
        "attention that the token receives, averaged over the text's tokens as they look, "
        "received[j] = mean over i of A[i, j] with A = softmax(QK^T / sqrt(d)). Each head's weights sum to 1 "
        "(up to rounding). Where the network looked, not why it decided (see `words`)"
    )


class Prediction(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "label": "positive",
                    "probability_positive": 0.93,
                    "words": [{"word": "beautifully", "effect": 0.91}, {"word": "drags", "effect": -0.52}],
                    "model_version": "20261126-150524",
                    "known_word_share": 1.0,
                    "warnings": [],
                    "attention": None,
                }
            ]
        }
    )
    label: Literal["negative", "positive"] = Field(description="positive when probability_positive >= 0.5")
    probability_positive: float = Field(ge=0, le=1)
    words: list[WordEffect] = Field(description=f"The {TOP_WORDS} words that moved the decision most")
    model_version: str = Field(description="The run id of the model that answered")
    known_word_share: float | None = Field(
        ge=0,
        le=1,
        description="The share of the text's words seen in training (None: a run saved without its reference)",
    )
    warnings: list[serving.PredictionWarning] = serving.warnings_field()
    attention: Attention | None = Field(
        default=None,
        description="What each attention head of the last block looks at (model kind transformer); "
        "null for the kinds without attention",
    )


class BatchPrediction(BaseModel):
    model_version: str
    predictions: list[Prediction]


class SentimentPredictor:
    """The model of one run, loaded once at start-up."""

    def __init__(self, run: Run):
        self.run_id = run.run_id
        self.classifier = model.load(run)
        # the words training saw; runs saved before reference.json existed have none
        reference = run.reference
        self.vocabulary = set(reference["vocabulary"]) if reference else None

    def predict(self, texts: list[str], explain: bool = True) -> list[Prediction]:
        """The label and probability of each text; with `explain`, also the words that moved it most and,
        for a transformer, what its attention heads look at."""
        p = probability(self.classifier, texts)
        effects = word_effects(self.classifier, texts, top=TOP_WORDS) if explain else [[] for _ in texts]
        views = attention_weights(self.classifier, texts) if explain else None  # None: a kind without attention
        attention = [
            Attention(tokens=tokens, heads=np.round(attention_received(weights), 4).tolist())
            for tokens, weights in views
        ] if views is not None else [None] * len(texts)  # fmt: skip
        return [
            Prediction(
                label=LABEL_NAMES[int(p_i >= 0.5)],
                probability_positive=round(float(p_i), 4),
                words=[WordEffect(word=w, effect=round(e, 3)) for w, e in effect],
                model_version=self.run_id,
                **self.known_words(text),
                attention=seen,
            )
            for text, p_i, effect, seen in zip(texts, p, effects, attention, strict=True)
        ]

    def known_words(self, text: str) -> dict:
        """The share of the text's words seen in training, and a warning when it is small: a text the model
        mostly cannot read gets an answer that looks as confident as any other."""
        if self.vocabulary is None:
            return {"known_word_share": None}
        known, words = known_share(text, self.vocabulary)
        share = known / words if words else 0.0
        warnings = []
        if known == 0:
            what = f"none of its {words} words" if words else "it has no words (only punctuation or symbols), so none"
            warnings.append(serving.PredictionWarning(
                code="no_known_words", field="text",
                message=f"{what} appeared in the training texts: the answer is the model's default, not a reading "
                "of the text",
            ))  # fmt: skip
        elif share < FEW_KNOWN_WORDS:
            warnings.append(serving.PredictionWarning(
                code="few_known_words", field="text",
                message=f"only {known} of its {words} words ({share:.0%}) appeared in the training texts: the answer "
                "rests on those few",
            ))  # fmt: skip
        return {"known_word_share": round(share, 4), "warnings": warnings}


router = APIRouter(tags=[PROJECT])
PredictorDep = Annotated[SentimentPredictor, Depends(serving.get_predictor)]


@router.post("/predict")
def predict(review: Review, predictor: PredictorDep, request: Request) -> Prediction:
    """Label one text as positive or negative."""
    answer = predictor.predict([review.text])[0]
    log(request, predictor, [review.text], [answer])
    return answer


@router.post("/predict/batch")
def predict_batch(batch: BatchRequest, predictor: PredictorDep, request: Request) -> BatchPrediction:
    """Label up to 100 texts in one call."""
    answers = predictor.predict(batch.texts)
    log(request, predictor, batch.texts, answers)
    return BatchPrediction(model_version=predictor.run_id, predictions=answers)


def log(request: Request, predictor: SentimentPredictor, texts: list[str], answers: list[Prediction]) -> None:
    """Log each prediction for drift monitoring (monitor.py), when the server logs: a summary of the text
    (`data.summarize`: words, characters, known-word share) and the answer. Never the text itself: a review
    can name people or say more about its writer than the monitor needs, and a log of summaries is short."""
    for text, answer in zip(texts, answers, strict=True):
        output = {"label": answer.label, "probability_positive": answer.probability_positive}
        serving.log_prediction(request, summarize(text, predictor.vocabulary), output, answer.warnings)


def example_requests() -> dict[str, dict]:
    """What `make bench-serve` sends: one review, and a batch of 100."""
    return {
        "single": {"path": "/predict", "json": EXAMPLE},
        "batch": {"path": "/predict/batch", "json": {"texts": [EXAMPLE["text"]] * 100}},
    }


def create_app(run_id: str | None = None) -> FastAPI:
    """The app for `uvicorn --factory projects.sentiment.serve:create_app` (newest run by default)."""
    return serving.create_app(
        project=PROJECT,
        router=router,
        load_predictor=SentimentPredictor,
        input_model=Review,
        run_id=run_id,
        description=__doc__,
        panel=Path(__file__).with_name("page.js"),  # the Try-it tab of the page at GET /
    )


if __name__ == "__main__":
    raise SystemExit(server.main(PROJECT))
