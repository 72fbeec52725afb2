"""Run ``python -m bot <command>`` from a test as an operator would: this checkout's bot, a bare
environment (the few variables a process needs, then the test's own), and a time limit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["ROOT", "bot_env", "run_bot", "run_bot_async"]

ROOT = Path(__file__).resolve().parent.parent
_INHERITED = ("PATH", "HOME", "LANG", "SYSTEMROOT")


def bot_env(env: Mapping[str, str]) -> dict[str, str]:
    """Return a bare environment for the bot with ``env`` on top (nothing else leaks in)."""
    base = {k: v for k in _INHERITED if (v := os.environ.get(k)) is not None}
    return {**base, "PYTHONPATH": str(ROOT), **env}


def run_bot(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the command to its end; stdout and stderr apart."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=bot_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def run_bot_async(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, *, timeout: float = 60
) -> tuple[int, str]:
    """Run the command without blocking the loop (the fakes serve on it); return code, output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=str(cwd),
        env=bot_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode()
