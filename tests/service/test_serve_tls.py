"""``onshore serve --certfile/--keyfile`` serves HTTPS: a real process on loopback, a client that
verifies the certificate against its own test CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from onshore.cli import cli
from onshore.errors import BadInput

PASSWORD = "correct horse battery staple"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_tls(folder: Path) -> tuple[Path, Path, Path, Path]:
    """A test CA, and a certificate it signs for 127.0.0.1 whose key is encrypted:
    (ca.pem, cert.pem, key.pem, password file)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("onshore test CA"))
        .issuer_name(_name("onshore test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem", folder / "password"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSWORD.encode()),
        )
    )
    paths[3].write_text(PASSWORD + "\n")
    for secret in paths[2:]:
        os.chmod(secret, 0o600)
    return paths


@pytest.mark.slow
def test_serve_https_on_loopback(tmp_path: Path) -> None:
    ca, cert, key, password = make_tls(tmp_path)
    onshore = [sys.executable, "-m", "onshore"]
    home = str(tmp_path / "home")
    made = subprocess.run(
        [*onshore, "serve", "keys", "add", "--role", "auditor", "--name", "t", "--home", home],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = _port()
    server = subprocess.Popen(
        [*onshore, "serve", "--home", home, "--port", str(port), "--certfile", str(cert),
         "--keyfile", str(key), "--keyfile-password-file", str(password)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    base = f"https://127.0.0.1:{port}"
    verified = ssl.create_default_context(cafile=str(ca))
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/v1/health", verify=verified, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if server.poll() is not None:
                    pytest.fail(f"onshore serve exited: {server.stderr.read()}")  # type: ignore[union-attr]
                time.sleep(0.1)
        head = httpx.get(f"{base}/v1/ledger/head", headers={"X-API-Key": made}, verify=verified)
        assert head.status_code == 200 and head.headers["cache-control"] == "no-store"
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the CA refuses
            httpx.get(f"{base}/v1/health", verify=ssl.create_default_context(), timeout=5)
        with pytest.raises(httpx.HTTPError):  # and plain HTTP gets no answer
            httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert f"on {base}" in (server.stderr.read() if server.stderr else "")


def test_bad_tls_options_are_refused_before_serving(tmp_path: Path) -> None:
    ca, cert, key, password = make_tls(tmp_path)
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    home = str(tmp_path / "home")
    cases = [
        (["--keyfile", str(key)], "need --certfile"),
        (["--certfile", str(cert), "--keyfile", str(key), "--keyfile-password-file",
          str(wrong)], "cannot use the TLS certificate and key"),
        (["--certfile", str(ca), "--keyfile", str(key), "--keyfile-password-file",
          str(password)], "cannot use the TLS certificate and key"),
    ]  # fmt: skip
    for args, message in cases:
        result = CliRunner().invoke(cli, ["serve", "--home", home, "--port", "1", *args])
        assert isinstance(result.exception, BadInput), (args, result.output)
        assert message in str(result.exception)
