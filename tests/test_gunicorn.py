"""gunicorn, started the way scripts/run starts it."""

import subprocess
import sys
import time
from pathlib import Path

GUNICORN = Path(sys.executable).with_name("gunicorn")
ROOT = Path(__file__).resolve().parent.parent


def test_gunicorn_makes_no_control_socket_in_the_home_folder(tmp_path):
    # Its default path would be shared by every Carebook on the machine.
    home = tmp_path / "home"
    home.mkdir()
    server = subprocess.Popen(
        [
            str(GUNICORN),
            "carebook.wsgi",
            "--config",
            "python:carebook.gunicorn_config",
            "--bind",
            "127.0.0.1:0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
    )
    try:
        log = ""
        deadline = time.monotonic() + 30
        while "Listening at" not in log and time.monotonic() < deadline:
            log += server.stderr.readline()
        assert "Listening at" in log
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert list(home.iterdir()) == []
