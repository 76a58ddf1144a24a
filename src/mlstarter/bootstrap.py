"""Set up `.venv` for mlstarter: what `make setup` (and so the first `make train`) runs.

    $ python3 src/mlstarter/bootstrap.py                  # what make runs: checks, torch, the locked packages
    $ python3 src/mlstarter/bootstrap.py --dry-run        # print the plan, change nothing
    $ make setup TORCH=cpu                                # or cuda, or auto (the default)

It runs with the system's Python before anything is installed, so it uses the standard library
only. In order:
1. the prerequisites, each with the command that fixes it: Python 3.10 or newer, the `venv`
   module with `ensurepip` (Debian and Ubuntu ship them apart: `sudo apt install python3-venv`),
   and enough free disk space for what will be installed;
2. which build of PyTorch fits this machine. On Linux, PyPI's torch wheel is the CUDA build: about
   2.7 GB of wheels (torch and a dozen NVIDIA libraries). A machine without an NVIDIA driver
   (no working `nvidia-smi`) needs none of it, so torch comes from PyTorch's CPU wheel index
   instead (about 200 MB). With a driver, or on macOS and Windows, torch comes from PyPI, which
   has the right build there. `TORCH=cpu|cuda` overrides the choice. A torch wheel of the pinned
   version that pip already finds on this disk (pip's configured `find-links`) is used first, and
   then nothing is downloaded for it;
3. the locked versions of everything else (`requirements.lock`, made by `make lock`), then
   mlstarter itself, and a final `pip check`.
Only torch comes from PyTorch's index; every other package comes from PyPI (or the indexes your
pip is configured with), at the version in the lock.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TORCH_VERSION = "2.13.0"  # the exact pin in pyproject.toml (a test checks they agree)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
MIN_PYTHON = (3, 10)
# Free disk space needed in the repository's folder, by the torch build it installs: the venv with
# everything in it, plus room for pip's unpacking. Measured sizes are in README.md ("Set-up").
NEEDED_GIB = {"cpu": 2.0, "cuda": 8.0, "pypi": 2.5}
ROOT = Path(__file__).resolve().parents[2]  # the repository: src/mlstarter/bootstrap.py -> ../..


class SetupError(RuntimeError):
    """A prerequisite is missing; the message says the command that fixes it."""


@dataclass(frozen=True)
class TorchChoice:
    build: str  # "cpu": PyTorch's CPU index; "cuda": PyPI's Linux build (CUDA); "pypi": PyPI's build for macOS/Windows
    reason: str

    @property
    def requirement(self) -> str:
        # `+cpu` is the CPU build's version label; `===` (exact text) refuses it, so a CPU wheel found on this
        # disk is never taken for the CUDA build that was chosen, nor the other way round
        return f"torch=={TORCH_VERSION}+cpu" if self.build == "cpu" else f"torch==={TORCH_VERSION}"

    def pip_args(self) -> list[str]:
        """The pip arguments that install torch from the chosen place: only torch from PyTorch's index."""
        if self.build == "cpu":
            return ["--no-deps", "--index-url", CPU_INDEX, self.requirement]  # its dependencies: the lock, from PyPI
        return [self.requirement]  # PyPI: with the CUDA libraries it needs on Linux


def system_name() -> str:
    """`uname -s` (Linux, Darwin, ...), or Windows where there is no uname."""
    uname = shutil.which("uname")
    if uname is None:
        return "Windows" if os.name == "nt" else sys.platform
    return subprocess.run([uname, "-s"], capture_output=True, text=True, check=False).stdout.strip() or sys.platform


