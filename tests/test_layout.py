"""The layout the README describes, checked on the source (parsed with `ast`, nothing imported or run):
no import cycle between the project's modules, the arrows between the layers one-way, one job per module,
tools/ thin beside the packages, and one sha256 implementation."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ssvae_train", "ssvae_edge")
LONG = 300  # lines: past this a module is a question to ask (is it still one job?), not a rule to split by
# the long modules, each with the one job that keeps it whole; a new long module must answer here
ONE_JOB = {
    "ssvae_edge/contract.py": "the bundle contract: graph names, io specs, the manifest read, validated and written",
    "ssvae_edge/sections.py": "the manifest's sections as typed records, one per section, in written order",
    "ssvae_edge/stream.py": "one stream scored: windowing, micro-batches, each decoding step the manifest ships "
                            "switched on or off in one place, alerts and the fault counts",
    "ssvae_train/experiments/report.py": "RESULTS.md: one function per section, in the order they are written",
    "ssvae_train/export/exporter.py": "the export pipeline: each step in the order a bundle is made and proved, "
                                      "and the manifest assembled from what they return",
}
# hashlib.sha256 is the bundle contract's (graph files, checkpoints); download.py also hashes other things
# with it: the members of a downloaded zip and git blob ids of the UCI-HAR originals (checked, not recorded)
SHA256_HOMES = {"ssvae_edge.contract", "ssvae_train.data.download"}
# ssvae_train's stages, in the order a run flows through them: a stage imports only the stages before it
STAGES = ("data", "models", "scoring", "training", "export", "experiments")
# what the data layer may import from the project: nothing of training (configs, models, checkpoints)
DATA_MAY_IMPORT = ("ssvae_train.data", "ssvae_train.errors", "ssvae_train.files", "ssvae_edge")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(name: str, tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the module, lazy ones in functions included; imports under
    `if TYPE_CHECKING:` are annotations only and are left out."""
    out: list[tuple[str, list[str]]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                pkg = name.split(".") if modules()[name].name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            out.append((base, [a.name for a in node.names]))
        stack.extend(ast.iter_child_nodes(node))
    return out


@cache
def graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (`from a import b` names module a.b when it is one)."""
    mods = modules()
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps: set[str] = set()
        for mod, names in imported(name, ast.parse(path.read_text(), str(path))):
            subs = {f"{mod}.{n}" for n in names} & set(mods)
            deps |= subs or ({mod} & set(mods))
            if subs and len(subs) < len(names) and mod in mods:
                deps.add(mod)
        edges[name] = deps - {name}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a list of modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (found := visit(m)):
            return found
    return None


def lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_the_walk_sees_the_imports():
    g = graph()
    assert "ssvae_edge.contract" in g["ssvae_edge.bundle"]
    assert "ssvae_train.training.trainer" in g["ssvae_train.cli"]  # a lazy import (inside `fit`) counts too
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_project_modules():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_arrows_are_one_way():
    for name, deps in graph().items():
        if name.startswith("ssvae_edge"):
            assert not any(d.startswith("ssvae_train") for d in deps), f"{name} imports ssvae_train"
        if name.startswith("ssvae_train.data"):
            bad = sorted(d for d in deps if not d.startswith(DATA_MAY_IMPORT))
            assert not bad, f"{name} (the data layer) imports training: {', '.join(bad)}"


def _stage(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.index(parts[1]) if parts[0] == "ssvae_train" and len(parts) > 2 and parts[1] in STAGES else None


def test_stages_import_only_the_stages_before_them():
    for name, deps in graph().items():
        if (mine := _stage(name)) is not None:
            later = sorted(d for d in deps if (s := _stage(d)) is not None and s > mine)
            assert not later, f"{name} ({STAGES[mine]}) imports a later stage: {', '.join(later)}"


def test_edge_runtime_imports_no_torch():
    for name, path in modules().items():
        if name.startswith("ssvae_edge"):
            roots = {m.split(".")[0] for m, _ in imported(name, ast.parse(path.read_text()))}
            assert "torch" not in roots, f"{name} imports torch"


def test_one_job_per_module():
    """Every module opens with a docstring saying what it is for; a long one is listed in ONE_JOB with the
    single job that keeps it whole (and leaves the list when it shrinks)."""
    for name, path in modules().items():
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert path.name == "__init__.py" or (doc and len(doc.split()) >= 4), f"{name}: no docstring saying its job"
    long = {str(p.relative_to(ROOT)) for p in modules().values() if lines(p) > LONG}
    assert long <= set(ONE_JOB), f"over {LONG} lines, not in ONE_JOB (one job, or split it?): {long - set(ONE_JOB)}"
    assert set(ONE_JOB) <= long, f"in ONE_JOB but no longer long: {set(ONE_JOB) - long}"


def test_tools_at_most_half_the_packages():
    packages = sum(lines(p) for p in modules().values())
    tools = sum(lines(p) for p in (ROOT / "tools").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert tools <= packages / 2, f"tools/ {tools} lines, the packages {packages} (at most {packages // 2})"


def _uses_sha256(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "sha256" and ast.unparse(node.value) == "hashlib":
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "hashlib" and "sha256" in {a.name for a in node.names}:
            return True
    return False


def test_one_sha256_implementation():
    files = {module_name(p): p for p in modules().values()}
    files |= {f"tools.{p.stem}": p for p in (ROOT / "tools").glob("*.py")}
    users = {name for name, p in files.items() if _uses_sha256(ast.parse(p.read_text()))}
    assert users <= SHA256_HOMES, f"hashlib.sha256 outside the contract module: {sorted(users - SHA256_HOMES)}"
    assert "ssvae_edge.contract" in users


def test_no_test_loads_a_tool_through_importlib():
    for p in (ROOT / "tests").glob("*.py"):
        if p.name != Path(__file__).name:
            assert "spec_from_file_location" not in p.read_text(), f"{p.name} loads a file by path"
