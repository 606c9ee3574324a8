"""A real SMTP server (aiosmtpd) on localhost that keeps what it receives.

`replies` scripts refusals: {"rcpt": [450, ...]} answers the next RCPTs with those codes
before accepting again (None accepts one), so tests can play a busy or a refusing server.
"""

import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Handler:
    def __init__(self):
        self.messages: list[dict] = []
        self.connections = 0
        self.replies: dict[str, list[int | None]] = {"rcpt": [], "data": []}
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self._scripted("rcpt")
        if code:
            return f"{code} {'Try again later' if code < 500 else 'No such user here'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        code = self._scripted("data")
        if code:
            return f"{code} {'Busy, try later' if code < 500 else 'Message rejected'}"
        with self.lock:
            self.messages.append({
                "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                "raw": envelope.original_content or envelope.content,
                "parsed": email.message_from_bytes(envelope.original_content or envelope.content,
                                                   policy=email.policy.default),
            })
        return "250 Message accepted for delivery"

    def _scripted(self, stage: str) -> int | None:
        with self.lock:
            return self.replies[stage].pop(0) if self.replies[stage] else None


class SmtpServer:
    def __init__(self):
        self.handler = Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     decode_data=False)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[dict]:
        return self.handler.messages

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
