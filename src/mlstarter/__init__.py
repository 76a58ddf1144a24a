"""mlstarter: the small shared core behind the guide projects in `projects/`.

Each module does one job; a project imports only what it needs. From the bottom up:

- `paths`        where things live: the repository, its projects, runs and data folders
- `config`       typed dataclass defaults, `--set section.key=value` overrides, `validate()` rules
- `scripts`      what every project script shares: its arguments, `load_config`, `run_script` (clear errors)
- `datasets`     declare a dataset, then find it locally or download it (checksummed)
- `runs`         the run contract: `create` writes config, environment and checksums into an atomic run folder
- `persistence`  safe saving and loading of models (skops, torch `state_dict`)
- `seeding`      one seed for Python, NumPy and torch
- `metrics`      binary-classification metrics as plain dicts
- `plots`        matplotlib (Agg) figures, scikit-learn's displays, saved as PNG
- `model_card`   a Markdown model card and its tables
- `devices`      which device a network trains on
- `checkpoints`  resumable training: an interrupted run's state, kept until its run is saved
- `distributed`  several processes with torchrun and DDP
- `training`     the PyTorch training loop (`fit`): early stopping, best weights, resume
- `tuning`       hyperparameter search with Optuna (`make tune`)
- `serving`      the FastAPI app factory every project's `serve.py` uses
- `server`       running it: uvicorn workers, logging, Prometheus counts
- `machine`      this machine's description and usable cores
- `loadgen`      servers in subprocesses and bounded HTTP load
- `bench`        benchmark bookkeeping: timing commands, results files, README blocks
- `scaffold`     `make new`: copy a project under a new name
- `testing`      the pytest fixtures every project's tests share (a plugin)
- `cli`          the `mlstarter` command: the top layer, imported by nothing else
"""

__version__ = "0.1.0"
