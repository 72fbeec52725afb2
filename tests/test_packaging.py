"""Reproducible installs: the lock files pin what pyproject.toml asks for; Docker caches them."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", re.MULTILINE)


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {canonicalize_name(m[1]): m[2] for m in PIN.finditer(text)}


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["dependencies"]
    if extra is not None:
        names = [*names, *project["optional-dependencies"][extra]]
    return [Requirement(r) for r in names]


@pytest.mark.parametrize(
    ("lock", "extra"), [("requirements.lock", None), ("requirements-dev.lock", "dev")]
)
def test_the_lock_pins_every_dependency_within_its_bounds(lock: str, extra: str | None) -> None:
    pins = _pins(lock)
    for req in _requirements(extra):
        name = canonicalize_name(req.name)
        assert name in pins, f"{lock} does not pin {req.name}; run pip-compile again"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {req.name}=={pins[name]}, outside {req.specifier}"
        )


def test_the_package_data_ships_the_chart_fonts_and_their_licenses() -> None:
    """``pip install .`` (the Docker image) copies only the package-data patterns' files."""
    from bot.quota import chart

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["bot"]
    shipped = sorted(
        path.relative_to(ROOT / "bot").as_posix() for path in (ROOT / "bot" / "fonts").iterdir()
    )
    for font in (chart.FONT_PATH, chart.EMOJI_FONT_PATH):
        name = font.relative_to(ROOT / "bot").as_posix()
        license_name = name.rsplit(".", 1)[0] + ".LICENSE"
        assert {name, license_name} <= set(shipped), f"{name} or {license_name} is missing"
    for name in shipped:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), (
            f"bot/{name} is not in [tool.setuptools.package-data]"
        )


def test_every_pin_carries_a_hash() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", (ROOT / lock).read_text())
        for block in blocks[1:]:
            assert "--hash=sha256:" in block, f"{lock}: {block.splitlines()[0]} has no hash"


def test_the_dev_lock_agrees_with_the_runtime_lock() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_the_image_installs_the_lock_before_copying_the_source() -> None:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()]
    copy_lock = lines.index("COPY requirements.lock ./")
    install = next(i for i, ln in enumerate(lines) if "-r requirements.lock" in ln)
    copy_source = next(i for i, ln in enumerate(lines) if ln.startswith("COPY bot"))
    assert copy_lock < install < copy_source
    assert "--require-hashes" in lines[install]


def _simple_yaml(text: str) -> dict[str, object]:
    """Parse the block-style subset docker-compose.yml uses (maps, lists of scalars).

    PyYAML is not a dependency; this reads nesting from indentation, strips comments and quotes.
    """
    root: dict[str, object] = {}
    stack: list[tuple[int, object]] = [(-1, root)]
    lines = text.splitlines()
    for number, raw in enumerate(lines):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if item.startswith("- "):
            assert isinstance(parent, list), f"list item outside a list: {raw!r}"
            parent.append(item[2:].strip().strip("\"'"))
            continue
        key, _, value = item.partition(":")
        assert isinstance(parent, dict), f"mapping inside a list: {raw!r}"
        value = value.strip()
        if value:
            parent[key.strip()] = value.strip("\"'")
            continue
        # A nested block: a list if the next deeper line starts with "- ", else a mapping.
        rest = lines[number + 1 :]
        nxt = next((r.strip() for r in rest if r.strip() and not r.strip().startswith("#")), "")
        child: object = [] if nxt.startswith("- ") else {}
        parent[key.strip()] = child
        stack.append((indent, child))
    return root


def test_compose_runs_every_shard_once_on_one_database() -> None:
    compose = _simple_yaml((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert isinstance(services, dict)
    postgres = services["postgres"]
    assert isinstance(postgres, dict)
    assert postgres["image"] == "postgres:16" and "healthcheck" in postgres
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])  # type: ignore[union-attr]
    bots = {name: svc for name, svc in services.items() if isinstance(svc, dict) and "build" in svc}
    assert len(bots) == 2
    envs = [svc["environment"] for svc in bots.values()]
    urls = {env["DATABASE_URL"] for env in envs}
    assert len(urls) == 1 and next(iter(urls)).startswith("postgresql://atelier:")
    assert "@postgres:5432/atelier" in next(iter(urls))
    counts = {int(env["SHARD_COUNT"]) for env in envs}
    assert len(counts) == 1
    shard_ids = sorted(int(i) for env in envs for i in env["SHARD_IDS"].split(","))
    assert shard_ids == list(range(counts.pop()))  # every shard, each exactly once
    for svc in bots.values():
        assert svc["env_file"] == ".env"
        assert svc["depends_on"] == {"postgres": {"condition": "service_healthy"}}
