"""Typed SMPP errors, each carrying the command_status to answer with.

Why one decode error type: the session must turn every malformed PDU into a
wire reply (generic_nack or a *_resp with an error status) without guessing
from message text, so the status travels with the exception. Local and remote
protocol errors are kept apart as in h11: one is a bug in our code, the other
is the peer's fault and must never crash us.
"""

from __future__ import annotations

from gateway.smpp.constants import CommandStatus, command_name, status_name


class SmppError(Exception):
    """Base class for everything raised by gateway.smpp."""


class PduError(SmppError):
    """A PDU that cannot be encoded or decoded; `command_status` is the SMPP answer."""

    def __init__(self, command_status: int, sequence: int, command_id: int, reason: str) -> None:
        self.command_status = command_status
        self.sequence = sequence
        self.command_id = command_id
        self.reason = reason
        super().__init__(
            f"{reason} ({status_name(command_status)}, {command_name(command_id)}, seq {sequence})"
        )


class FramingError(PduError):
    """The byte stream cannot be split into PDUs any more: the connection must close.

    `complete_frames` holds the whole frames that arrived before the broken
    header in the same chunk, so none of them is lost.
    """

    def __init__(
        self, command_status: int, sequence: int, command_id: int, reason: str,
        complete_frames: list[bytes] | None = None,
    ) -> None:
        super().__init__(command_status, sequence, command_id, reason)
        self.complete_frames = complete_frames or []


class ProtocolError(SmppError):
    """A PDU that is well formed but not allowed in the current session state."""

    def __init__(self, reason: str, command_status: int = CommandStatus.ESME_RINVBNDSTS) -> None:
        self.reason = reason
        self.command_status = command_status
        super().__init__(reason)


class LocalProtocolError(ProtocolError):
    """We tried to send something illegal; a bug on our side. Session state is unchanged."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something illegal; the session answers it and carries on."""


class ClientError(SmppError):
    """Base for errors raised by EsmeClient.submit()."""


class SessionLost(ClientError):
    """The connection went away before the submit_sm_resp arrived.

    When `sent`, the submit_sm went out and the message may or may not have
    reached the SMSC; otherwise it never left. The caller owns durability
    and decides whether to requeue.
    """

    def __init__(self, reason: str, *, sent: bool = True) -> None:
        self.sent = sent
        super().__init__(reason)


class SubmitTimeout(ClientError):
    """No submit_sm_resp within smpp_submit_timeout; the SMSC may still deliver it."""


class SubmitRejected(ClientError):
    """The SMSC answered submit_sm with an error status (other than throttling)."""

    def __init__(self, command_status: int, response: object = None) -> None:
        self.command_status = command_status
        self.response = response
        super().__init__(f"submit_sm rejected by SMSC: {status_name(command_status)}")

    @property
    def temporary(self) -> bool:
        """True when retrying the same message later may succeed."""
        return self.command_status in TEMPORARY_STATUSES


TEMPORARY_STATUSES = frozenset(
    {
        CommandStatus.ESME_RSYSERR,
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RX_T_APPN,
        CommandStatus.ESME_RSUBMITFAIL,
        CommandStatus.ESME_RUNKNOWNERR,
    }
)
