"""One decision in progress: the inputs, a working state, and what to send.

Why a small object: every handler (opt-out, opt-in, dialog, keyword) needs
the same dozen values, and passing them one by one buried the logic. The
object is created and thrown away inside one `decide()` call; nothing
outlives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.engine.events import ConsentEvent, EngineEvent
from gateway.engine.rules import ProgramRules, Rules, ShortcodeRules
from gateway.engine.state import Draft
from gateway.engine.templates import Template
from gateway.engine.text import Command
from gateway.engine.types import Inbound, Reply


@dataclass(slots=True)
class Turn:
    rules: Rules
    code: ShortcodeRules
    inbound: Inbound
    command: Command
    now: datetime
    at: str  # `now` as stored: UTC ISO-8601
    draft: Draft
    opted_out: bool
    replies: list[Reply] = field(default_factory=list)
    events: list[EngineEvent] = field(default_factory=list)
    stop_hint_sent: bool = False  # how to stop went out in this turn (consent.stop_hint)

    def program(self, program_id: str) -> ProgramRules:
        return self.rules.programs[program_id]

    def render(self, template: Template, program_id: str | None = None) -> str:
        variables = self.code.variables.get(program_id or self.code.lead.id)
        if variables is None:  # a program on another code: use its own values
            variables = self.program(program_id or self.code.lead.id).variables(self.code.code)
        profile = self.draft.profile
        return template.render({**profile, **variables} if profile else variables)

    def reply(self, template: Template, program_id: str | None = None, *,
              compliance: bool = False) -> str:
        text = self.render(template, program_id)
        self.replies.append(Reply(text=text, compliance=compliance))
        return text

    @property
    def last_reply_index(self) -> int:
        """Index in `Decision.replies` of the reply just queued."""
        return len(self.replies) - 1

    def consent(self, kind: type[ConsentEvent], program: ProgramRules, keyword: str,
                disclosure: str, *, reply_index: int | None) -> None:
        """A consent-ledger event: everything compliance rule 9 asks the shell to keep.

        `reply_index` points into `Decision.replies` at the MT that carried the
        disclosure, so the shell can record that MT's outbox id (and, through
        it, its delivery receipt). Absent when nothing was sent (a flood of
        STOPs from a number already opted out).
        """
        self.events.append(kind(
            program=program.id,
            program_name=program.name,
            shortcode=self.code.code,
            keyword=keyword,
            mo_id=self.inbound.mo_id,
            mo_text=self.inbound.text,
            disclosure_text=disclosure,
            disclosure_version=program.disclosure_version,
            privacy_url=program.privacy_url,
            privacy_version=program.privacy_version,
            at=self.now,
            reply_index=reply_index,
        ))