def has_nvidia_driver() -> bool:
    """A working NVIDIA driver: `nvidia-smi` exists and exits 0 (it fails when the driver is not loaded)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        return subprocess.run([smi], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose_torch(system: str, nvidia: bool, override: str = "auto") -> TorchChoice:
    """Which torch build to install, and why, in words for the one line the set-up prints."""
    if override not in ("auto", "cpu", "cuda"):
        raise SetupError(f"TORCH={override} is not a choice: use TORCH=auto (the default), TORCH=cpu or TORCH=cuda")
    if system != "Linux":
        if override == "cuda" and system != "Windows":
            raise SetupError(f"TORCH=cuda: there is no CUDA build of PyTorch for {system}; use TORCH=auto")
        return TorchChoice(
            "pypi",
            f"{system}: PyPI's build of torch ({'CUDA-less on macOS' if system == 'Darwin' else 'as PyPI gives it'})",
        )
    if override == "cpu":
        return TorchChoice("cpu", "TORCH=cpu: PyTorch's CPU-only build")
    if override == "cuda":
        return TorchChoice("cuda", "TORCH=cuda: PyPI's CUDA build")
    if nvidia:
        return TorchChoice("cuda", "Linux with an NVIDIA driver (nvidia-smi works): PyPI's CUDA build")
    return TorchChoice("cpu", "Linux without an NVIDIA driver: PyTorch's CPU-only build, not 2.7 GB of CUDA libraries")


def check_python(version: tuple[int, ...] = tuple(sys.version_info)) -> None:
    if version[:2] < MIN_PYTHON:
        found = ".".join(map(str, version[:3]))
        raise SetupError(
            f"mlstarter needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is {found}. Install a newer "
            "Python (e.g. sudo apt install python3.11 python3.11-venv, or from python.org) and run make with "
            "PYTHON=python3.11"
        )


def check_venv() -> None:
    """The `venv` module and `ensurepip` (which puts pip into a new venv): Debian and Ubuntu split them off."""
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        short = f"{sys.version_info[0]}.{sys.version_info[1]}"
        raise SetupError(
            f"This Python ({sys.executable}) cannot create virtual environments: its venv/ensurepip modules are "
            f"missing. On Debian or Ubuntu: sudo apt install python3-venv (or python{short}-venv)"
        ) from None


def check_disk(folder: Path, build: str, free_bytes: int | None = None) -> None:
    free = shutil.disk_usage(folder).free if free_bytes is None else free_bytes
    needed = NEEDED_GIB[build]
    if free < needed * 2**30:
        raise SetupError(
            f"The set-up needs about {needed:g} GB free in {folder} (torch build: {build}); there are "
            f"{free / 2**30:.1f} GB. Free some space (pip cache purge clears pip's download cache), then run make again"
        )


def local_torch_command(python: str, choice: TorchChoice) -> list[str]:
    """Install the chosen torch from wheels already on this disk (pip's find-links) only: no index is asked."""
    return [python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", choice.requirement]


def plan(venv: Path, choice: TorchChoice) -> list[list[str]]:
    """The commands after the venv exists (the first torch attempt is local_torch_command)."""
    python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    pip = [python, "-m", "pip", "install", "--quiet"]
    return [
        [*pip, "--upgrade", "pip"],
        [*pip, *choice.pip_args()],
        [*pip, "-r", str(ROOT / "requirements.lock")],
        [*pip, "--no-deps", "-e", f"{ROOT}[{','.join(EXTRAS)}]"],
        [python, "-m", "pip", "check"],
    ]


LOCK = ROOT / "requirements.lock"
EXTRAS = ("dev", "postgres")  # pyproject.toml's optional dependencies that the set-up installs and the lock holds
ACCELERATOR_LIBRARIES = ("nvidia-", "triton", "cuda-")  # come with a CUDA torch, matched to it: never locked


def lock_inputs(dependencies: list[str], torch_requires: list[str]) -> list[str]:
    """What the lock resolves: mlstarter's dependencies but torch, plus torch's own (pure-Python) dependencies.

    torch is pinned exactly in pyproject.toml and installed first, from the index that fits the machine;
    what a CUDA build needs beside it (NVIDIA libraries, triton) comes with it. Locking those would make a
    CPU-only machine download them.
    """

    def name(requirement: str) -> str:
        return requirement.split(";")[0].strip().split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower()

    ours = [d for d in dependencies if name(d) != "torch"]
    theirs = [r for r in torch_requires if "extra ==" not in r and not name(r).startswith(ACCELERATOR_LIBRARIES)]
    return [*ours, *theirs]


def lock(python: str) -> None:
    """`make lock`: resolve every package's version with uv, for every platform and Python >= 3.10, into
    requirements.lock. Run it in the set-up venv (it reads the installed torch's requirements)."""
    import importlib.metadata
    import tempfile

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser, as pip carries it
        from pip._vendor import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dependencies = [*project["dependencies"], *(d for extra in EXTRAS for d in project["optional-dependencies"][extra])]
    inputs = lock_inputs(dependencies, importlib.metadata.requires("torch") or [])
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "requirements.in"
        source.write_text("\n".join(inputs) + "\n", encoding="utf-8")
        run([python, "-m", "uv", "pip", "compile", "--quiet", "--universal", "--python-version", "3.10",
             "--custom-compile-command", "make lock", "--output-file", str(LOCK), source.name], cwd=folder)  # fmt: skip
    print(f"Wrote {LOCK.name}: commit it with the change that added or changed a dependency.")


def run(command: list[str], cwd: str | None = None) -> None:
    print("+", " ".join(command), flush=True)
    if subprocess.run(command, cwd=cwd, check=False).returncode != 0:
        raise SetupError(f"this step failed (its own message is above): {' '.join(command)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", default=str(ROOT / ".venv"), help="where to create the environment (default .venv)")
    parser.add_argument("--torch", default=os.environ.get("TORCH", "auto"), help="auto (default), cpu or cuda")
    parser.add_argument("--dry-run", action="store_true", help="print the checks' results and the plan; change nothing")
    parser.add_argument("--lock", action="store_true", help="refresh requirements.lock (make lock), nothing else")
    args = parser.parse_args(argv)
    venv = Path(args.venv)
    try:
        if args.lock:
            lock(sys.executable)
            return 0
        check_python()
        check_venv()
        choice = choose_torch(system_name(), has_nvidia_driver(), args.torch)
        print(f"PyTorch {TORCH_VERSION}: {choice.reason} (override with TORCH=cpu|cuda|auto)", flush=True)
        check_disk(venv.parent if venv.parent.exists() else ROOT, choice.build)
        steps = plan(venv, choice)
        if args.dry_run:
            for step in [[sys.executable, "-m", "venv", str(venv)], local_torch_command(steps[0][0], choice), *steps]:
                print("would run:", " ".join(step))
            return 0
        run([sys.executable, "-m", "venv", str(venv)])
        run(steps[0])  # a current pip: older ones cannot read every wheel
        local = local_torch_command(steps[0][0], choice)
        print("+", " ".join(local), " (a matching torch wheel already on this disk, if pip finds one)", flush=True)
        if subprocess.run(local, capture_output=True, check=False).returncode == 0:
            print(f"torch {TORCH_VERSION} installed from a wheel on this disk: nothing downloaded for it", flush=True)
        else:
            run(steps[1])
        for step in steps[2:]:
            run(step)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
