"""A Hugging Face repo's file, resolved through the ``huggingface_hub`` client (imported on first use).

``resolve`` asks the endpoint (``HF_ENDPOINT`` or huggingface.co) for the file's metadata, as
``hf_hub_download`` does: where to fetch it (the CDN an LFS file redirects to), its size, and its SHA-256 (an LFS
file's ETag). The token goes only to the endpoint: the headers handed back carry it only when the file is served
by the endpoint itself. Blocking (network): call it from a thread.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..errors import BadGateway, Forbidden, NotFound
from .sources import Source

DEFAULT_ENDPOINT = "https://huggingface.co"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Remote:
    url: str  # where the bytes are (the CDN location of an LFS file)
    size: int | None
    sha256: str | None  # known for LFS files
    headers: dict[str, str]  # secret: the token when ``url`` is on the endpoint; never shown or logged

    def __repr__(self) -> str:  # never the headers
        return f"Remote(url={self.url!r}, size={self.size}, sha256={self.sha256})"


def endpoint() -> str:
    """The Hugging Face endpoint: ``HF_ENDPOINT`` when set, else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or "").strip().rstrip("/") or DEFAULT_ENDPOINT


def configured_endpoint() -> str | None:
    """``HF_ENDPOINT`` when an operator set it (the download guard trusts that host), else None."""
    return (os.environ.get("HF_ENDPOINT") or "").strip().rstrip("/") or None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def resolve(source: Source, token: str | None, *, base: str | None = None, timeout: float = 15.0) -> Remote:
    """The file's location, size, hash and the headers to fetch it with; 404 ``MODEL_NOT_FOUND``, 403
    ``MODEL_GATED`` or 502 ``SOURCE_FAILED``."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    assert source.kind == "hf", source
    base = (base or endpoint()).rstrip("/")
    url = hf_hub_url(source.repo, source.file, revision=source.revision, endpoint=base)
    where = f"{source.repo} at {source.revision}"
    try:
        meta = get_hf_file_metadata(url, token=token or False, timeout=timeout, library_name="cozygen")
    except GatedRepoError:
        raise _gated(source.repo, token) from None
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError):
        hint = "" if token else " (a private repo needs hf_token in Settings)"
        raise NotFound(f"{source.file} was not found in {where}{hint}", code="MODEL_NOT_FOUND") from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise _gated(source.repo, token) from None
        if status == 404:
            raise NotFound(f"{source.file} was not found in {where}", code="MODEL_NOT_FOUND") from None
        raise BadGateway(f"Hugging Face answered {status} for {source.file} in {where}", code="SOURCE_FAILED") from None
    except Exception as exc:  # the network (httpx/requests errors), offline mode
        raise BadGateway(f"cannot reach {urlsplit(base).netloc}: {type(exc).__name__}", code="SOURCE_FAILED") from None
    location = urljoin(url, meta.location or url)
    headers = {"Authorization": f"Bearer {token}"} if token and _origin(location) == _origin(base) else {}
    etag = (meta.etag or "").lower()
    return Remote(location, meta.size, etag if _SHA256.fullmatch(etag) else None, headers)


def _gated(repo: str, token: str | None) -> Forbidden:
    if token:
        message = f"{repo} is gated: accept its terms on huggingface.co with the account of hf_token in Settings"
    else:
        message = f"{repo} is gated or private: set hf_token in Settings (an account that accepted its terms)"
    return Forbidden(message, code="MODEL_GATED")
