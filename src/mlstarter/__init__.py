"""mlstarter: the small shared core behind the guide projects in `projects/`.

Each module does one job; a project imports only what it needs:

- `config`       typed dataclass defaults + `--set section.key=value` overrides
- `datasets`     declare a dataset, then find it locally or download it (checksummed)
- `runs`         atomic run folders under `runs/<project>/<run_id>/`
- `persistence`  safe saving and loading of models (skops, torch `state_dict`)
- `metrics`      binary-classification metrics as plain dicts
- `plots`        matplotlib (Agg) figures saved as PNG
- `model_card`   a Markdown model card
- `serving`      the FastAPI app factory every project's `serve.py` uses
"""

__version__ = "0.1.0"
