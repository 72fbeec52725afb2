"""The ToAPIs image API: capability catalog, typed models and errors, and the async client."""

from .catalog import (
    CATALOG,
    ImageFacts,
    ModelCapabilities,
    RequestValidationError,
    validate_request,
)
from .client import ClientTimeouts, RetryPolicy, ToAPIsClient
from .errors import (
    AuthenticationError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ResultTooLargeError,
    SubmissionUncertainError,
    ToAPIsError,
    TransientError,
)
from .models import GenerationRequest, Task, TaskStatus, UploadedImage

__all__ = [
    "CATALOG",
    "AuthenticationError",
    "ClientTimeouts",
    "GenerationRequest",
    "ImageFacts",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "ModelCapabilities",
    "NotFoundError",
    "RateLimitedError",
    "RequestValidationError",
    "ResultTooLargeError",
    "RetryPolicy",
    "SubmissionUncertainError",
    "Task",
    "TaskStatus",
    "ToAPIsClient",
    "ToAPIsError",
    "TransientError",
    "UploadedImage",
    "validate_request",
]
