"""Where a model comes from: a Hugging Face repo's file, or a direct http(s) URL.

``parse_source`` accepts ``{"hf": {"repo", "file", "revision"?}}``, ``{"url": "https://..."}`` or a URL string;
a Hugging Face ``/resolve/`` or ``/blob/`` link becomes an hf source. A URL carrying credentials (``user:pass@`` or
a key in its query) is refused: keys live in Settings, so no view, record or log ever holds one.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from ..errors import BadRequest

HF_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
_REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_KEY_PARAMETERS = frozenset({"token", "api_key", "apikey", "access_token", "key", "auth", "hf_token"})
_MAX_URL = 2000


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="INVALID_SOURCE")


@dataclass(frozen=True)
class Source:
    kind: Literal["hf", "url"]
    repo: str = ""
    file: str = ""
    revision: str = "main"
    url: str = ""

    def as_dict(self) -> dict[str, Any]:
        if self.kind == "hf":
            return {"hf": {"repo": self.repo, "file": self.file, "revision": self.revision}}
        return {"url": self.url}

    @property
    def label(self) -> str:
        """What a person reads: ``owner/name/file`` or the URL without its query."""
        if self.kind == "hf":
            return f"{self.repo}/{self.file}"
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def check_repo(repo: Any) -> str:
    if not isinstance(repo, str) or len(repo) > 96 or repo.count("/") != 1:
        raise _invalid("a Hugging Face repo is 'owner/name' (at most 96 characters)")
    for part in repo.split("/"):
        if not _REPO_PART.fullmatch(part) or ".." in part or "--" in part or part.endswith((".", "-")):
            raise _invalid(f"{repo[:100]!r} is not a Hugging Face repo name (letters, digits, '.', '_', '-')")
    return repo


def check_file(file: Any) -> str:
    if not isinstance(file, str) or not file or len(file) > 1000:
        raise _invalid("give the file's path inside the repo (e.g. 'unet/model.safetensors')")
    if file.startswith("/") or "\\" in file or any(ord(c) < 32 or ord(c) == 127 for c in file):
        raise _invalid(f"{file[:100]!r} is not a relative path inside the repo")
    if any(part in ("", ".", "..") for part in file.split("/")):
        raise _invalid(f"{file[:100]!r} has an empty, '.' or '..' part")
    return file


def check_revision(revision: Any) -> str:
    if revision is None:
        return "main"
    if (
        not isinstance(revision, str)
        or not revision
        or len(revision) > 255
        or ".." in revision
        or any(ord(c) <= 32 or ord(c) == 127 for c in revision)
    ):
        raise _invalid("a revision is a branch, tag or commit (no spaces, at most 255 characters)")
    return revision


def parse_source(obj: Any) -> Source:
    """A checked source (400 ``INVALID_SOURCE`` with what to send)."""
    if isinstance(obj, str):
        return _from_url(obj)
    if isinstance(obj, dict) and len(obj) == 1 and isinstance(obj.get("hf"), dict):
        hf = obj["hf"]
        unknown = sorted(set(hf) - {"repo", "file", "revision"})
        if unknown:
            raise _invalid(f"unknown field {unknown[0]!r} in hf; send repo, file and optionally revision")
        return Source("hf", check_repo(hf.get("repo")), check_file(hf.get("file")), check_revision(hf.get("revision")))
    if isinstance(obj, dict) and len(obj) == 1 and "url" in obj:
        return _from_url(obj["url"])
    raise _invalid('send {"hf": {"repo": "owner/name", "file": "path/in/repo", "revision"?: "main"}} or {"url": "..."}')


def _from_url(url: Any) -> Source:
    if not isinstance(url, str) or not url or len(url) > _MAX_URL:
        raise _invalid(f"a download URL is an http:// or https:// address of at most {_MAX_URL} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise _invalid("a download URL has no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _invalid(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("a download URL starts with http:// or https:// and names a host")
    if parts.username is not None or parts.password is not None:
        raise _invalid("a download URL carries no user name or password; put keys in Settings instead")
    if any(key.lower() in _KEY_PARAMETERS for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
        raise _invalid(
            "this URL carries a key in its query; remove it and set the key in Settings "
            "(civitai_api_key for Civitai, hf_token for Hugging Face): it is then sent only to its own host"
        )
    if parts.hostname in HF_HOSTS and port in (None, 443) and parts.scheme == "https":
        found = _hf_link(parts.path)
        if found is not None:
            return found
    return Source("url", url=urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, "")))


def _hf_link(path: str) -> Source | None:
    """``/<owner>/<name>/(resolve|blob)/<revision>/<file>`` as an hf source (other links stay URLs)."""
    pieces = path.split("/")
    if len(pieces) < 6 or pieces[0] != "" or pieces[3] not in ("resolve", "blob"):
        return None
    repo = check_repo(f"{unquote(pieces[1])}/{unquote(pieces[2])}")
    revision = check_revision(unquote(pieces[4]))
    return Source("hf", repo, check_file(unquote("/".join(pieces[5:]))), revision)


def default_name(source: Source) -> str:
    """The file's base name: of the repo path, or of the URL's path (its last segment)."""
    if source.kind == "hf":
        return posixpath.basename(source.file)
    return unquote(posixpath.basename(urlsplit(source.url).path))
