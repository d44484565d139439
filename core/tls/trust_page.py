"""The page at ``/cozygen/trust``: a QR code of the https address and how to trust the CA on Android and iOS.

Plain HTML with inline CSS and the QR code as inline SVG (``segno``, imported when the page is made): no script,
nothing fetched. Every piece of text from outside (host names, addresses) is escaped.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import NotFound
from .authority import TlsFiles, ca_der, server_names
from .machine import usable


@dataclass(frozen=True)
class TrustView:
    """What the page shows: the phone's addresses (the first one in the QR code) and the CA's fingerprint."""

    trust_urls: list[str]
    app_urls: list[str]
    fingerprint: str
    secure: bool  # the page itself came over https


def fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint as iOS and Android show it (pairs of hex digits)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return " ".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _host_part(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def phone_hosts(request_host: str | None, names: Sequence[str], addresses: Sequence[str]) -> list[str]:
    """The hosts a phone can reach, from the certificate's names: the one the page was opened at first (when the
    certificate covers it; a Host header is never echoed otherwise), then the LAN addresses, then the names."""
    covered = [a for a in addresses if usable(a)] + [n for n in names if n != "localhost"]
    lowered = {h.lower(): h for h in covered}
    first = (request_host or "").strip().strip("[]").lower()
    hosts = [lowered[first]] if first in lowered else []
    return list(dict.fromkeys([*hosts, *covered]))


def view(
    request_host: str | None, port: int, names: Sequence[str], addresses: Sequence[str], der: bytes, secure: bool
) -> TrustView:
    suffix = "" if port == 443 else f":{port}"
    bases = [f"https://{_host_part(h)}{suffix}/cozygen/" for h in phone_hosts(request_host, names, addresses)]
    return TrustView([f"{b}trust" for b in bases], bases, fingerprint(der), secure)


def qr_svg(text: str) -> str:
    import segno

    code = segno.make(text, error="m")
    return code.svg_inline(scale=5, border=2, dark="#000", light="#fff", title=text, omitsize=True)


STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:0 auto;padding:1rem;color:#1d1f24;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}code,.mono{font-family:ui-monospace,monospace;
word-break:break-all}.qr{text-align:center}.qr svg{width:14rem;height:auto}.button{display:inline-block;
padding:.7rem 1.1rem;border-radius:.6rem;background:#3b6cf6;color:#fff;text-decoration:none;font-weight:600}
.warn{background:#fff3cd;border:1px solid #e0c36a;padding:.6rem .8rem;border-radius:.5rem}li{margin:.3rem 0}
@media (prefers-color-scheme:dark){body{background:#14161b;color:#e8e9ee}.warn{background:#3a3219;border-color:#6b5a22}}
"""


def render(v: TrustView) -> str:
    """The whole page."""
    e = html.escape
    first = v.trust_urls[0] if v.trust_urls else ""
    qr = (
        f'<div class="qr">{qr_svg(first)}<p class="mono">{e(first)}</p></div>'
        if first
        else '<p class="warn">The certificate covers no LAN address: run <code>scripts/tls.py</code> again on the '
        "machine while it is on the network (or add one with <code>--address</code>).</p>"
    )
    plain = (
        ""
        if v.secure
        else '<p class="warn">This page came over plain http: ComfyUI is not using the certificate yet. Start it '
        "with the <code>--tls-keyfile</code> and <code>--tls-certfile</code> flags <code>scripts/tls.py</code> "
        "printed.</p>"
    )
    apps = "".join(f'<li><a class="mono" href="{e(u)}">{e(u)}</a></li>' for u in v.app_urls)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Trust CozyGen on your phone</title><style>{STYLE}</style></head><body>
<h1>Trust CozyGen on your phone</h1>{plain}
<p>CozyGen's certificate comes from a small certificate authority made on this computer. Install it on the phone
once, and the phone opens CozyGen over https like any site: installable, with notifications.</p>
<p>On a computer? Scan this with the phone's camera:</p>{qr}
<p><a class="button" href="/cozygen/ca.crt">Download the certificate</a></p>
<p>Its SHA-256 fingerprint, to compare with what the phone shows:<br><span class="mono">{e(v.fingerprint)}</span></p>
<p>The phone may warn once before the download, as it does not trust this site yet: continue to the site
(Chrome: <em>Advanced</em>, then <em>Proceed</em>; Safari: <em>Show Details</em>, then <em>visit this website</em>).</p>
<h2>Android</h2><ol>
<li>Tap <em>Download the certificate</em> above.</li>
<li>Open <em>Settings</em> &rarr; <em>Security &amp; privacy</em> &rarr; <em>More security settings</em> &rarr;
<em>Encryption &amp; credentials</em> &rarr; <em>Install a certificate</em> &rarr; <em>CA certificate</em>, tap
<em>Install anyway</em> and pick <code>cozygen-ca.crt</code> from Downloads. (The menus differ by maker: search
the settings for &ldquo;CA certificate&rdquo;.)</li>
<li>Open CozyGen below in Chrome: no warning now. Menu &rarr; <em>Install app</em> (or <em>Add to Home
screen</em>).</li></ol>
<h2>iPhone and iPad</h2><ol>
<li>Open this page in Safari and tap <em>Download the certificate</em>, then <em>Allow</em>: &ldquo;Profile
Downloaded&rdquo;.</li>
<li>Open <em>Settings</em> &rarr; <em>General</em> &rarr; <em>VPN &amp; Device Management</em>, tap the CozyGen
local CA profile and <em>Install</em>.</li>
<li>Open <em>Settings</em> &rarr; <em>General</em> &rarr; <em>About</em> &rarr;
<em>Certificate Trust Settings</em> and turn on full trust for <em>CozyGen local CA</em>.</li>
<li>Open CozyGen below in Safari: Share &rarr; <em>Add to Home Screen</em>.</li></ol>
<h2>Open CozyGen</h2><ul>{apps or "<li>No LAN address yet.</li>"}</ul>
<p>The authority's key never leaves this computer (it sits in CozyGen's data folder, readable by its owner
only). Remove the certificate from the phone when you stop using CozyGen.</p>
</body></html>
"""


def no_authority() -> NotFound:
    return NotFound(
        "no certificate authority yet: run `python custom_nodes/<CozyGen folder>/scripts/tls.py` on the machine "
        "running ComfyUI, then start ComfyUI with the flags it prints",
        code="NO_CA",
    )


def certificate(files: TlsFiles) -> bytes:
    """The CA certificate (DER) to serve, or the 404 that says how to make one."""
    der = ca_der(files)
    if der is None:
        raise no_authority()
    return der


def page(files: TlsFiles, request_host: str | None, port: int, secure: bool) -> str:
    """The trust page for a request that came to ``request_host:port`` (over https when ``secure``)."""
    der = certificate(files)
    names, addresses = server_names(files)
    return render(view(request_host, port, names, addresses, der, secure))
