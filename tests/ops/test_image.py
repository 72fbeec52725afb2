"""The Docker image, read as Docker reads the Dockerfile (there is no Docker here to build it)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from tests.test_packaging import _simple_yaml

ROOT = Path(__file__).resolve().parent.parent.parent


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, ``\\`` continuations joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        result.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def exec_form(args: str) -> list[str]:
    """The argv of an exec-form (JSON array) or shell-form command."""
    args = args.strip()
    if args.startswith("["):
        parsed = json.loads(args)
        assert isinstance(parsed, list)
        return [str(a) for a in parsed]
    return shlex.split(args)


STEPS = instructions((ROOT / "Dockerfile").read_text())


def index(predicate: object) -> int:
    matches = [i for i, step in enumerate(STEPS) if predicate(step)]  # type: ignore[operator]
    assert matches, "no such instruction"
    return matches[0]


def test_the_parser_reads_continuations_and_exec_form() -> None:
    steps = instructions('FROM x\n# c\nRUN a \\\n    # inside\n    b\nCMD ["p", "-m"]\n')
    assert steps == [("FROM", "x"), ("RUN", "a  b"), ("CMD", '["p", "-m"]')]
    assert exec_form('["p", "-m"]') == ["p", "-m"]


def test_dependencies_install_from_the_lock_in_a_layer_before_the_source() -> None:
    copy_lock = index(lambda s: s[0] == "COPY" and s[1].split()[0] == "requirements.lock")
    install = index(lambda s: s[0] == "RUN" and "-r requirements.lock" in s[1])
    first_source = index(
        lambda s: s[0] in ("COPY", "ADD") and any(p in s[1].split() for p in ("bot", ".", "cogs"))
    )
    assert copy_lock < install < first_source
    assert "--require-hashes" in STEPS[install][1]
    # Nothing that changes with the source is copied before the dependency layer.
    for word, args in STEPS[:install]:
        if word in ("COPY", "ADD"):
            assert args.split()[:-1] == ["requirements.lock"], args
    # The project itself is installed without resolving dependencies again.
    project = index(lambda s: s[0] == "RUN" and "pip install" in s[1] and "--no-deps" in s[1])
    assert project > first_source


def test_the_health_check_asks_healthz() -> None:
    checks = [args for word, args in STEPS if word == "HEALTHCHECK"]
    assert len(checks) == 1
    options, _, command = checks[0].partition("CMD")
    assert command, "HEALTHCHECK without CMD"
    assert exec_form(command) == ["python", "-m", "bot", "healthcheck"]
    assert "--interval=" in options and "--timeout=" in options
    # It sits after the project is installed (the command runs the installed bot).
    assert index(lambda s: s[0] == "HEALTHCHECK") > index(
        lambda s: s[0] == "RUN" and "--no-deps" in s[1]
    )
    # The endpoint listens beyond the container's loopback, so a published port reaches it.
    env = " ".join(args for word, args in STEPS if word == "ENV")
    assert "METRICS_HOST=0.0.0.0" in env
    assert exec_form(next(args for word, args in STEPS if word == "CMD")) == [
        "python",
        "-m",
        "bot",
    ]


def test_compose_gives_each_bot_its_metrics_port_on_loopback() -> None:
    compose = _simple_yaml((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert isinstance(services, dict)
    published = []
    for svc in services.values():
        if not (isinstance(svc, dict) and "build" in svc):
            continue
        port = svc["environment"]["METRICS_PORT"]
        (mapping,) = svc["ports"]
        host, host_port, container_port = mapping.split(":")
        assert host == "127.0.0.1" and container_port == port
        published.append(host_port)
    assert len(published) == 2 and len(set(published)) == 2
