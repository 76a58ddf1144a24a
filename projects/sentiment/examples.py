"""Write example input files: your own texts in the shape every command takes, to copy and change.

    $ make examples PROJECT=sentiment
    $ python -m projects.sentiment.examples [--out folder] [--data reviews.csv]

From the project's data (or --data), into runs/sentiment-examples/:
- reviews.csv: sentences with a `text` and a `label` column (1 positive, 0 negative): the CSV that
  `--data` trains on, and that `make predict` labels (it reads the `text` column);
- reviews.txt: one text a line, the plainest input `make predict` takes;
- review.json and batch.json: request bodies for `POST /predict` and `POST /predict/batch`.
Replace the rows with your own texts and every command below still works.
"""

from __future__ import annotations

from mlstarter import paths, runs
from mlstarter.scripts import examples_parser, load_config, run_script

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
ROWS = 2000  # a fifth of the data: validation accuracy 0.68 (400 sentences gave 0.53, near chance)


def main(argv: list[str] | None = None) -> int:
    args = examples_parser(__doc__, PROJECT).parse_args(argv)
    cfg = load_config(Config, args)
    sentences = data.load(cfg).sentences
    # the same share of positives as the data, drawn with the project's seed
    share = min(1.0, ROWS / len(sentences))
    sample = sentences.groupby(data.LABEL, group_keys=False).sample(frac=share, random_state=cfg.seed).sort_index()
    texts = sample[data.TEXT].tolist()

    args.out.mkdir(parents=True, exist_ok=True)
    csv, txt = args.out / "reviews.csv", args.out / "reviews.txt"
    one, many = args.out / "review.json", args.out / "batch.json"
    runs.write_text(csv, sample[[data.TEXT, data.LABEL]].to_csv(index=False))
    runs.write_text(txt, "".join(f"{text}\n" for text in texts))
    runs.write_json(one, {"text": texts[0]})
    runs.write_json(many, {"texts": texts[:10]})

    print(f"Wrote {len(sample)} sentences ({int(sample[data.LABEL].sum())} positive) to {paths.shown(args.out)}:")
    print(f"  {paths.shown(csv)}: train on it, or label it")
    print(f'    make train PROJECT={PROJECT} ARGS="--data {paths.shown(csv)}"')
    print(f"    make predict PROJECT={PROJECT} INPUT={paths.shown(csv)} OUTPUT=labels.csv")
    print(f"  {paths.shown(txt)}: one text a line")
    print(f"    make predict PROJECT={PROJECT} INPUT={paths.shown(txt)} OUTPUT=labels.csv")
    print(f"  {paths.shown(one)} and {paths.shown(many)}: ask the API (make serve PROJECT={PROJECT} first)")
    print(f"    curl -X POST localhost:8000/predict -d @{paths.shown(one)}")
    print(f"    curl -X POST localhost:8000/predict/batch -d @{paths.shown(many)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
