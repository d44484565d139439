"""core/tls: the local CA (made once, key 0600), the server certificate (SANs, serverAuth, <= 825 days), the
trust page's addresses and the command scripts/tls.py prints."""

from __future__ import annotations

import datetime
import io
import ipaddress
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from cozygen.core.errors import CozyGenError, NotFound
from cozygen.core.tls import cli, trust_page
from cozygen.core.tls.authority import LEAF_DAYS, TlsFiles, ca_der, issue_server, server_names, spki_sha256

NOW = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=datetime.timezone.utc)


def load(path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_server_certificate_covers_the_names_and_addresses_for_a_server(tmp_path) -> None:
    files = TlsFiles.of(tmp_path)
    addresses = ["192.168.1.20", "::1", "[fd00::2]"]
    issued = issue_server(files, ["Box", "box.local", "box"], addresses, label="box", now=NOW)
    assert issued.ca_created and issued.names == ("box", "box.local")
    leaf, ca = load(files.server_cert)  # the chain: leaf, then the CA
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["box", "box.local"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("192.168.1.20"), ipaddress.ip_address("::1"), ipaddress.ip_address("fd00::2")
    ]  # fmt: skip
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert (
        leaf.not_valid_after_utc - leaf.not_valid_before_utc
        <= datetime.timedelta(days=LEAF_DAYS)
        <= (datetime.timedelta(days=825))
    )
    assert leaf.not_valid_before_utc < NOW  # a phone whose clock is a little behind still accepts it
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert server_names(files) == (["box", "box.local"], ["192.168.1.20", "::1", "fd00::2"])


def test_keys_are_owner_only_and_the_chain_loads_in_an_ssl_server_context(tmp_path) -> None:
    files = TlsFiles.of(tmp_path)
    issue_server(files, ["box"], ["127.0.0.1"], label="box", now=datetime.datetime.now(datetime.timezone.utc))
    assert mode(files.ca_key) == 0o600 and mode(files.server_key) == 0o600
    assert mode(files.folder) == 0o700 and mode(files.ca_cert) == 0o644
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # what ComfyUI does with --tls-keyfile/--tls-certfile
    context.load_cert_chain(certfile=files.server_cert, keyfile=files.server_key)
    client = ssl.create_default_context(cafile=str(files.ca_cert))
    assert client.get_ca_certs()[0]["subject"]


def test_the_ca_is_made_once_and_reused(tmp_path) -> None:
    files = TlsFiles.of(tmp_path)
    issue_server(files, ["box"], [], label="box", now=NOW)
    ca_key, ca_cert, first_leaf = files.ca_key.read_bytes(), files.ca_cert.read_bytes(), load(files.server_cert)[0]
    again = issue_server(files, ["box", "nas.home"], ["10.0.0.5"], label="box", now=NOW)
    assert not again.ca_created
    assert files.ca_key.read_bytes() == ca_key and files.ca_cert.read_bytes() == ca_cert
    leaf = load(files.server_cert)[0]
    assert leaf.serial_number != first_leaf.serial_number and leaf.public_key() != first_leaf.public_key()
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_cert))
    files.ca_key.chmod(0o644)  # loosened by hand: tightened again on the next run
    issue_server(files, ["box"], [], label="box", now=NOW)
    assert mode(files.ca_key) == 0o600


def test_a_ca_key_without_its_certificate_is_never_overwritten(tmp_path) -> None:
    files = TlsFiles.of(tmp_path)
    issue_server(files, ["box"], [], label="box", now=NOW)
    key = files.ca_key.read_bytes()
    files.ca_cert.unlink()
    with pytest.raises(CozyGenError, match="missing"):
        issue_server(files, ["box"], [], label="box", now=NOW)
    assert files.ca_key.read_bytes() == key


def test_bad_input_is_refused(tmp_path) -> None:
    with pytest.raises(CozyGenError):
        issue_server(TlsFiles.of(tmp_path), [" "], [], label="box", now=NOW)
    with pytest.raises(ValueError):
        issue_server(TlsFiles.of(tmp_path), ["box"], ["not-an-address"], label="box", now=NOW)


def test_the_ca_is_served_in_der_and_its_absence_says_what_to_run(tmp_path) -> None:
    files = TlsFiles.of(tmp_path)
    assert ca_der(files) is None
    with pytest.raises(NotFound, match="scripts/tls.py") as raised:
        trust_page.certificate(files)
    assert raised.value.code == "NO_CA"
    issue_server(files, ["box"], [], label="box", now=NOW)
    der = trust_page.certificate(files)
    assert x509.load_der_x509_certificate(der) == x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    assert spki_sha256(files.ca_cert.read_bytes()) != spki_sha256(files.server_cert.read_bytes())


def test_the_trust_page_never_echoes_a_host_the_certificate_does_not_cover(tmp_path) -> None:
    names, addresses = ["box", "box.local", "localhost"], ["192.168.1.20", "127.0.0.1", "fd00::2"]
    assert trust_page.phone_hosts("box.local", names, addresses) == ["box.local", "192.168.1.20", "fd00::2", "box"]
    assert trust_page.phone_hosts("127.0.0.1", names, addresses)[0] == "192.168.1.20"
    assert trust_page.phone_hosts("<script>.evil", names, addresses)[0] == "192.168.1.20"
    files = TlsFiles.of(tmp_path)
    issue_server(files, names, addresses, label="box", now=NOW)
    html = trust_page.page(files, "<script>alert(1)</script>", 8443, secure=True)
    assert "<script" not in html and "alert(1)" not in html
    assert "https://192.168.1.20:8443/cozygen/trust" in html and "https://[fd00::2]:8443/cozygen/" in html
    assert "<svg" in html and 'href="/cozygen/ca.crt"' in html
    assert "Android" in html and "Certificate Trust Settings" in html and "plain http" not in html
    assert trust_page.fingerprint(ca_der(files) or b"")[:2] in html
    assert "plain http" in trust_page.page(files, "box", 8188, secure=False)
    files.server_cert.write_text("not a certificate")  # replaced by hand: the page still says how to trust the CA
    assert "covers no LAN address" in trust_page.page(files, "box", 8188, secure=True)


def test_the_command_prints_how_to_start_comfyui_and_where_to_go(tmp_path) -> None:
    out = io.StringIO()
    argv = ["--data-dir", str(tmp_path), "--only", "--name", "box", "--address", "192.168.1.20", "--port", "8443"]
    assert cli.main(argv, out) == 0
    text = out.getvalue()
    files = TlsFiles.of(tmp_path)
    assert "created" in text and f"--tls-keyfile {files.server_key}" in text
    assert f"--tls-certfile {files.server_cert}" in text and "--port 8443" in text
    assert "https://192.168.1.20:8443/cozygen/trust" in text and "https://box:8443/cozygen/" in text
    out = io.StringIO()
    assert cli.main(argv, out) == 0 and "kept" in out.getvalue()
    assert cli.main(["--data-dir", str(tmp_path), "--only"], io.StringIO()) == 1  # nothing to cover
