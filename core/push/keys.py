"""The server's VAPID key pair (RFC 8292): made once, kept in the data folder with mode 0600.

Push services know a sender by its public key: a subscription made with one key only accepts pushes signed by
it, so the key must outlive restarts. It is written whole to a private file first and then put under its name
(as the signing secret in core/accounts/tokens.py is), so a kill mid-write never leaves half a key.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path

from ..store.datadir import put_private

log = logging.getLogger("cozygen")
KEY_NAME = "push-vapid.pem"


@dataclass(frozen=True)
class VapidKey:
    private_pem: bytes  # PKCS#8 PEM, what py_vapid signs with
    public_key: str  # the uncompressed P-256 point, base64url without padding: the app's applicationServerKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_or_create(data_dir: Path) -> VapidKey:
    """The key pair in ``data_dir``: read back, or made now when there is none (or none that reads as one)."""
    path = data_dir / KEY_NAME
    try:
        return _parse(path.read_bytes())
    except FileNotFoundError:
        return _create(path, replace=False)
    except ValueError:
        log.warning("CozyGen: %s was not a whole VAPID key; made a new one (devices must turn push on again)", path)
        return _create(path, replace=True)


def _parse(pem: bytes) -> VapidKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("not a P-256 key")
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return VapidKey(private_pem=pem, public_key=b64url(point))


def _create(path: Path, *, replace: bool) -> VapidKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    put_private(path, pem, replace=replace)
    return _parse(path.read_bytes())
