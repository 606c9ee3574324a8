"""A local SMTP sink for `rapport bench email`: aiosmtpd, accepting and counting every message.

Run as its own process (`python -m rapport.bench.smtp_sink PORT`) so it does not share
the sender's interpreter lock; it prints "ready" once it listens and stops on SIGTERM.
"""

import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self):
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        return "250 OK"


def main(port: int) -> None:
    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]))
