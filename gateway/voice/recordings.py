"""Menu 3's recordings: the provider's callbacks, and the queue that downloads the audio.

The recording callback (and the <Record> action, in case that callback is
lost) writes a `voice_recordings` row before the provider gets its answer;
`RecordingFetcher`, a task under the gateway's supervisor, then claims due
rows and downloads each from the provider's URL with the provider's
credentials (HTTP basic: the account SID and the auth token), refusing more
than GATEWAY_VOICE_RECORDING_MAX_BYTES and anything that is not WAV or MP3.
A failed try is retried with backoff (5 s, doubling to 30 min) up to
GATEWAY_VOICE_DOWNLOAD_ATTEMPTS tries; a crash mid-download leaves a lease
that expires, and the row is claimed again. Nothing a caller left is lost
to a restart or to the provider's server having a bad minute.

The transcription callback adds the text; for "anything else" (9) the
program's theme classifier (engine/themes.py, the one SMS questions use)
picks the theme from it. Each time a stored recording becomes more complete,
`voice_question_ready` (question_seam.py) is told, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

import aiohttp
import asyncpg

from gateway.clock import Clock
from gateway.config import Settings
from gateway.engine import Rules, normalize
from gateway.engine.themes import classify
from gateway.engine.voice import OTHER_DIGIT, VoiceTopic
from gateway.logs import get_logger
from gateway.metrics import Metrics
from gateway.store import voice_recordings as store
from gateway.store.calls import Call
from gateway.store.voice_recordings import Due, RecordingCallback, Transcription
from gateway.voice.audio import NotAudio, audio_format
from gateway.voice.question_seam import ReadyRecording, voice_question_ready

log = get_logger(__name__)

FIRST_RETRY: Final = timedelta(seconds=5)
LONGEST_RETRY: Final = timedelta(minutes=30)
LEASE_MARGIN: Final = timedelta(seconds=30)  # beyond the download timeout
TELNYX_LONGEST_RETRY: Final = timedelta(minutes=1)
TELNYX_LINK_LIFE: Final = timedelta(minutes=10)  # Telnyx: a recording URL's life after the call
CLAIM_BATCH: Final = 4
DEFAULT_THEME: Final = "general"  # a program without themes (the line offers no menu 3 then)
DEFAULT_SLA: Final = 2 * 86400  # likewise: the themes' default response time


class DownloadFailed(Exception):
    """One try failed; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


def backoff(attempts: int, longest: timedelta = LONGEST_RETRY) -> timedelta:
    """The wait after the `attempts`-th failed try: 5 s, 10 s, 20 s... at most `longest`."""
    return min(FIRST_RETRY * (1 << min(max(0, attempts - 1), 20)), longest)


def longest_retry(settings: Settings) -> timedelta:
    """The longest wait between two tries: 30 min, but one minute for Telnyx, whose
    recording links work only 10 minutes after the call ends (TELNYX_LINK_LIFE)."""
    return TELNYX_LONGEST_RETRY if settings.voice_signature_scheme == "telnyx" \
        else LONGEST_RETRY


def download_window(settings: Settings) -> timedelta:
    """The longest time from the first try to the end of the last one: every wait and
    every try's timeout. For Telnyx it must stay within TELNYX_LINK_LIFE (docs/voice.md
    says which settings to lower when it would not)."""
    tries = settings.voice_download_attempts
    waits = sum((backoff(n, longest_retry(settings)) for n in range(1, tries)), timedelta())
    return waits + tries * timedelta(seconds=settings.voice_download_timeout)


async def record_callback(conn: asyncpg.Connection, call: Call, topic: VoiceTopic | None,
                          form: Mapping[str, str], *, now: datetime, action: bool) -> None:
    """The recording's facts from the provider (`action`: the <Record> action's request)."""
    sid = form.get("RecordingSid", "").strip()
    url = form.get("RecordingUrl", "").strip()
    if not sid:
        return
    status = "completed" if action else form.get("RecordingStatus", "")
    await store.record_callback(conn, RecordingCallback(
        recording_sid=sid, call_sid=call.call_sid, program=call.program,
        theme=topic.id if topic is not None else None,
        other=topic is not None and topic.digit == OTHER_DIGIT,
        source_url=url if url.startswith(("https://", "http://")) else None,
        duration_seconds=_seconds(form.get("RecordingDuration")),
        available=status == "completed" and bool(url), at=now))


async def add_transcription(conn: asyncpg.Connection, call: Call, topic: VoiceTopic | None,
                            form: Mapping[str, str], rules: Rules, *, now: datetime) -> None:
    """The transcription (classified for "anything else"); tells the seam if the audio is in."""
    sid = form.get("RecordingSid", "").strip()
    if not sid:
        return
    text = form.get("TranscriptionText", "").strip() or None
    other = topic is not None and topic.digit == OTHER_DIGIT
    themes = rules.themes.get(call.program)
    classified = (classify(themes, normalize(text))
                  if other and text and themes is not None else None)
    recording_id = await store.add_transcription(conn, Transcription(
        recording_sid=sid, call_sid=call.call_sid, program=call.program,
        theme=topic.id if topic is not None else None, other=other, text=text,
        status=form.get("TranscriptionStatus", "")[:20], classified_theme=classified, at=now))
    await tell_if_ready(conn, recording_id, rules, now=now)


