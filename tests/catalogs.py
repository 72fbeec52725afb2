"""Model catalog files for tests: the shipped one, with a new model, or with one retired."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.toapis.catalog import use_catalog
from bot.toapis.catalog_file import SHIPPED_CATALOG, load_catalog

SHIPPED = SHIPPED_CATALOG.read_text(encoding="utf-8")

#: A model the vendor added; the fake ToAPIs takes it with gpt-4o-image's rules.
NEW_MODEL = "atelier-sketch-1"
NEW_MODEL_BLOCK = f"""
[[models]]
name = "{NEW_MODEL}"
display_name = "Sketch One"
display_names = {{ "zh-CN" = "素描一号" }}
sizes = ["1:1", "3:2"]
counts = [1, 2]
max_prompt_chars = 500
max_references = 2
reference_types = ["image/png"]
max_reference_mb = 5
credits = 1
"""


def with_new_model() -> str:
    """The shipped catalog and one more model."""
    return SHIPPED + NEW_MODEL_BLOCK


def retiring(model: str, successor: str) -> str:
    """The shipped catalog with ``model`` retired in favour of ``successor``."""
    marker = f'name = "{model}"\n'
    assert marker in SHIPPED
    return SHIPPED.replace(marker, f'{marker}retired = true\nsuccessor = "{successor}"\n')


def write_catalog(folder: Path, text: str, name: str = "models.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def shipped_catalog_after() -> Iterator[None]:
    """Put the shipped catalog back for the rest of the process after the test."""
    yield
    use_catalog(load_catalog())
