"""Configuration: required secrets, clear one-line errors, secrets never shown."""

from pathlib import Path

import pytest

from bot.config import ConfigError, describe_settings, load_settings
from tests.cli import run_bot

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.discord-secret-token"
KEY = "sk-toapis-very-secret-key-0001"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.upper() in {
            n.upper() for n in __import__("bot.config").config.Settings.model_fields
        }:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("TOAPIS_API_KEY", KEY)
    s = load_settings()
    assert s.toapis_base_url == "https://toapis.com"
    assert s.database_url == "sqlite:///data/atelier.db"
    assert s.dev_guild_ids == []
    assert s.max_images_per_request == 4


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"DISCORD_TOKEN={TOKEN}\nTOAPIS_API_KEY={KEY}\nDEV_GUILD_IDS=1, 22 ,333\n"
    )
    s = load_settings()
    assert s.dev_guild_ids == [1, 22, 333]


def test_env_example_copied_with_only_the_secrets_filled_is_valid(tmp_path: Path) -> None:
    example = (ROOT / ".env.example").read_text()
    filled = example.replace("DISCORD_TOKEN=\n", f"DISCORD_TOKEN={TOKEN}\n").replace(
        "TOAPIS_API_KEY=\n", f"TOAPIS_API_KEY={KEY}\n"
    )
    assert filled != example
    (tmp_path / ".env").write_text(filled)
    s = load_settings()
    assert s.shard_count is None and s.dev_guild_ids == [] and s.discord_api_base is None


def test_env_example_documents_every_setting() -> None:
    from bot.config import Settings

    example = (ROOT / ".env.example").read_text()
    missing = [n.upper() for n in Settings.model_fields if f"\n{n.upper()}=" not in example]
    assert missing == []


def test_missing_secrets_name_the_variables() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = "\n".join(info.value.lines)
    assert "DISCORD_TOKEN is not set" in text and "TOAPIS_API_KEY is not set" in text
    assert all("\n" not in line for line in info.value.lines)


def test_invalid_values_say_what_is_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("TOAPIS_API_KEY", KEY)
    monkeypatch.setenv("MAX_IMAGES_PER_REQUEST", "40")
    monkeypatch.setenv("TOAPIS_BASE_URL", "toapis.com")
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = "\n".join(info.value.lines)
    assert "MAX_IMAGES_PER_REQUEST='40'" in text and "1 to 10" in text
    assert "TOAPIS_BASE_URL" in text and "http" in text


def test_blank_secret_is_refused_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "   ")
    monkeypatch.setenv("TOAPIS_API_KEY", KEY)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.lines == [
        "DISCORD_TOKEN is invalid: set it to your bot's token from the Discord Developer Portal (Bot → Reset Token)."
    ]


def test_describe_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("TOAPIS_API_KEY", KEY)
    text = "\n".join(describe_settings(load_settings()))
    assert TOKEN not in text and KEY not in text and TOKEN[-4:] not in text
    assert "DISCORD_TOKEN=<set, hidden>" in text and "TOAPIS_BASE_URL=https://toapis.com" in text


def test_a_database_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("TOAPIS_API_KEY", KEY)
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:hunter2-db-pass@db:5432/atelier")
    settings = load_settings()
    assert settings.database_url.endswith("hunter2-db-pass@db:5432/atelier")  # the driver gets it
    text = "\n".join(describe_settings(settings))
    assert "hunter2" not in text and "hunter2" not in repr(settings)
    assert "DATABASE_URL=postgresql://bot:***@db:5432/atelier" in text
    monkeypatch.setenv("DATABASE_URL", "bot:hunter2-db-pass@db/atelier")  # no scheme: refused
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "hunter2" not in "\n".join(info.value.lines)
    assert any(line.startswith("DATABASE_URL=") for line in info.value.lines)


def test_cli_check_config_ok_masks_secrets(tmp_path: Path) -> None:
    out = run_bot(["check-config"], {"DISCORD_TOKEN": TOKEN, "TOAPIS_API_KEY": KEY}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Configuration is valid" in out.stdout
    assert TOKEN not in out.stdout + out.stderr and KEY not in out.stdout + out.stderr


def test_cli_bad_config_one_line_no_traceback(tmp_path: Path) -> None:
    out = run_bot(
        ["check-config"],
        {"DISCORD_TOKEN": TOKEN, "TOAPIS_API_KEY": KEY, "LOG_LEVEL": "LOUD"},
        tmp_path,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "atelier: configuration error: LOG_LEVEL='LOUD' is invalid: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
    ]
    assert "Traceback" not in out.stderr and KEY not in out.stderr


def test_cli_run_without_config_stops_clearly(tmp_path: Path) -> None:
    out = run_bot([], {}, tmp_path)
    assert out.returncode == 2
    assert "DISCORD_TOKEN is not set" in out.stderr and "Traceback" not in out.stderr


def test_cli_help(tmp_path: Path) -> None:
    out = run_bot(["--help"], {}, tmp_path)
    assert out.returncode == 0 and "check-config" in out.stdout


def _with_secrets(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("TOAPIS_API_KEY", KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_shard_ids_pick_some_shards_or_none_for_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_secrets(monkeypatch, SHARD_COUNT="4", SHARD_IDS=" 0, 3 ")
    s = load_settings()
    assert s.shard_ids == [0, 3] and not s.gateway_worker
    assert "SHARD_IDS=0,3" in describe_settings(s)

    monkeypatch.delenv("SHARD_COUNT")
    monkeypatch.setenv("SHARD_IDS", "None")  # a worker needs no shard count
    s = load_settings()
    assert s.shard_ids == [] and s.gateway_worker
    assert "SHARD_IDS=none" in describe_settings(s)

    monkeypatch.delenv("SHARD_IDS")
    s = load_settings()
    assert s.shard_ids is None and not s.gateway_worker  # every shard, as before
    assert "SHARD_IDS=" in describe_settings(s)


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (
            {"SHARD_COUNT": "4", "SHARD_IDS": "1,1"},
            "SHARD_IDS='1,1' is invalid: shard 1 is listed twice",
        ),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "0,4"}, "shard 4 does not exist with SHARD_COUNT=4"),
        ({"SHARD_IDS": "0,1"}, "SHARD_IDS='0,1' is invalid: SHARD_COUNT must be set too"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0;1"}, "whole numbers 0 or more, separated by commas"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "-1"}, "whole numbers 0 or more"),
    ],
)
def test_bad_shard_ids_say_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], reason: str
) -> None:
    _with_secrets(monkeypatch, **env)
    with pytest.raises(ConfigError) as info:
        load_settings()
    (line,) = info.value.lines
    assert reason in line and "none for a job worker" in line


