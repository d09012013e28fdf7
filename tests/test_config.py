"""Settings that keep a server safe to run: no publicly known signing key, ever."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from itsdangerous import URLSafeTimedSerializer

from attendance_app.config import SECRET_KEY_FILE, load_config

ROOT = Path(__file__).resolve().parents[1]
#: The constant the server used to sign with when SECRET_KEY was unset.
OLD_PUBLIC_KEY = "dev-only-not-secret"


@pytest.fixture
def no_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ATTENDANCE_ENV", "development")


def _session_cookie(key: str, data: dict) -> str:
    """A session cookie as Flask signs it with ``key``."""
    app = Flask(__name__)
    app.secret_key = key
    serializer = app.session_interface.get_signing_serializer(app)
    assert isinstance(serializer, URLSafeTimedSerializer)
    return serializer.dumps(data)


def test_without_secret_key_a_key_is_generated_once_and_kept_private(tmp_path, no_secret_key):
    first = load_config(str(tmp_path))["SECRET_KEY"]
    again = load_config(str(tmp_path))["SECRET_KEY"]
    elsewhere = load_config(str(tmp_path / "other"))["SECRET_KEY"]

    key_file = tmp_path / SECRET_KEY_FILE
    assert first == again == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 64 and first != OLD_PUBLIC_KEY
    assert elsewhere != first  # generated, not a constant


def test_a_session_forged_with_the_old_public_key_is_not_accepted(tmp_path, no_secret_key):
    settings = load_config(str(tmp_path))
    app = Flask(__name__)
    app.secret_key = settings["SECRET_KEY"]
    forged = _session_cookie(OLD_PUBLIC_KEY, {"_user_id": "someone:1"})

    serializer = app.session_interface.get_signing_serializer(app)

    with pytest.raises(Exception, match=r"[Ss]ignature"):
        serializer.loads(forged)


def test_a_key_file_others_can_read_is_refused(tmp_path, no_secret_key):
    load_config(str(tmp_path))
    os.chmod(tmp_path / SECRET_KEY_FILE, 0o644)

    with pytest.raises(RuntimeError, match="chmod 600"):
        load_config(str(tmp_path))


def test_production_without_secret_key_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ATTENDANCE_ENV", "production")

    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        load_config(str(tmp_path))
    assert not (tmp_path / SECRET_KEY_FILE).exists()


def test_the_server_command_refuses_to_start_in_production_without_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(ATTENDANCE_ENV="production", DATABASE_URL="sqlite:///:memory:")

    result = subprocess.run(
        [sys.executable, "-m", "attendance_app.server", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
