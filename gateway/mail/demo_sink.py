"""The demo's outgoing-mail sink: the "provider" the gateway's sender submits to under `make demo`.

    python -m gateway.mail.demo_sink --port 2526 --dir .demo/mailbox

Every message it takes goes, per recipient, into that recipient's demo
mailbox (demo_mailbox.py), where the mailbox page shows it. It accepts any
sender and any recipient, answers 250 once the files are written, and asks
for no TLS or login: it listens on loopback and delivers nothing anywhere.
aiosmtpd, as for the gateway's own listener, on its own event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Sequence
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.email_address import EmailAddressError
from gateway.logs import configure_logging, get_logger
from gateway.mail.demo_mailbox import deliver

log = get_logger("gateway.mail.demo_sink")


class SinkHandler:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        assert isinstance(raw, bytes)
        try:
            for recipient in envelope.rcpt_tos:
                await asyncio.to_thread(deliver, self.root, recipient, raw,
                                        envelope_from=envelope.mail_from or "")
        except (OSError, EmailAddressError) as err:
            return f"451 4.3.0 The demo mailbox could not store it: {err}"
        log.info("demo_mail_delivered", recipients=len(envelope.rcpt_tos), size=len(raw))
        return "250 2.0.0 Ok: delivered to the demo mailbox"


async def serve(host: str, port: int, root: Path) -> None:
    """Until cancelled (or SIGTERM / Ctrl-C from `main`)."""
    handler = SinkHandler(root)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="demo-sink", ident="demo mail sink"), host, port)
    log.info("demo_sink_started", host=host, port=port, directory=str(root))
    try:
        await asyncio.Future()
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2526)
    parser.add_argument("--dir", type=Path, default=Path(".demo/mailbox"))
    args = parser.parse_args(argv)
    configure_logging()

    async def run() -> None:
        task = asyncio.ensure_future(serve(args.host, args.port, args.dir))
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())


if __name__ == "__main__":
    main()
