from __future__ import annotations

import re
import shutil
import socket
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from mlstarter import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLSTARTER_ROOT", str(REPO))


def test_list_shows_every_project_and_offline_availability(in_repo, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "credit_risk" in out and "german_credit" in out and "yes" in out


def test_unknown_project_lists_the_real_ones(in_repo, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["train", "no_such_project"]) == 1
    assert "credit_risk" in capsys.readouterr().err


@pytest.mark.parametrize("name, message", [("my-loans", "not a valid project name"), ("credit_risk", "already exists")])
def test_new_refuses_bad_names(in_repo, name: str, message: str, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["new", name, "--from", "credit_risk"]) == 1
    assert message in capsys.readouterr().err


def test_serve_without_a_run_says_how_to_train(
    in_repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path))
    assert cli.main(["serve", "credit_risk", "--port", "0"]) == 1  # any free port: 8000 may be in use here
    assert "make train PROJECT=credit_risk" in capsys.readouterr().err


def test_serve_on_a_port_in_use_says_so_and_how_to_choose_another(in_repo, capsys: pytest.CaptureFixture[str]):
    # before: the model loaded, then uvicorn logged "[Errno 98] error while attempting to bind" among its lines
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        assert cli.main(["serve", "credit_risk", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is in use" in err and f"PORT={port + 1}" in err and "Traceback" not in err


def test_examples_are_written_where_asked(in_repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["examples", "credit_risk", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["applicant.json", "applicants.csv", "batch.json"]
    assert "make predict PROJECT=credit_risk INPUT=" in capsys.readouterr().out


def test_new_copies_a_project_and_renames_its_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "repo"
    shutil.copytree(
        REPO / "projects" / "credit_risk",
        root / "projects" / "credit_risk",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(REPO / "projects" / "__init__.py", root / "projects")
    (root / "pyproject.toml").write_text("")
    monkeypatch.setenv("MLSTARTER_ROOT", str(root))
    assert cli.main(["new", "my_loans", "--from", "credit_risk"]) == 0
    copy = root / "projects" / "my_loans"
    assert {p.name for p in copy.iterdir()} == {p.name for p in (root / "projects" / "credit_risk").iterdir()}
    assert "make train PROJECT=my_loans" in (copy / "train.py").read_text()
    readme = (copy / "README.md").read_text()
    assert "make new PROJECT=my_loans FROM=credit_risk" in readme  # where the copy came from stays true
    outside_results = re.sub(r"<!-- bench(:\w+)?:start -->.*?<!-- bench(:\w+)?:end -->", "", readme, flags=re.DOTALL)
    assert "credit_risk" not in outside_results.replace("FROM=credit_risk", "")
    assert "make bench PROJECT=credit_risk" in readme  # results measured on the source keep its name
    assert "german_credit" in (copy / "data.py").read_text()  # the dataset keeps its name
    # the notebook and its text twin are renamed alike: they still hold the same cells
    notebook, text = nbformat.read(copy / "walkthrough.ipynb", as_version=4), jupytext.read(copy / "walkthrough.py")
    assert [c.source for c in notebook.cells] == [c.source for c in text.cells]
    assert "PROJECT=my_loans" in (copy / "walkthrough.py").read_text()
    assert "credit_risk" not in (copy / "walkthrough.py").read_text()


def test_new_renames_commands_and_paths_but_not_prose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "repo"
    (root / "projects" / "sentiment").mkdir(parents=True)
    (root / "projects" / "sentiment" / "train.py").write_text("x = 1\n")
    (root / "projects" / "sentiment" / "__init__.py").write_text("")
    (root / "projects" / "sentiment" / "README.md").write_text(
        "make train PROJECT=sentiment; python -m projects.sentiment.train; see runs/sentiment/ and "
        "projects/sentiment/README.md. The sentiment of a review. make new PROJECT=x FROM=sentiment\n"
        "<!-- bench:start -->\nMeasured by `make bench PROJECT=sentiment`\n<!-- bench:end -->\n"
        "runs/.sentiment-checkpoints/, runs/sentiment-tuning/, bench/results/sentiment-tuning.json\n"
        "<!-- bench:tuning:start -->\n`make bench PROJECT=sentiment`\n<!-- bench:tuning:end -->\n"
    )
    (root / "pyproject.toml").write_text("")
    monkeypatch.setenv("MLSTARTER_ROOT", str(root))
    assert cli.main(["new", "my_reviews", "--from", "sentiment"]) == 0
    assert (root / "projects" / "my_reviews" / "README.md").read_text() == (
        "make train PROJECT=my_reviews; python -m projects.my_reviews.train; see runs/my_reviews/ and "
        "projects/my_reviews/README.md. The sentiment of a review. make new PROJECT=x FROM=sentiment\n"
        "<!-- bench:start -->\nMeasured by `make bench PROJECT=sentiment`\n<!-- bench:end -->\n"
        "runs/.my_reviews-checkpoints/, runs/my_reviews-tuning/, bench/results/my_reviews-tuning.json\n"
        "<!-- bench:tuning:start -->\n`make bench PROJECT=sentiment`\n<!-- bench:tuning:end -->\n"
    )


def test_only_projects_that_use_ddp_train_in_several_processes(in_repo, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["train", "--nproc", "2", "credit_risk"]) == 1
    err = capsys.readouterr().err
    assert "credit_risk trains in one process" in err and "medical_imaging" in err and "gan" in err


def test_launching_builds_the_torchrun_command(in_repo, monkeypatch: pytest.MonkeyPatch, capsys):
    launched = {}

    def fake_run(command, env):
        launched.update(command=command, env=env)
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    assert cli.main(["train", "--nproc", "2", "medical_imaging", "--dry-run", "--set", "seed=1"]) == 0
    assert launched["command"][1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                                       "-m", "projects.medical_imaging.train", "--dry-run", "--set", "seed=1"]  # fmt: skip
    assert "Launching: torchrun --standalone --nproc-per-node=2 -m projects.medical_imaging.train" in (
        capsys.readouterr().out
    )


def test_a_project_without_a_script_says_which_have_it(in_repo, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["tune", "time_series"]) == 1
    err = capsys.readouterr().err
    assert "has no tune.py" in err and "credit_risk" in err and "sentiment" in err


@pytest.mark.parametrize("command", ["train", "tune", "evaluate", "bench"])
def test_every_command_explains_itself(in_repo, command: str, capsys: pytest.CaptureFixture[str]):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "project" in out and ("--nproc" in out) == (command == "train")


def test_nproc_may_also_follow_the_project(in_repo, monkeypatch: pytest.MonkeyPatch):
    launched = {}
    monkeypatch.setattr(cli, "launch_distributed", lambda project, n, args: launched.update(n=n, args=args) or 0)
    assert cli.main(["train", "gan", "--dry-run", "--nproc=2"]) == 0
    assert launched == {"n": 2, "args": ["--dry-run"]}


def test_notebook_opens_the_walkthrough_in_jupyterlab_or_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # an environment without JupyterLab
    assert cli.main(["notebook", "credit_risk"]) == 1
    assert "pip install -e '.[notebook]'" in capsys.readouterr().err
    lab = tmp_path / "jupyter-lab"  # a stand-in that records what it was asked to open
    lab.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "opened"}\n')
    lab.chmod(0o755)
    assert cli.main(["notebook", "credit_risk"]) == 0
    assert (tmp_path / "opened").read_text().strip() == str(REPO / "projects" / "credit_risk" / "walkthrough.ipynb")


def test_explore_writes_the_data_report_where_asked(in_repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["explore", "credit_risk", "--out", str(tmp_path / "report")]) == 0
    assert {"report.md", "report.json", "plots"} <= {p.name for p in (tmp_path / "report").iterdir()}
    assert "report.md" in capsys.readouterr().out
