import pytest

from tests.radicale import RadicaleServer


@pytest.fixture
def radicale(tmp_path):
    """Start a real CalDAV server with one user and an empty calendar."""
    server = RadicaleServer(tmp_path)
    server.start()
    server.make_calendar()
    yield server
    server.stop()
