"""The MQTT worker on an encrypted link: a local Mosquitto with a TLS listener (TLS 1.2+,
client certificates required) and certificates this test makes. The broker is verified
against --cafile; a wrong CA or no client certificate is refused; the password comes from a
file or the environment and never shows in the process's command line."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
from ingest_support import json_message
from tls_support import Pki, free_port, make_pki, mosquitto

from onshore.errors import StorageError
from onshore.ingest import BatchPolicy, Ingestor, MqttSettings, MqttWorker, Route
from onshore.ingest.subscriber import Subscriber
from onshore.store import DataHome

paho = pytest.importorskip("paho.mqtt.client")
pytestmark = pytest.mark.integration

PASSWORD = "s3cret-do-not-show"


def _conf(pki: Pki, port: int, folder: Path, *, client_certs: bool) -> str:
    lines = [
        f"listener {port} 127.0.0.1",
        f"cafile {pki.ca}",
        f"certfile {pki.server_cert}",
        f"keyfile {pki.server_key}",
        "tls_version tlsv1.2",
        f"require_certificate {'true' if client_certs else 'false'}",
        "persistence false",
        "max_inflight_messages 65535",
    ]
    if client_certs:
        lines.append("allow_anonymous true")
    else:
        passwords = folder / "passwords"
        passwords.write_text("")
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwords), "worker", PASSWORD],
            check=True,
            capture_output=True,
        )
        passwords.chmod(0o600)
        lines += ["allow_anonymous false", f"password_file {passwords}"]
    return "\n".join(lines) + "\n"


def _publisher(pki: Pki, port: int, **auth: str) -> paho.Client:
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="tls-pub", protocol=paho.MQTTv5)
    client.tls_set(
        ca_certs=str(pki.ca),
        certfile=str(pki.client_cert) if not auth else None,
        keyfile=str(pki.client_key) if not auth else None,
    )
    if auth:
        client.username_pw_set(auth["username"], auth["password"])
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def test_the_worker_ingests_over_tls_with_a_client_certificate(tmp_path: Path) -> None:
    pki, port = make_pki(tmp_path / "pki"), free_port()
    with mosquitto(_conf(pki, port, tmp_path, client_certs=True), tmp_path, port):
        settings = MqttSettings(
            "127.0.0.1",
            port,
            "tls-worker",
            cafile=str(pki.ca),
            certfile=str(pki.client_cert),
            keyfile=str(pki.client_key),
        )
        with DataHome(tmp_path / "home", environ={}) as home:
            worker = MqttWorker(
                Ingestor(home, worker="tls"),
                [Route("tls/v/+/t", "json", "telemetry")],
                settings,
                BatchPolicy(max_messages=100, max_wait=0.1),
            )
            worker.connect(timeout=10)
            thread = threading.Thread(target=worker.run, kwargs={"idle_exit": 2.0})
            thread.start()
            pub = _publisher(pki, port)
            for i in range(300):
                pub.publish(f"tls/v/{i % 30}/t", json_message(i % 30, i // 30), qos=1)
            thread.join(timeout=60)
            pub.loop_stop()
            pub.disconnect()
            worker.close()
            assert worker.stats.stored == worker.stats.acked == 300


def test_a_broker_the_ca_does_not_vouch_for_is_refused(tmp_path: Path) -> None:
    pki, port = make_pki(tmp_path / "pki"), free_port()
    with mosquitto(_conf(pki, port, tmp_path, client_certs=True), tmp_path, port):
        wrong = MqttSettings(
            "127.0.0.1",
            port,
            "tls-wrong-ca",
            cafile=str(pki.other_ca),
            certfile=str(pki.client_cert),
            keyfile=str(pki.client_key),
        )
        with pytest.raises(StorageError, match="CERTIFICATE_VERIFY_FAILED"):
            Subscriber(wrong, ["x/#"]).connect(timeout=5)
        anonymous = MqttSettings("127.0.0.1", port, "tls-no-cert", cafile=str(pki.ca))
        with pytest.raises(StorageError):
            Subscriber(anonymous, ["x/#"]).connect(timeout=5)
        plain = MqttSettings("127.0.0.1", port, "plain")  # no TLS on a TLS port
        with pytest.raises(StorageError):
            Subscriber(plain, ["x/#"]).connect(timeout=3)


def test_the_password_comes_from_a_file_and_never_shows_in_ps(tmp_path: Path) -> None:
    pki, port = make_pki(tmp_path / "pki"), free_port()
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    with mosquitto(_conf(pki, port, tmp_path, client_certs=False), tmp_path, port):
        log = tmp_path / "worker.log"
        argv = [
            sys.executable, "-m", "onshore", "ingest", "mqtt", "--home", str(tmp_path / "home"),
            "--host", "127.0.0.1", "--port", str(port), "--client-id", "tls-password",
            "--topic", "pw/v/+/t=json", "--cafile", str(pki.ca), "--username", "worker",
            "--password-file", str(secret), "--idle-exit", "3", "--max-wait", "0.1",
        ]  # fmt: skip
        env = {**os.environ, "ONSHORE_JURISDICTION": "CN"}
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=env)
        deadline = time.monotonic() + 30
        while b"subscribed to" not in log.read_bytes() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.05)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert PASSWORD.encode() not in cmdline
        pub = _publisher(pki, port, username="worker", password=PASSWORD)
        for i in range(20):
            pub.publish(f"pw/v/{i}/t", json_message(i, 0), qos=1)
        assert proc.wait(timeout=60) == 0, log.read_text()
        pub.loop_stop()
        pub.disconnect()
        assert "20 messages, 20 rows stored" in log.read_text()

        # A wrong password is refused at once, in one line, without the password.
        secret.write_text("wrong\n")
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode != 0 and "refused the session" in done.stderr
        assert PASSWORD not in done.stderr
