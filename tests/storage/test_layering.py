"""bot/storage/ implements the ports and imports no rules: records and store protocols only."""

from __future__ import annotations

import ast
from pathlib import Path

STORAGE = Path(__file__).resolve().parents[2] / "bot" / "storage"
FORBIDDEN = (
    "bot.quota.rules",
    "bot.quota.service",
    "bot.guild_settings.service",
    "bot.guild_settings.blocklist",
    "bot.guild_settings.policy",
    "bot.jobs.engine",
    "bot.generation.tray",
    "cogs",
)


def _module_of(path: Path) -> str:
    parts = path.relative_to(STORAGE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_of(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # the package a relative import starts from
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_storage_imports_no_rules_or_services() -> None:
    files = sorted(STORAGE.rglob("*.py"))
    assert {"sqlite", "postgres"} <= {
        p.parent.name for p in files
    }  # the walk reaches both backends
    offenders = {
        f"{p.relative_to(STORAGE.parent.parent)}: {name}"
        for p in files
        for name in _imports(p)
        if _forbidden(name)
    }
    assert not offenders, sorted(offenders)


def test_the_check_catches_a_rules_import(tmp_path: Path) -> None:
    sample = STORAGE / "sqlite" / "quota.py"
    assert "bot.quota.records" in _imports(sample)
    assert _forbidden("bot.quota.rules") and _forbidden("cogs.quota")
    assert not _forbidden("bot.quota.records") and not _forbidden("bot.quota.store")
