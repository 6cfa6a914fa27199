"""The layers of the package, read from the `import` statements of its source (no module is run).

- The stages (extract, train, convert, evaluate, export) never import one another: `swap`,
  `pretrain` (extract a pool, then train on it) and `live` (conversion's recipe and export's runtime
  on frames as they arrive) are the orchestrators that chain them, and the command line (`cli`,
  `commands/`) and the web app (`ui/`, which runs the `swap` command) call them.
- Everything else is a lower layer that the stages share (media, faces, faceset, models,
  modelfolder, presets, provenance, errors, fsutil, sheet, ...): it imports no stage, no `swap` and
  no command.
- The model registry is a leaf that `models/__init__` fills; the presets load without PyTorch.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "src" / "facetransfer"
STAGES = frozenset({"extract", "train", "convert", "evaluate", "export"})
ORCHESTRATORS = frozenset({"swap", "pretrain", "live", "commands", "cli", "__main__", "ui"})


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name, e.g. "facetransfer.convert.pipeline"
    imported: str  # dotted module name, e.g. "facetransfer.faces.align" or "torch"
    line: int
    module_level: bool  # False inside a function or an `if TYPE_CHECKING:` block

    def __str__(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.imported}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    base = PACKAGE_DIR.parent
    return (base / relative).with_suffix(".py").is_file() or (base / relative / "__init__.py").is_file()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runs_later(node: ast.AST) -> bool:
    """A function body (runs when called) or an `if TYPE_CHECKING:` block (never runs)."""
    if isinstance(node, ast.If):
        return _is_type_checking(node)
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)


def _walk(node: ast.AST, module_level: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, module_level
        elif _runs_later(child):
            yield from _walk(child, False)
        else:
            yield from _walk(child, module_level)


@cache
def _imports_of(path: Path) -> tuple[Import, ...]:
    importer = _module_name(path)
    is_package = path.name == "__init__.py"
    found = []
    for node, module_level in _walk(ast.parse(path.read_text(encoding="utf-8")), True):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                package = importer.split(".")
                package = package[: len(package) - node.level + (1 if is_package else 0)]
                base = ".".join([*package, *([base] if base else [])])
            # `from package import name` imports the submodule `name` when there is one
            names = [
                f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base for alias in node.names
            ]
        found.extend(Import(importer, name, node.lineno, module_level) for name in names)
    return tuple(found)


def _all_imports() -> list[Import]:
    return [item for path in sorted(PACKAGE_DIR.rglob("*.py")) for item in _imports_of(path)]


def _layer(module: str) -> str | None:
    """The top-level package or module under facetransfer ("convert", "errors", ...); None outside."""
    parts = module.split(".")
    if parts[0] != "facetransfer":
        return None
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_is_read_from_every_module() -> None:
    imports = _all_imports()
    assert len({item.importer for item in imports}) > 60
    edges = {(item.importer, item.imported) for item in imports}
    assert ("facetransfer.swap.pipeline", "facetransfer.convert.pipeline") in edges  # the orchestrator
    assert ("facetransfer.convert.recipe", "facetransfer.faces.align") in edges
    assert ("facetransfer.commands.convert", "facetransfer.extract") in edges  # inside run()


def test_no_stage_imports_another_stage() -> None:
    crossings = [
        str(item)
        for item in _all_imports()
        if _layer(item.importer) in STAGES
        and _layer(item.imported) in STAGES
        and _layer(item.imported) != _layer(item.importer)
    ]
    assert crossings == [], "a stage imports another stage; move what they share below the stages"


def test_lower_layers_import_no_stage_swap_or_command() -> None:
    upward = [
        str(item)
        for item in _all_imports()
        if _layer(item.importer) not in STAGES | ORCHESTRATORS
        and _layer(item.imported) in STAGES | ORCHESTRATORS
    ]
    assert upward == [], "a shared module imports a stage or the command line"


def test_the_model_registry_is_a_leaf() -> None:
    registry = _imports_of(PACKAGE_DIR / "models" / "registry.py")
    ours = {item.imported for item in registry if item.module_level and _layer(item.imported) is not None}
    assert ours == {"facetransfer.errors"}
    filled_by = {item.imported for item in _imports_of(PACKAGE_DIR / "models" / "__init__.py")}
    assert {"facetransfer.models.df", "facetransfer.models.liae"} <= filled_by


def _loaded_with(module: str) -> set[str]:
    """Every module that importing `module` runs at module level (its packages' __init__ included),
    from the source alone; modules outside the package are named, not followed."""
    loaded: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for end in range(1, len(parts) + 1):  # a module's packages run first
            prefix = ".".join(parts[:end])
            if prefix in loaded:
                continue
            loaded.add(prefix)
            if prefix.split(".")[0] != "facetransfer":
                continue
            relative = Path(*prefix.split("."))
            path = (PACKAGE_DIR.parent / relative).with_suffix(".py")
            if not path.is_file():
                path = PACKAGE_DIR.parent / relative / "__init__.py"
            pending.extend(item.imported for item in _imports_of(path) if item.module_level)
    return loaded


def test_presets_and_the_model_folder_config_load_without_pytorch() -> None:
    for module in (
        "facetransfer.presets",
        "facetransfer.modelfolder.config",
        "facetransfer.modelfolder.describe",
    ):
        loaded = _loaded_with(module)
        assert "facetransfer.errors" in loaded  # the closure is followed
        assert "torch" not in loaded, module
    assert "torch" in _loaded_with("facetransfer.models")