async def tell_if_ready(conn: asyncpg.Connection, recording_id: int, rules: Rules, *,
                        now: datetime) -> bool:
    """Call the seam for a stored recording (see question_seam.py); False when not stored."""
    row = await store.get(conn, recording_id)
    if row is None or row["status"] != "stored":
        return False
    chosen, other = row["theme"], bool(row["other"])
    themes = rules.themes.get(row["program"])
    theme = row["classified_theme"] or chosen or (themes.fallback if themes else DEFAULT_THEME)
    voice = rules.voice.get(row["program"])
    told = voice.topic(chosen or "", other=other) if voice is not None else None
    queue = themes.topics.get(theme) if themes is not None else None
    sla = told.sla if told is not None else queue.sla if queue is not None else DEFAULT_SLA
    # named after the theme the caller chose, so it stays the same when 9 is classified
    placeholder = placeholder_text(rules, row["program"], row["language"],
                                   told.name if told is not None else theme)
    await voice_question_ready(conn, ReadyRecording(
        id=row["id"], recording_sid=row["recording_sid"], call_sid=row["call_sid"],
        program=row["program"], theme=theme, chosen_theme=chosen, other=other,
        msisdn=row["msisdn"], shortcode=row["shortcode"], language=row["language"],
        asked_at=row["created_at"], sla_seconds=sla, duration_seconds=row["duration_seconds"],
        audio_format=row["audio_format"], transcription=row["transcription"],
        placeholder=placeholder))
    await store.mark_ready(conn, row["id"], now)
    return True


def placeholder_text(rules: Rules, program: str, language: str, theme_name: str) -> str:
    """A recorded question's text until its transcription comes (`question_placeholder`)."""
    voice = rules.voice.get(program)
    template = (voice.text("fr" if language == "fr" else "en", "question_placeholder")
                if voice is not None else None)
    return template.render({"theme": theme_name}) if template is not None else theme_name


class RecordingFetcher:
    """Downloads due recordings: one `tick` claims a few and tries each once."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, rules: Callable[[], Rules], *,
                 clock: Clock, metrics: Metrics | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self.rules = rules
        self.clock = clock
        self.metrics = metrics
        self._session: aiohttp.ClientSession | None = None

    async def tick(self) -> int:
        """Try every due recording once; how many were stored."""
        stored = 0
        lease = timedelta(seconds=self.settings.voice_download_timeout) + LEASE_MARGIN
        while True:
            async with self.pool.acquire() as conn:
                due = await store.claim_due(conn, self.clock(), lease=lease, limit=CLAIM_BATCH)
            if not due:
                return stored
            for row in due:
                stored += await self._try(row)

    async def _try(self, row: Due) -> int:
        try:
            data = await self._download(row.source_url)
            fmt = audio_format(data)
        except (DownloadFailed, NotAudio) as err:
            permanent = isinstance(err, NotAudio) or (isinstance(err, DownloadFailed)
                                                      and err.permanent)
            await self._failed(row, str(err), permanent=permanent)
            return 0
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            if not await store.store_audio(conn, row.id, data, fmt, now):
                return 0  # given up or stored by another instance meanwhile
            await tell_if_ready(conn, row.id, self.rules(), now=now)
        log.info("voice_recording_stored", recording_id=row.id, bytes=len(data),
                 attempts=row.attempts)
        if self.metrics is not None:
            self.metrics.voice_recordings.labels(outcome="stored").inc()
        return 1

    async def _failed(self, row: Due, reason: str, *, permanent: bool) -> None:
        last = permanent or row.attempts >= self.settings.voice_download_attempts
        async with self.pool.acquire() as conn:
            if last:
                await store.give_up(conn, row.id, error=reason)
            else:
                wait = backoff(row.attempts, longest_retry(self.settings))
                await store.retry_later(conn, row.id, at=self.clock() + wait, error=reason)
        if last:
            log.error("voice_recording_given_up", recording_id=row.id, attempts=row.attempts,
                      reason=reason)
            if self.metrics is not None:
                self.metrics.voice_recordings.labels(outcome="failed").inc()
        else:
            log.warning("voice_recording_retry", recording_id=row.id, attempts=row.attempts,
                        reason=reason)

    async def _download(self, url: str) -> bytes:
        limit = self.settings.voice_recording_max_bytes
        try:
            async with self._client().get(url, headers=self._auth()) as response:
                if response.status != 200:
                    raise DownloadFailed(f"the provider answered HTTP {response.status}")
                if (response.content_length or 0) > limit:
                    raise DownloadFailed(f"{response.content_length} bytes, over {limit}",
                                         permanent=True)
                data = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > limit:
                        raise DownloadFailed(f"more than {limit} bytes", permanent=True)
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DownloadFailed(f"{type(err).__name__}: {err}"[:300]) from None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
                total=self.settings.voice_download_timeout))
        return self._session

    def _auth(self) -> dict[str, str]:
        """HTTP basic with the account SID and the auth token, as the provider's media wants,
        or with GATEWAY_VOICE_DOWNLOAD_PASSWORD when set (SignalWire: the Project ID and an
        API token, the auth token being the Signing Key there)."""
        token = self.settings.voice_download_password or self.settings.voice_auth_token
        sid = self.settings.voice_account_sid
        if sid is None or token is None:
            return {}
        return {"Authorization": aiohttp.encode_basic_auth(sid, token.get_secret_value())}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _seconds(raw: str | None) -> int | None:
    value = (raw or "").strip()
    return int(value) if value.isdigit() and len(value) < 7 else None
