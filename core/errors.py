"""Domain errors, each carrying its HTTP status and a machine code.

    CozyGenError            500 INTERNAL
    ├── BadRequest          400 BAD_REQUEST
    ├── Unauthorized        401 UNAUTHORIZED
    ├── Forbidden           403 FORBIDDEN
    ├── NotFound            404 NOT_FOUND
    ├── Conflict            409 CONFLICT
    ├── TooLarge            413 TOO_LARGE
    ├── UnsupportedType     415 UNSUPPORTED_TYPE
    ├── RateLimited         429 RATE_LIMITED (carries retry_after seconds)
    ├── BadGateway          502 BAD_GATEWAY (a server CozyGen fetched from failed)
    ├── HostNotReady        503 HOST_NOT_READY
    └── InsufficientStorage 507 INSUFFICIENT_STORAGE (a file does not fit on the disk)

Core code raises these; the API layer renders every one as
``{"error": message, "code": code}`` with the status, so handlers never build
error responses by hand.
"""

from __future__ import annotations

from typing import Any


class CozyGenError(Exception):
    status = 500
    code = "INTERNAL"

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.extra}


class BadRequest(CozyGenError):
    status = 400
    code = "BAD_REQUEST"


class Unauthorized(CozyGenError):
    status = 401
    code = "UNAUTHORIZED"


class Forbidden(CozyGenError):
    status = 403
    code = "FORBIDDEN"


class NotFound(CozyGenError):
    status = 404
    code = "NOT_FOUND"


class Conflict(CozyGenError):
    status = 409
    code = "CONFLICT"


class TooLarge(CozyGenError):
    status = 413
    code = "TOO_LARGE"


class UnsupportedType(CozyGenError):
    status = 415
    code = "UNSUPPORTED_TYPE"


class RateLimited(CozyGenError):
    status = 429
    code = "RATE_LIMITED"

    def __init__(
        self, message: str, *, retry_after: int, code: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code, extra=extra)
        self.retry_after = retry_after


class BadGateway(CozyGenError):
    status = 502
    code = "BAD_GATEWAY"


class HostNotReady(CozyGenError):
    status = 503
    code = "HOST_NOT_READY"


class InsufficientStorage(CozyGenError):
    status = 507
    code = "INSUFFICIENT_STORAGE"
