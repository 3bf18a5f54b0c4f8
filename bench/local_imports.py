"""Function-local imports in the product code, and those that import again a module
their file already imports at the top (a lazy import that saves nothing).

    python bench/local_imports.py [ROOT]

``from package import submodule`` is not counted as a repeat: it loads the submodule.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LAYERS = ("domain", "application", "adapters", "entrypoints")


def top_level_modules(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def local_imports(tree: ast.Module) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import inside a function."""
    found: list[tuple[int, str, list[str]]] = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                found += [(node.lineno, alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append((node.lineno, node.module, [a.name for a in node.names]))
    return found


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    total, repeats = 0, []
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            tree = ast.parse(path.read_text())
            top = top_level_modules(tree)
            for line, module, names in local_imports(tree):
                total += 1
                submodules = all(f"{module}.{name}" not in top and name.islower() for name in names)
                if module in top and not (names and submodules and _is_package(root, module)):
                    repeats.append(f"{path.relative_to(root)}:{line} {module}")
    print(
        f"function-local imports: {total}; importing again a module imported at the top: "
        f"{len(repeats)}"
    )
    for row in repeats:
        print(f"  {row}")


def _is_package(root: Path, module: str) -> bool:
    parts = module.split(".")[1:]  # codex_login.<layer>... -> <layer>/...
    return (root.joinpath(*parts) / "__init__.py").exists() or root.joinpath(*parts).is_dir()


if __name__ == "__main__":
    main()
