"""Async client of the ToAPIs image API; the caller owns the ``aiohttp.ClientSession``.

Protocol logic (status codes to typed errors, Retry-After, task parsing) lives in pure functions
in ``errors`` and ``models``; ``_request`` is the one place that does I/O for JSON calls.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit

import aiohttp
from pydantic import SecretStr

from .errors import (
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ResultTooLargeError,
    SubmissionUncertainError,
    ToAPIsError,
    TransientError,
    backoff_delay,
    error_from_response,
    message_from_body,
)
from .models import GenerationRequest, Task, UploadedImage

log = logging.getLogger(__name__)

__all__ = ["ClientTimeouts", "RequestObserver", "RetryPolicy", "ToAPIsClient"]

# "unsent": retry only failures that prove the request never reached the server.
Retryable = Literal["idempotent", "unsent"]


@dataclass(frozen=True)
class ClientTimeouts:
    """Seconds allowed for each kind of call."""

    connect: float = 10.0
    request: float = 30.0
    upload: float = 120.0
    download: float = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    # A Retry-After longer than this is handed to the caller instead of slept through.
    max_retry_after: float = 60.0


class RequestObserver(Protocol):
    """Told of every HTTP request the client sent (each retry too), for metrics."""

    def toapis_answered(self, call: str, status: int | None) -> None:
        """``call`` (submit, status, upload, download) got ``status``; None: no answer."""
        ...


@dataclass
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes
    parsed: Any = None


class ToAPIsClient:
    """Submit generations, poll tasks, upload references and download results."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str | SecretStr,
        timeouts: ClientTimeouts | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rand: random.Random | None = None,
        observer: RequestObserver | None = None,
    ) -> None:
        self._session = session
        self._observer = observer
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.timeouts = timeouts or ClientTimeouts()
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rand = rand or random.Random()

    def __repr__(self) -> str:
        return f"ToAPIsClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    # -- public calls -------------------------------------------------------------------------

    async def submit(self, request: GenerationRequest) -> Task:
        """Create a generation task; never repeated unless it surely did not reach the server."""
        answer = await self._request(
            "POST",
            "/v1/images/generations",
            call="submit",
            json=request.to_payload(),
            timeout=self._json_timeout(self.timeouts.request),
            retryable="unsent",
        )
        try:
            return Task.from_payload(_json_object(answer.body))
        except ValueError:
            # The server accepted something but we cannot read which task: it may be charged.
            raise SubmissionUncertainError(
                "The image service accepted the request but its answer could not be read.",
                status=answer.status,
            ) from None

    async def get_task(self, task_id: str, *, retries: int | None = None) -> Task:
        """Fetch a task's current state."""
        answer = await self._request(
            "GET",
            f"/v1/images/generations/{quote(task_id, safe='')}",
            call="status",
            timeout=self._json_timeout(self.timeouts.request),
            retryable="idempotent",
            retries=retries,
            parse=lambda body: Task.from_payload(_json_object(body)),
        )
        assert answer.parsed is not None
        return answer.parsed

    async def upload_image(
        self, data: bytes, filename: str, content_type: str, *, purpose: str = "generation"
    ) -> UploadedImage:
        """Re-host an image and return its public URL."""

        def form() -> aiohttp.FormData:
            fd = aiohttp.FormData()
            fd.add_field("file", data, filename=filename, content_type=content_type)
            fd.add_field("purpose", purpose)
            return fd

        answer = await self._request(
            "POST",
            "/v1/uploads/images",
            call="upload",
            form=form,
            timeout=self._json_timeout(self.timeouts.upload),
            retryable="idempotent",
        )
        try:
            payload = _json_object(answer.body)
        except ValueError:
            raise TransientError(
                "The image service sent an upload answer we could not read."
            ) from None
        if payload.get("success") is False:
            message, code = message_from_body(payload)
            raise InvalidRequestError(message or "The image service refused the upload.", code=code)
        data_obj = payload.get("data") if isinstance(payload.get("data"), Mapping) else payload
        try:
            return UploadedImage.model_validate(data_obj)
        except ValueError:
            raise TransientError("The upload answer had no URL.") from None

    async def download(
        self, url: str, dest: Path, *, max_bytes: int, timeout: float | None = None
    ) -> int:
        """Stream a result file to ``dest`` and return its size; partial files never remain."""
        attempts = self.retry.max_retries + 1
        last: ToAPIsError | None = None
        for attempt in range(1, attempts + 1):
            try:
                return await self._download_once(
                    url, dest, max_bytes, timeout or self.timeouts.download
                )
            except (RateLimitedError, TransientError) as exc:
                last = exc
                if attempt == attempts:
                    break
                await self._sleep(self._delay(attempt, exc))
        assert last is not None
        raise last

    # -- I/O ----------------------------------------------------------------------------------

    def _json_timeout(self, total: float) -> aiohttp.ClientTimeout:
        # connect is separate so a connect failure proves the request was never sent.
        return aiohttp.ClientTimeout(total=None, connect=self.timeouts.connect, sock_read=total)

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": "atelier-bot",
        }

    async def _request(
        self,
        method: str,
        path: str,
        *,
        call: str,
        json: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        timeout: aiohttp.ClientTimeout,
        retryable: Retryable,
        retries: int | None = None,
        parse: Callable[[bytes], Any] | None = None,
    ) -> _Answer:
        """Send one API call with the retry rules its kind allows; return a 2xx answer.

        ``parse`` turns the body into an object; a body it cannot read counts as a transient
        failure, so idempotent calls retry it.
        """
        url = self._base_url + path
        max_retries = self.retry.max_retries if retries is None else retries
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = await self._send(method, url, json=json, form=form, timeout=timeout)
            except aiohttp.ClientConnectorError as exc:
                self._observe(call, None)
                # Covers refused connections and connect timeouts: nothing was sent.
                error: ToAPIsError = TransientError(
                    f"Could not connect to the image service ({type(exc).__name__})."
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                self._observe(call, None)
                if retryable == "unsent":
                    raise SubmissionUncertainError(
                        "The image service did not answer after receiving the request "
                        f"({type(exc).__name__}); it may or may not have started the task."
                    ) from None
                error = TransientError(f"The image service did not answer ({type(exc).__name__}).")
            else:
                self._observe(call, answer.status)
                log.debug("%s %s -> %s", method, path, answer.status)
                if 200 <= answer.status < 300:
                    if parse is None:
                        return answer
                    try:
                        answer.parsed = parse(answer.body)
                        return answer
                    except ValueError:
                        error = TransientError(
                            "The image service sent an answer we could not read."
                        )
                else:
                    error = error_from_response(answer.status, answer.headers, answer.body)
                if retryable == "unsent" and answer.status in (502, 504):
                    # A gateway gave up waiting for the origin, which may have created the task.
                    raise SubmissionUncertainError(error.message, status=answer.status) from None
                if retryable == "unsent" and isinstance(error, TransientError):
                    raise error
            if not error.retryable or attempt > max_retries:
                raise error
            if (
                isinstance(error, RateLimitedError)
                and (error.retry_after or 0) > self.retry.max_retry_after
            ):
                raise error
            delay = self._delay(attempt, error)
            log.info(
                "ToAPIs %s %s failed (%s); retry %d in %.1fs",
                method,
                path,
                type(error).__name__,
                attempt,
                delay,
            )
            await self._sleep(delay)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        json: Any,
        form: Callable[[], aiohttp.FormData] | None,
        timeout: aiohttp.ClientTimeout,
    ) -> _Answer:
        data = form() if form is not None else None
        async with self._session.request(
            method,
            url,
            json=json,
            data=data,
            headers=self._headers(),
            timeout=timeout,
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            return _Answer(resp.status, dict(resp.headers), body)

    def _observe(self, call: str, status: int | None) -> None:
        if self._observer is not None:
            self._observer.toapis_answered(call, status)

    def _delay(self, attempt: int, error: ToAPIsError) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            # A little jitter so many waiters do not return in the same instant.
            return error.retry_after + self._rand.random() * 0.25
        return backoff_delay(
            attempt, base=self.retry.backoff_base, cap=self.retry.backoff_cap, rand=self._rand
        )

    async def _download_once(self, url: str, dest: Path, max_bytes: int, timeout: float) -> int:
        headers = {"User-Agent": "atelier-bot"}
        if _same_origin(url, self._base_url):
            # The key goes only to the API's own host, never to a file host.
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        answered = False
        try:
            async with self._session.get(
                url,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout, connect=self.timeouts.connect),
            ) as resp:
                answered = True
                self._observe("download", resp.status)
                if resp.status in (403, 404, 410):
                    raise NotFoundError(
                        "The result file is gone (its link expired or was removed).",
                        status=resp.status,
                    )
                if resp.status != 200:
                    body = await resp.read()
                    raise error_from_response(resp.status, dict(resp.headers), body)
                declared = resp.content_length
                if declared is not None and declared > max_bytes:
                    raise ResultTooLargeError(
                        f"The result is {declared:,} bytes, over the {max_bytes:,}-byte cap."
                    )
                written = 0
                with part.open("wb") as fh:
                    async for chunk in resp.content.iter_chunked(64 * 1024):
                        written += len(chunk)
                        if written > max_bytes:
                            raise ResultTooLargeError(
                                f"The result is over the {max_bytes:,}-byte cap."
                            )
                        fh.write(chunk)
            os.replace(part, dest)
            return written
        except (TimeoutError, aiohttp.ClientError) as exc:
            if not answered:  # a body cut off after the status line was counted with its status
                self._observe("download", None)
            raise TransientError(f"Downloading the result failed ({type(exc).__name__}).") from None
        finally:
            part.unlink(missing_ok=True)


def _json_object(body: bytes) -> dict[str, Any]:
    import json

    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
