"""The set-up (src/mlstarter/bootstrap.py): the PyTorch build chosen per platform, the prerequisites, the lock.

The other indexes cannot be reached from the test machines, so the decision is tested with a fake
`uname` and `nvidia-smi` on PATH and the script's --dry-run plan.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from mlstarter import bootstrap

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as pip carries it
    from pip._vendor import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "src" / "mlstarter" / "bootstrap.py"


@pytest.mark.parametrize(
    ("system", "nvidia", "override", "build"),
    [
        ("Linux", False, "auto", "cpu"),  # a laptop, WSL: no 2.7 GB of CUDA libraries
        ("Linux", True, "auto", "cuda"),
        ("Linux", True, "cpu", "cpu"),
        ("Linux", False, "cuda", "cuda"),
        ("Darwin", False, "auto", "pypi"),
        ("Darwin", False, "cpu", "pypi"),  # PyPI's macOS wheel is the only build there
        ("Windows", False, "auto", "pypi"),
        ("Windows", True, "cuda", "pypi"),
    ],
)
def test_the_torch_build_fits_the_platform(system, nvidia, override, build):
    choice = bootstrap.choose_torch(system, nvidia, override)
    assert choice.build == build
    args = choice.pip_args()
    if build == "cpu":  # only torch from PyTorch's index: its dependencies come from the lock, from PyPI
        assert args == ["--no-deps", "--index-url", bootstrap.CPU_INDEX, f"torch=={bootstrap.TORCH_VERSION}+cpu"]
    else:
        assert args == [f"torch==={bootstrap.TORCH_VERSION}"] and bootstrap.CPU_INDEX not in args


def test_a_bad_choice_is_one_clear_line():
    with pytest.raises(bootstrap.SetupError, match="TORCH=gpu is not a choice"):
        bootstrap.choose_torch("Linux", False, "gpu")
    with pytest.raises(bootstrap.SetupError, match="no CUDA build of PyTorch for Darwin"):
        bootstrap.choose_torch("Darwin", False, "cuda")


def fake_bin(folder: Path, system: str, nvidia_smi: int | None) -> Path:
    """A folder with `uname` saying `system` and, unless None, an `nvidia-smi` exiting with that code."""
    folder.mkdir()
    scripts = {"uname": f"#!/bin/sh\necho {system}\n"}
    if nvidia_smi is not None:
        scripts["nvidia-smi"] = f"#!/bin/sh\nexit {nvidia_smi}\n"
    for name, text in scripts.items():
        (folder / name).write_text(text)
        (folder / name).chmod(stat.S_IRWXU)
    return folder


@pytest.mark.skipif(os.name == "nt", reason="fake POSIX commands on PATH")
@pytest.mark.parametrize(
    ("system", "nvidia_smi", "torch", "expected", "cpu_index"),
    [
        ("Linux", None, "auto", "Linux without an NVIDIA driver", True),
        ("Linux", 9, "auto", "Linux without an NVIDIA driver", True),  # nvidia-smi fails: no driver loaded
        ("Linux", 0, "auto", "Linux with an NVIDIA driver", False),
        ("Linux", 0, "cpu", "TORCH=cpu", True),
        ("Darwin", None, "auto", "Darwin: PyPI's build", False),
    ],
)
def test_the_dry_run_says_the_choice_in_one_line_and_its_plan(
    tmp_path: Path, system, nvidia_smi, torch, expected, cpu_index
):
    path = fake_bin(tmp_path / "bin", system, nvidia_smi)
    env = {**os.environ, "PATH": f"{path}{os.pathsep}{os.environ['PATH']}", "TORCH": torch}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--venv", str(tmp_path / ".venv")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    first, *plan = done.stdout.splitlines()
    assert first.startswith(f"PyTorch {bootstrap.TORCH_VERSION}: {expected}") and "TORCH=cpu|cuda|auto" in first
    assert all(line.startswith("would run: ") for line in plan)
    assert any("--no-index --no-deps torch==" in line for line in plan)  # a wheel on this disk first
    assert any(bootstrap.CPU_INDEX in line for line in plan) == cpu_index
    assert any("requirements.lock" in line for line in plan) and plan[-1].endswith("pip check")
    assert not (tmp_path / ".venv").exists()


def test_make_passes_the_torch_choice_to_the_set_up():
    done = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "setup", "TORCH=cpu"], cwd=REPO, capture_output=True, text=True
    )
    assert "src/mlstarter/bootstrap.py --venv .venv --torch cpu" in done.stdout


def test_prerequisites_name_the_command_that_fixes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(bootstrap.SetupError, match="needs Python 3.10 or newer; this is 3.9.2"):
        bootstrap.check_python((3, 9, 2))
    bootstrap.check_python((3, 10, 0))
    monkeypatch.setitem(sys.modules, "ensurepip", None)  # as on Debian without python3-venv: the import fails
    with pytest.raises(bootstrap.SetupError, match="sudo apt install python3-venv"):
        bootstrap.check_venv()
    with pytest.raises(bootstrap.SetupError, match=r"needs about 2 GB free .* there are 0.5 GB"):
        bootstrap.check_disk(tmp_path, "cpu", free_bytes=2**29)
    bootstrap.check_disk(tmp_path, "cpu", free_bytes=3 * 2**30)


def test_the_lock_leaves_torch_and_its_accelerator_libraries_to_the_set_up():
    inputs = bootstrap.lock_inputs(
        ["numpy>=1.26,<3", "torch==2.13.0", "fastapi>=0.115,<1"],
        ["filelock", "sympy>=1.13.3", "nvidia-cublas==13.1; platform_system == 'Linux'", "triton==3.7",
         'optree>=0.13.0; extra == "optree"'],
    )  # fmt: skip
    assert inputs == ["numpy>=1.26,<3", "fastapi>=0.115,<1", "filelock", "sympy>=1.13.3"]


def locked() -> dict[str, str]:
    """requirements.lock's pins that apply to this Python."""
    pins = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            requirement, _, marker = line.partition(" ; ")
            if not marker or Marker(marker).evaluate():
                name, _, version = requirement.partition("==")
                pins[name.lower()] = version
    return pins


def test_the_lock_pins_every_dependency_within_its_range_and_torch_is_pinned_exactly():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = locked()
    for text in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(text)
        if requirement.name == "torch":
            assert str(requirement.specifier) == f"=={bootstrap.TORCH_VERSION}"  # the set-up installs this one
            assert "torch" not in pins
            continue
        assert requirement.name.lower() in pins, f"{requirement.name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[requirement.name.lower()]), (requirement, "run make lock")
    assert not [name for name in pins if name.startswith(("nvidia-", "triton"))]
