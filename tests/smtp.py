"""A real SMTP server for tests, which can be made slow, refusing or down.

It is aiosmtpd, listening on a local port in a thread of the test process.
"""

import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Behaviour:
    """How the server answers the next messages."""

    delay_seconds: float = 0.0
    reply: str = "250 Message accepted"


@dataclass
class Recorder:
    """The aiosmtpd handler: records what it accepts, answers as told."""

    behaviour: Behaviour = field(default_factory=Behaviour)
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        if self.behaviour.delay_seconds:
            # Blocking on purpose: the server is slow, not the client.
            time.sleep(self.behaviour.delay_seconds)
        if self.behaviour.reply.startswith("250"):
            self.messages.append(
                message_from_bytes(envelope.content, policy=policy.default)
            )
        return self.behaviour.reply


class SmtpServer:
    """An SMTP server on 127.0.0.1 that tests start, stop and steer."""

    def __init__(self):
        self.port = free_port()
        self.recorder = Recorder()
        self.controller = None

    def start(self) -> None:
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.recorder.messages

    def answer_slowly(self, seconds: float) -> None:
        self.recorder.behaviour.delay_seconds = seconds

    def reply_with(self, reply: str) -> None:
        """Answer every message with `reply`, such as '451 Try later'."""
        self.recorder.behaviour.reply = reply

    def behave_normally(self) -> None:
        self.recorder.behaviour = Behaviour()
