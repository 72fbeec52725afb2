"""The model catalog file: the shipped one describes the vendor's models; a malformed one is
refused naming the file and the field; a new or retired model needs no code change."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.quota.credits import CreditTable
from bot.toapis.catalog import (
    GPT_4O_IMAGE,
    GPT_IMAGE_15,
    RequestValidationError,
    use_catalog,
    validate_request,
)
from bot.toapis.catalog_file import SHIPPED_CATALOG, CatalogError, load_catalog, parse_catalog
from bot.toapis.models import GenerationRequest
from tests.catalogs import (
    NEW_MODEL,
    SHIPPED,
    retiring,
    shipped_catalog_after,
    with_new_model,
    write_catalog,
)

__all__ = ["shipped_catalog_after"]

MB = 1024 * 1024


def _data() -> dict:
    return tomllib.loads(SHIPPED)


def _refusal(data: dict) -> str:
    with pytest.raises(CatalogError) as info:
        parse_catalog(data, source="models.toml")
    return str(info.value)


def test_the_shipped_catalog_describes_the_vendors_two_models() -> None:
    catalog = load_catalog()
    assert list(catalog.models) == [GPT_IMAGE_15, GPT_4O_IMAGE]
    gpt = catalog.models[GPT_IMAGE_15]
    assert gpt.allows_auto_size and gpt.counts == tuple(range(1, 11))
    assert gpt.resolutions == ("1k", "2k", "4k") and gpt.qualities == ("low", "medium", "high")
    assert gpt.resolution_4k_sizes == ("16:9", "9:16", "2:1", "1:2", "21:9", "9:21")
    assert gpt.max_reference_bytes == 50 * MB and gpt.max_mask_bytes is None
    four = catalog.models[GPT_4O_IMAGE]
    assert four.sizes == ("1:1", "2:3", "3:2") and four.counts == (1, 2, 4)
    assert four.resolutions is None and four.qualities is None and four.output_formats is None
    assert four.max_prompt_chars == 1000 and four.max_mask_bytes == 4 * MB
    assert four.label_in("zh-CN") == "GPT-4o 图像" and four.label_in("fr") == "GPT-4o Image"
    # The credit table's defaults are the file's: 4 (high, 1K), x2 at 2K, x4 at 4K; 2 flat.
    table = CreditTable.from_json(None, catalog.models)
    assert table.cost(GPT_IMAGE_15, "1k", "high") == 4
    assert table.cost(GPT_IMAGE_15, "4k", "high", n=2) == 32
    assert table.cost(GPT_4O_IMAGE, None, None, n=4) == 8


def test_the_shipped_file_is_package_data() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["bot"]
    relative = SHIPPED_CATALOG.relative_to(SHIPPED_CATALOG.parents[1]).as_posix()
    assert any(Path(relative).match(p) for p in patterns), patterns


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["models"][1].update(sizes=["1:1", "16x9"]), "models[1].sizes: '16x9' is not"),
        (lambda d: d["models"][0].pop("counts"), "models[0].counts: Field required"),
        (lambda d: d["models"][1].update(counts=[1, 11]), "models[1].counts[1]:"),
        (lambda d: d["models"][1].update(colour="blue"), "models[1].colour: Extra inputs"),
        (
            lambda d: d["models"][0].update(default_size="7:5"),
            "models[0]: default_size '7:5' is not one of sizes",
        ),
        (
            lambda d: d["models"][1].update(retired=True),
            "models[1]: a retired model needs a successor",
        ),
        (
            lambda d: d["models"][1].update(retired=True, successor="dall-e-9"),
            "models[1].successor: 'dall-e-9' is not a model of the catalog",
        ),
        (
            lambda d: d["models"][1].update(name=GPT_IMAGE_15),
            f"models[1].name: {GPT_IMAGE_15!r} is listed twice",
        ),
        (
            lambda d: d["models"][0]["credits"].pop("4k"),
            "models[0]: credits: no price for 4k",
        ),
        (
            lambda d: d["models"][0].update(display_names={"fr": "Image"}),
            "models[0].display_names: Value error, unknown language 'fr'",
        ),
        (lambda d: d.update(models=[]), "models: List should have at least 1 item"),
    ],
)
def test_a_malformed_catalog_names_the_file_and_the_field(change: object, expected: str) -> None:
    data = _data()
    change(data)  # type: ignore[operator]
    message = _refusal(data)
    assert message.startswith("models.toml: "), message
    assert expected.replace("Value error, ", "") in message, message


def test_an_unreadable_or_broken_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(CatalogError, match=r"nowhere.toml: cannot be read"):
        load_catalog(missing)
    broken = write_catalog(tmp_path, "[[models]\nname = 1\n", name="broken.toml")
    with pytest.raises(CatalogError, match=r"broken.toml: not valid TOML \(.*line 1"):
        load_catalog(broken)


def test_a_new_model_from_a_file_is_validated_with_no_code_change(
    tmp_path: Path, shipped_catalog_after: None
) -> None:
    use_catalog(load_catalog(write_catalog(tmp_path, with_new_model())))
    ok = GenerationRequest(model=NEW_MODEL, prompt="a fox", size="3:2", n=2)
    assert validate_request(ok) == ok
    with pytest.raises(RequestValidationError) as size:
        validate_request(GenerationRequest(model=NEW_MODEL, prompt="a fox", size="16:9"))
    assert size.value.field == "size" and "1:1 or 3:2" in str(size.value)
    with pytest.raises(RequestValidationError) as count:
        validate_request(GenerationRequest(model=NEW_MODEL, prompt="a fox", n=4))
    assert count.value.field == "n"
    with pytest.raises(RequestValidationError) as prompt:
        validate_request(GenerationRequest(model=NEW_MODEL, prompt="x" * 501))
    assert prompt.value.field == "prompt" and "500" in str(prompt.value)
    with pytest.raises(RequestValidationError) as quality:
        validate_request(GenerationRequest(model=NEW_MODEL, prompt="a fox", quality="high"))
    # The refusal points at a model that has the setting.
    assert quality.value.field == "quality" and GPT_IMAGE_15 in str(quality.value)


def test_a_retired_model_leaves_service_and_names_its_successor(tmp_path: Path) -> None:
    catalog = load_catalog(write_catalog(tmp_path, retiring(GPT_4O_IMAGE, GPT_IMAGE_15)))
    assert list(catalog.models) == [GPT_IMAGE_15]
    assert catalog.current_name(GPT_4O_IMAGE) == GPT_IMAGE_15
    assert catalog.retired_to(GPT_4O_IMAGE) == GPT_IMAGE_15
    assert catalog.retired_to(GPT_IMAGE_15) is None and catalog.current_name("x") is None
    # A successor must be in service itself.
    chained = retiring(GPT_IMAGE_15, GPT_4O_IMAGE).replace(
        f'name = "{GPT_4O_IMAGE}"\n',
        f'name = "{GPT_4O_IMAGE}"\nretired = true\nsuccessor = "{GPT_IMAGE_15}"\n',
    )
    with pytest.raises(CatalogError, match=r"models\[0\].successor: .* is retired too"):
        load_catalog(write_catalog(tmp_path, chained, name="chain.toml"))
