"""The README, executed as a newcomer pastes it: every `bash` block and every Python snippet, in
order, from a fresh folder with relative paths. Blocks are read with pytest-codeblocks' parser;
a block marked `<!--pytest.mark.skip-->` in the README (the test command itself) is left out.

- `test_the_readme_runs_as_written`: in this environment, with the README's set-up steps
  (`python3 -m venv`, `. .venv/bin/activate`, `pip install`) left out of its first command.
- `test_the_readme_from_a_fresh_install`: in a copy of the project, the first command verbatim
  (a new virtual environment and `pip install -e .`, without the test extras), then every other
  block with that environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_codeblocks import extract_from_file

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SETUP_STEP = re.compile(r"^(python3? -m venv \S+|\. \S+/bin/activate|source \S+/bin/activate|pip install .*)$")

pytestmark = pytest.mark.slow


def readme_blocks() -> list[tuple[str, str, int]]:
    """`(language, code, line)` of each runnable block, in order (output listings have no language)."""
    return [(b.syntax, b.code, b.lineno) for b in extract_from_file(README)
            if b.syntax in ("bash", "python") and "pytest.mark.skip" not in b.marks]


def without_setup(code: str) -> str:
    """A bash block without its set-up steps (each command of an `&&` chain that makes or enters
    a virtual environment, or installs into it)."""
    lines = []
    for line in code.splitlines():
        steps = [s.strip() for s in line.split("&&")]
        kept = [s for s in steps if not SETUP_STEP.match(s)]
        if kept:
            lines.append(" && ".join(kept))
    return "\n".join(lines)


def run_blocks(blocks, folder: Path, env: dict, *, python: str) -> None:
    """Run README `blocks` in `folder`: bash blocks in `bash -e` without their set-up steps, each
    run of consecutive Python blocks as one script (one reader's session), with `python`."""
    group: list[tuple[str, int]] = []

    def run_python() -> None:
        if not group:
            return
        script = folder / f"readme_{group[0][1]}.py"
        script.write_text("\n\n".join(code for code, _ in group))
        proc = subprocess.run([python, script.name], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"README lines {[line for _, line in group]}:\n{proc.stderr[-4000:]}"
        group.clear()

    for language, code, line in blocks:
        if language == "python":
            group.append((code, line))
            continue
        run_python()
        code = without_setup(code)
        proc = subprocess.run(["bash", "-e", "-c", code], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=1800)
        assert proc.returncode == 0, f"README line {line}: {code}\n{proc.stderr[-4000:]}"
    run_python()


def test_the_readme_runs_as_written(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run_blocks(readme_blocks(), tmp_path, env, python=sys.executable)
    assert (tmp_path / "runs/digits/model.keras").is_file()
    for made in ("z.png", "z.csv", "proj/projector_config.pbtxt", "z_new.npy", "runs/digits/report.html"):
        assert (tmp_path / made).is_file(), made


def test_the_readme_from_a_fresh_install(tmp_path):
    """A newcomer's clone: the project's tracked files, a new virtual environment made by the
    README's first command (no test extras: no TensorBoard, no pytest), then the rest."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    clone = tmp_path / "zlens"
    for name in files.splitlines():
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            (clone / name).write_bytes((REPO / name).read_bytes())
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not Path(p, "activate").exists())  # no virtual environment of ours
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = path
    first = readme_blocks()[0][1]
    proc = subprocess.run(["bash", "-e", "-c", first], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, f"{first}\n{proc.stderr[-4000:]}"
    venv_bin = clone / ".venv" / "bin"
    check = subprocess.run([str(venv_bin / "python"), "-c", "import importlib.util as u; "
                            "print(u.find_spec('tensorboard') is None, u.find_spec('pytest') is None)"],
                           capture_output=True, text=True, check=True)
    assert check.stdout.split() == ["True", "True"], "the README's install brought the test extras"
    env = {**env, "PATH": f"{venv_bin}{os.pathsep}{path}", "VIRTUAL_ENV": str(clone / ".venv")}
    run_blocks(readme_blocks()[1:], clone, env, python=str(venv_bin / "python"))