def test_a_bad_shard_count_is_reported_once_not_blamed_on_shard_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _with_secrets(monkeypatch, SHARD_COUNT="zero", SHARD_IDS="0")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert [line.split("=")[0] for line in info.value.lines] == ["SHARD_COUNT"]


# -- the model catalog (MODELS_FILE) ----------------------------------------------------------


def _bad_catalog(folder: Path) -> Path:
    from tests.catalogs import NEW_MODEL_BLOCK, SHIPPED, write_catalog

    # The third model's sizes hold a typo.
    bad = NEW_MODEL_BLOCK.replace('sizes = ["1:1", "3:2"]', 'sizes = ["1:1", "2x3"]')
    assert bad != NEW_MODEL_BLOCK
    return write_catalog(folder, SHIPPED + bad)


def test_a_malformed_models_file_names_the_file_and_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _bad_catalog(tmp_path)
    _with_secrets(monkeypatch, MODELS_FILE=str(path))
    with pytest.raises(ConfigError) as info:
        load_settings()
    # Only MODELS_FILE is blamed (not DEFAULT_MODEL or DEFAULT_SIZE, checked against it).
    assert info.value.lines == [
        f"MODELS_FILE is invalid: {path}: models[2].sizes: '2x3' is not an aspect ratio such as 16:9"
    ]


def test_a_models_file_replaces_the_catalog_and_the_defaults_follow_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.catalogs import NEW_MODEL, retiring, with_new_model, write_catalog

    new = write_catalog(tmp_path, with_new_model(), name="new.toml")
    _with_secrets(monkeypatch, MODELS_FILE=str(new), DEFAULT_MODEL=NEW_MODEL)
    settings = load_settings()
    assert NEW_MODEL in settings.models.models and settings.default_model == NEW_MODEL
    assert f"MODELS_FILE={new}" in describe_settings(settings)
    # Credit overrides are checked against that catalog too.
    _with_secrets(monkeypatch, QUOTA_CREDITS=f'{{"{NEW_MODEL}": 3}}')
    assert load_settings().quota_credits is not None

    # A model the catalog does not list is refused, naming those it has.
    _with_secrets(monkeypatch, MODELS_FILE="", DEFAULT_MODEL=NEW_MODEL, QUOTA_CREDITS="")
    with pytest.raises(ConfigError) as info:
        load_settings()
    (line,) = info.value.lines
    assert line.startswith(f"DEFAULT_MODEL='{NEW_MODEL}' is invalid: not in the catalog")
    assert "gpt-image-1.5-official, gpt-4o-image" in line

    # Unset: the catalog's first model. Retired: its successor.
    monkeypatch.delenv("DEFAULT_MODEL")
    assert load_settings().default_model == "gpt-image-1.5-official"
    retired = write_catalog(
        tmp_path, retiring("gpt-4o-image", "gpt-image-1.5-official"), name="retired.toml"
    )
    _with_secrets(monkeypatch, MODELS_FILE=str(retired), DEFAULT_MODEL="gpt-4o-image")
    assert load_settings().default_model == "gpt-image-1.5-official"


def test_cli_stops_on_a_malformed_models_file_with_one_line(tmp_path: Path) -> None:
    path = _bad_catalog(tmp_path)
    for args in (["check-config"], []):  # validating, and starting the bot
        env = {"DISCORD_TOKEN": TOKEN, "TOAPIS_API_KEY": KEY, "MODELS_FILE": str(path)}
        out = run_bot(args, env, tmp_path)
        assert out.returncode == 2, out.stderr
        (line,) = out.stderr.strip().splitlines()
        assert line.startswith("atelier: configuration error: MODELS_FILE is invalid: ")
        assert f"{path}: models[2].sizes:" in line and "'2x3'" in line
        assert "Traceback" not in out.stderr and KEY not in out.stderr
