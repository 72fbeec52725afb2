"""The runner: secrets never reach the logs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from bot.runner import RedactSecrets


def test_logs_never_show_secrets() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "POST /api/v10/webhooks/123/aW50ZXJhY3Rpb24abcdefghijklmnopqrstuvwxyz/messages with %s",
        ("sk-secret-key",),
        None,
    )
    assert RedactSecrets(["sk-secret-key"]).filter(record)
    text = record.getMessage()
    assert "sk-secret-key" not in text and "aW50ZXJhY3Rpb24abcdef" not in text
    assert "/webhooks/123/<redacted>" in text


def test_migrate_db_needs_no_tokens_and_never_prints_the_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "TOAPIS_API_KEY"}}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)  # this checkout's bot
    env["DATABASE_URL"] = "postgresql://atelier:hunter2-secret@127.0.0.1:1/atelier"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "migrate-db", "--from", f"sqlite:///{tmp_path / 'no.db'}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "does not exist" in done.stderr and "configuration error" not in done.stderr
    assert "hunter2-secret" not in done.stdout + done.stderr
    assert "postgresql://atelier:***@127.0.0.1:1/atelier" in done.stdout
