"""A real CalDAV server for tests: Radicale, run as its own process.

Each server keeps its calendars in a folder of its own and knows one user
whose password is plain text in an htpasswd file.
"""

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.smtp import free_port

USER = "dr-lovelace"
PASSWORD = "correct horse battery staple"


class RadicaleServer:
    """Radicale on 127.0.0.1, started and stopped by the tests."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.process = None
        (folder / "users").write_text(f"{USER}:{PASSWORD}\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def calendar_url(self, name: str = "appointments") -> str:
        return f"{self.url}/{USER}/{name}/"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "radicale",
                "--server-hosts",
                f"127.0.0.1:{self.port}",
                "--storage-filesystem-folder",
                str(self.folder / "collections"),
                "--auth-type",
                "htpasswd",
                "--auth-htpasswd-filename",
                str(self.folder / "users"),
                "--auth-htpasswd-encryption",
                "plain",
                # Clients try without a password first; do not make them wait.
                "--auth-delay",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 15.0) -> None:
        """Wait for the server's process to answer HTTP, or fail."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=1)
                return
            except urllib.error.HTTPError:
                return  # Answering, if only to refuse: it is up.
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("Radicale did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def make_calendar(self, name: str = "appointments") -> str:
        """Create a calendar collection for the user; return its URL."""
        import caldav

        client = caldav.DAVClient(self.url, username=USER, password=PASSWORD)
        principal = client.principal()
        principal.make_calendar(name=name, cal_id=name)
        return self.calendar_url(name)
