"""Task payloads parse tolerantly: every status spelling and result shape of the contract."""

import logging

import pytest

from bot.toapis.models import GenerationRequest, Task, TaskStatus, collect_result_urls


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("submitted", TaskStatus.QUEUED),
        ("queued", TaskStatus.QUEUED),
        ("in_progress", TaskStatus.RUNNING),
        ("IN_PROGRESS", TaskStatus.RUNNING),
        ("completed", TaskStatus.COMPLETED),
        ("failed", TaskStatus.FAILED),
    ],
)
def test_every_contract_status(raw: str, status: TaskStatus) -> None:
    task = Task.from_payload({"id": "tsk_img_1", "status": raw, "progress": 10})
    assert task.status is status
    assert task.raw_status == raw


def test_unknown_status_is_running_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        task = Task.from_payload({"id": "img_9", "status": "teleporting"})
    assert task.status is TaskStatus.RUNNING and not task.is_final
    assert "teleporting" in caplog.text


def test_missing_progress_is_fine() -> None:
    task = Task.from_payload({"id": "task_01X", "status": "queued"})
    assert task.progress is None


def test_progress_is_clamped() -> None:
    assert Task.from_payload({"id": "a", "status": "in_progress", "progress": 140}).progress == 100


@pytest.mark.parametrize(
    "payload",
    [
        {"url": "https://r/1.png"},
        {"result": {"type": "image", "url": "https://r/1.png"}},
        {"result": {"type": "image", "data": [{"url": "https://r/1.png"}]}},
        {"result": {"type": "image", "images": [{"url": "https://r/1.png"}]}},
        {"result": {"type": "image", "images": [{"url": ["https://r/1.png"]}]}},
    ],
)
def test_each_result_shape_yields_the_url(payload: dict) -> None:
    task = Task.from_payload({"id": "t", "status": "completed", **payload})
    assert task.image_urls == ["https://r/1.png"]


def test_urls_from_all_places_deduplicated_in_order() -> None:
    payload = {
        "url": "https://r/a.png",
        "result": {
            "url": "https://r/a.png",
            "data": [{"url": "https://r/b.png"}, {"nope": 1}],
            "images": [{"url": ["https://r/c.png", "https://r/b.png"]}, {"url": "https://r/d.png"}],
        },
    }
    assert collect_result_urls(payload) == [
        "https://r/a.png",
        "https://r/b.png",
        "https://r/c.png",
        "https://r/d.png",
    ]


def test_failed_task_error_object() -> None:
    task = Task.from_payload(
        {
            "id": "t",
            "status": "failed",
            "error": {"message": "content policy", "code": "moderation_blocked"},
        }
    )
    assert task.status is TaskStatus.FAILED
    assert task.error_message == "content policy" and task.error_code == "moderation_blocked"


def test_per_image_expiry_is_the_earliest() -> None:
    task = Task.from_payload(
        {
            "id": "t",
            "status": "completed",
            "result": {
                "images": [{"url": "u1", "expires_at": 200}, {"url": "u2", "expires_at": 100}]
            },
        }
    )
    assert task.expires_at == 100


def test_task_without_id_is_refused() -> None:
    with pytest.raises(ValueError):
        Task.from_payload({"status": "queued"})


def test_request_payload_leaves_out_unset_fields_and_keeps_n_a_number() -> None:
    req = GenerationRequest(model="gpt-4o-image", prompt="a cat", n=2)
    assert req.to_payload() == {"model": "gpt-4o-image", "prompt": "a cat", "n": 2}


def test_request_refuses_n_as_string() -> None:
    with pytest.raises(ValueError):
        GenerationRequest(model="gpt-4o-image", prompt="a cat", n="2")  # type: ignore[arg-type]
