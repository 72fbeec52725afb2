"""Discord's message limits, checked the way Discord reports them (JSON errors with a ``code``)."""

from __future__ import annotations

from typing import Any

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_FILES = 10
MAX_CUSTOM_ID = 100
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
EMBED_FIELD_NAME = 256
EMBED_FIELD_VALUE = 1024
EMBED_FOOTER = 2048
EMBED_AUTHOR = 256
EMBED_TOTAL = 6000
MAX_NONCE = 25


class ApiError(Exception):
    """An error answered as ``{"code": N, "message": ...}`` with an HTTP status."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            data["errors"] = self.errors
        return data


def unknown_interaction() -> ApiError:
    return ApiError(404, 10062, "Unknown interaction")


def invalid_webhook_token() -> ApiError:
    return ApiError(401, 50027, "Invalid Webhook Token")


def already_acknowledged() -> ApiError:
    return ApiError(400, 40060, "Interaction has already been acknowledged.")


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def unknown_webhook() -> ApiError:
    return ApiError(404, 10015, "Unknown Webhook")


def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def too_large() -> ApiError:
    return ApiError(413, 40005, "Request entity too large")


def old_message_edits() -> ApiError:
    return ApiError(
        400, 30046, "Maximum number of edits to messages older than 1 hour reached. Try again later"
    )


def _too_long(path: list[str | int], limit: int) -> tuple[list[str | int], str, str]:
    return path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."


def _nest(path: list[str | int], code: str, message: str) -> dict[str, Any]:
    node: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        node = {str(key): node}
    return node


def form_error(problems: list[tuple[list[str | int], str, str]]) -> ApiError:
    """50035 Invalid Form Body, with Discord's nested ``errors`` object."""
    errors: dict[str, Any] = {}
    for path, code, message in problems:
        tree = _nest(path, code, message)

        def merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
            for key, value in src.items():
                if key in dst and isinstance(dst[key], dict) and key != "_errors":
                    merge(dst[key], value)
                else:
                    dst[key] = value

        merge(errors, tree)
    return ApiError(400, 50035, "Invalid Form Body", errors)


def _embed_problems(i: int, embed: dict[str, Any]) -> tuple[list[tuple], int]:
    problems: list[tuple] = []
    total = 0

    def text(path: list[str | int], value: Any, limit: int) -> None:
        nonlocal total
        if value is None:
            return
        value = str(value)
        total += len(value)
        if len(value) > limit:
            problems.append(_too_long(["embeds", i, *path], limit))

    text(["title"], embed.get("title"), EMBED_TITLE)
    text(["description"], embed.get("description"), EMBED_DESCRIPTION)
    footer = embed.get("footer") or {}
    text(["footer", "text"], footer.get("text"), EMBED_FOOTER)
    author = embed.get("author") or {}
    text(["author", "name"], author.get("name"), EMBED_AUTHOR)
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS:
        problems.append(_too_long(["embeds", i, "fields"], EMBED_FIELDS))
    for j, fld in enumerate(fields):
        text(["fields", j, "name"], fld.get("name"), EMBED_FIELD_NAME)
        text(["fields", j, "value"], fld.get("value"), EMBED_FIELD_VALUE)
    return problems, total


def _component_problems(components: list[dict[str, Any]]) -> list[tuple]:
    problems: list[tuple] = []

    def walk(items: list[dict[str, Any]], path: list[str | int]) -> None:
        for k, item in enumerate(items):
            here = [*path, k]
            custom_id = item.get("custom_id")
            if custom_id is not None and not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
                problems.append(_too_long([*here, "custom_id"], MAX_CUSTOM_ID))
            if item.get("type") == 1 and len(item.get("components", [])) > 5:
                problems.append(_too_long([*here, "components"], 5))
            walk(item.get("components", []), [*here, "components"])
            for key in ("component", "accessory"):
                if isinstance(item.get(key), dict):
                    walk([item[key]], [*here, key])

    walk(components, ["components"])
    return problems


def check_message(
    data: dict[str, Any],
    n_files: int,
    *,
    creating: bool,
    has_existing_attachments: bool = False,
    path_prefix: tuple[str, ...] = (),
) -> None:
    """Raise the ApiError Discord would answer for this message payload."""
    problems: list[tuple] = []
    content = data.get("content")
    if content is not None and len(str(content)) > MAX_CONTENT:
        problems.append(_too_long(["content"], MAX_CONTENT))
    embeds = data.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        problems.append(_too_long(["embeds"], MAX_EMBEDS))
    total = 0
    for i, embed in enumerate(embeds):
        found, size = _embed_problems(i, embed)
        problems.extend(found)
        total += size
    if total > EMBED_TOTAL and not problems:
        problems.append(
            (["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        )
    attachments = data.get("attachments")
    n_attachments = max(n_files, len(attachments) if isinstance(attachments, list) else 0)
    if n_files > MAX_FILES or n_attachments > MAX_FILES:
        problems.append(_too_long(["attachments"], MAX_FILES))
    problems.extend(_component_problems(data.get("components") or []))
    nonce = data.get("nonce")
    if creating and nonce is not None and len(str(nonce)) > MAX_NONCE:
        problems.append(_too_long(["nonce"], MAX_NONCE))
    if problems:
        if path_prefix:
            problems = [([*path_prefix, *p], c, m) for p, c, m in problems]
        raise form_error(problems)
    if creating and not (
        content
        or embeds
        or n_files
        or data.get("components")
        or data.get("sticker_ids")
        or data.get("poll")
        or has_existing_attachments
    ):
        raise ApiError(400, 50006, "Cannot send an empty message")
