"""The arrows point one way: no import cycle between packages, the core never imports cogs,
and the domain packages use neither storage, the Discord layer nor discord.py."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "bot"
#: Packages that hold rules and must stay testable without Discord or a database.
DOMAINS = ("bot.jobs", "bot.quota", "bot.guild_settings", "bot.audit", "bot.generation")


def _unit(module: str) -> str:
    """The package (``bot.jobs``) or top-level module (``bot.policy``) a module belongs to."""
    return ".".join(module.split(".")[:2])


def _imports(root: Path) -> Iterable[tuple[str, str]]:
    """Yield (importing module, imported module) for every absolute import under ``root``."""
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield module, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield module, node.module


def _graph(root: Path) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for source, target in _imports(root):
        if target.startswith("bot.") and _unit(source) != _unit(target):
            graph.setdefault(_unit(source), set()).add(_unit(target))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle (its packages in order), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_no_import_cycle_between_packages() -> None:
    assert _cycle(_graph(ROOT)) is None


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"bot.a": {"bot.b"}, "bot.b": {"bot.c"}, "bot.c": {"bot.a"}}) == [
        "bot.a",
        "bot.b",
        "bot.c",
        "bot.a",
    ]
    assert _cycle({"bot.a": {"bot.b"}, "bot.b": set()}) is None


def test_the_core_never_imports_cogs() -> None:
    assert [(s, t) for s, t in _imports(ROOT) if t == "cogs" or t.startswith("cogs.")] == []


def test_domains_use_neither_storage_nor_discord() -> None:
    wrong = [
        (source, target)
        for source, target in _imports(ROOT)
        if _unit(source) in DOMAINS
        and (
            target.split(".")[0] == "discord"
            or _unit(target) in {"bot.storage", "bot.app", "bot.moderation"}
        )
    ]
    assert wrong == []
