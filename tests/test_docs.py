"""The docs run: every command and snippet in README.md and exported/README.md, against the shipped files.

- `ssvae-edge ...` lines run as written, from the repo root, and must exit 0;
- Python blocks run as written;
- `ssvae-train ...`, `ssvae-export ...` and `torchrun ... -m ssvae_train.cli ...` lines (they train for
  minutes on data folders a checkout does not have) are parsed by the real CLI, every option and value
  checked, with the commands' bodies replaced by no-ops; the README's Training flow itself runs in
  `test_readme_training_flow_runs` on the committed real-data slices, with fewer epochs;
- `pip install ...` lines (README command 1 and 2, `pip install .`) are what `.ci/run` and a fresh venv
  run: command 2 must be exactly what `.ci/run` runs;
- every path a command names under exported/ must exist (so no doc points at a file the repo lacks).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "exported" / "README.md"]
FENCE = re.compile(r"^[ \t]*```(\w+)\n(.*?)^[ \t]*```", re.M | re.S)  # list items indent theirs
ENTRY = {"ssvae-edge": "ssvae_edge", "ssvae-train": "ssvae_train.cli", "ssvae-export": "ssvae_train.export.cli"}


def blocks(lang: str) -> list[tuple[str, str]]:
    return [(doc.name, textwrap.dedent(m.group(2))) for doc in DOCS for m in FENCE.finditer(doc.read_text())
            if m.group(1) == lang]


def split_commands(text: str) -> list[list[str]]:
    """The shell commands of a bash block as argv lists: continuation lines and quoted newlines joined,
    comments dropped (shlex's reading, as the shell's)."""
    out, acc = [], ""
    for line in text.replace("\\\n", " ").splitlines():
        acc = f"{acc}\n{line}" if acc else line
        try:
            argv = shlex.split(acc, comments=True)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        if argv:
            out.append(argv)
        acc = ""
    assert not acc, f"unterminated command: {acc!r}"
    return out


def commands() -> list[tuple[str, str]]:
    """Every shell command of the docs' bash blocks, as one readable line each."""
    return [(doc, shlex.join(argv)) for doc, text in blocks("bash") for argv in split_commands(text)]


def test_the_docs_have_commands_and_snippets() -> None:
    kinds = {shlex.split(c)[0] for _, c in commands()}
    assert {"ssvae-edge", "ssvae-train", "ssvae-export", "python3", "pip"} <= kinds, kinds
    assert blocks("python")


# Device commands on the shipped bundles (a flow that first makes its own bundle is its section's test's)
EDGE = [c for _, c in commands() if c.startswith("ssvae-edge ") and shlex.split(c)[1:2] != ["runs"]
        and not any(a.startswith("runs/") for a in shlex.split(c))]


@pytest.mark.parametrize("command", EDGE)
def test_device_command_runs_as_written(command: str) -> None:
    args = shlex.split(command)
    p = subprocess.run([sys.executable, "-m", ENTRY[args[0]], *args[1:]], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, (command, p.stderr[-2000:])
    assert p.stdout.strip()


@pytest.mark.parametrize("snippet", [t for _, t in blocks("python")], ids=lambda t: t.splitlines()[0][:40])
def test_python_snippet_runs_as_written(snippet: str) -> None:
    p = subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "'summary': True" in p.stdout or "summary" not in snippet


def _no_op(command) -> None:
    """Replace every callback of a click command tree by a no-op (options are still parsed and checked)."""
    command.callback = lambda *a, **k: None
    for sub in getattr(command, "commands", {}).values():
        _no_op(sub)


TRAINING = [c for _, c in commands() if c.split()[0] in ("ssvae-train", "ssvae-export", "torchrun")
            and "..." not in c]


@pytest.mark.parametrize("command", TRAINING)
def test_training_command_parses(command: str) -> None:
    import typer.main

    from ssvae_train.cli import app as train_app
    from ssvae_train.export.cli import app as export_app

    args = shlex.split(command)
    if args[0] == "torchrun":
        args = ["ssvae-train", *args[args.index("ssvae_train.cli") + 1:]]
    cmd = typer.main.get_command(train_app if args[0] == "ssvae-train" else export_app)
    _no_op(cmd)
    cmd.main(args[1:], prog_name=args[0], standalone_mode=False)  # raises on an unknown option or bad value


def test_install_commands_are_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    installs = [c for _, c in commands() if "pip install" in c]
    assert shlex.join(shlex.split(ci)) in installs, "README command 2 must be exactly what .ci/run runs"
    assert "pip install ." in installs and "engines" in ci


def test_every_exported_path_the_docs_name_exists() -> None:
    paths = set()
    for _, c in commands():
        paths |= {a for a in shlex.split(c) if a.startswith("exported/") and "my-" not in a}
    for doc in DOCS:
        paths |= set(re.findall(r"`(exported/[\w./-]+)`", doc.read_text()))
    assert paths and all((ROOT / p).exists() for p in paths), [p for p in paths if not (ROOT / p).exists()]


def test_exported_readme_tables_are_bundle_tables_output() -> None:
    table = subprocess.run([sys.executable, "tools/bundle_table.py"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.strip()
    text = (ROOT / "exported" / "README.md").read_text()
    for part in table.split("\n\n"):
        assert part in text, "exported/README.md is stale: paste `python tools/bundle_table.py` output"


def test_readme_training_flow_runs(tmp_path: Path) -> None:
    """README § Training on the committed MNIST slice (600 training images), 1 epoch, paths in tmp_path."""
    from typer.testing import CliRunner

    from ssvae_train.cli import app as train_app
    from ssvae_train.export.cli import app as export_app

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Training"):text.index("### On several processes")]
    (block,) = [m.group(2) for m in FENCE.finditer(section) if m.group(1) == "bash"]
    data = str(ROOT / "tests" / "data" / "mnist")
    for argv in split_commands(block):
        line = shlex.join(argv)
        if line.startswith("ssvae-train data download"):  # network: tests/test_data_download.py
            continue
        line = (line.replace("data/mnist", data).replace("runs/", f"{tmp_path}/runs/")
                .replace("exported/", f"{tmp_path}/exported/").replace("grid.png", f"{tmp_path}/grid.png")
                .replace("--epochs 20", "--epochs 1"))
        args = shlex.split(line)
        app = train_app if args[0] == "ssvae-train" else export_app
        r = CliRunner().invoke(app, args[1:], prog_name=args[0])  # in-process: torch is imported once
        assert r.exit_code == 0, (line, r.output[-2000:], r.exception)
    assert (tmp_path / "exported" / "my-mnist" / "classifier.int8.onnx").exists()
