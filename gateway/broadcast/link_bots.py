"""Who follows a short link without being a person: link previews and prefetchers.

Why this matters: when a text with a link arrives, the phone (iMessage), the
chat app it is forwarded to (WhatsApp, Telegram, Slack, Discord, Skype,
LinkedIn, Facebook Messenger, X/Twitter) or a mail scanner fetches the page to
draw a preview card, often before anyone has read the text. Counted as clicks,
they would make every broadcast look read; so they are redirected like anyone
(the preview still works) and counted apart, never as people.

How one is told apart: by its User-Agent (the names below, each one the
fetcher's documented or long-observed agent string, matched case-insensitively
as a substring), by the generic words crawlers use for themselves ("bot",
"crawler", "spider", "preview"), by a request with no User-Agent at all, and by
a HEAD request (a person's browser GETs; a prefetcher checking the address
HEADs). Apple's preview fetcher is the tricky one: iMessage fetches with a
browser-like agent naming "facebookexternalhit" and "Twitterbot" together,
which the list catches.

Erring side: a person whose browser claims to be a bot is not counted; a bot
that claims to be Safari is. The list is data, here only: one place to add a
name when a campaign sees a new previewer in its logs.
"""

from __future__ import annotations

from typing import Final

PREVIEW_AGENTS: Final[tuple[str, ...]] = (
    "facebookexternalhit",  # Facebook, Messenger, Instagram; also Apple's iMessage preview
    "facebookcatalog",
    "meta-externalagent",
    "twitterbot",  # X/Twitter cards; also in Apple's preview agent
    "slackbot",  # Slack's unfurler ("Slackbot-LinkExpanding")
    "slack-imgproxy",
    "whatsapp",  # WhatsApp's preview ("WhatsApp/2.x")
    "telegrambot",  # Telegram ("TelegramBot (like TwitterBot)")
    "discordbot",
    "skypeuripreview",  # Skype and Teams ("SkypeUriPreview Preview/0.5")
    "linkedinbot",
    "googlebot",
    "google-inspectiontool",
    "googleother",
    "google-read-aloud",
    "apis-google",
    "mediapartners-google",
    "adsbot-google",
    "feedfetcher-google",
    "google page renderer",
    "applebot",  # Apple's crawler
    "bingpreview",
    "bingbot",
    "redditbot",
    "pinterest",
    "embedly",
    "snapchat",
    "viber",
    "signal",  # Signal's link preview
    "iframely",
    "outbrain",
    "vkshare",
    "w3c_validator",
    "python-requests",  # scripts and link checkers, not people
    "curl/",
    "wget/",
    "go-http-client",
    "okhttp",
    "headlesschrome",
)
# The words crawlers and previewers use for themselves.
GENERIC_WORDS: Final[tuple[str, ...]] = ("bot", "crawler", "spider", "preview", "fetcher",
                                         "scanner", "validator")
# Methods only a machine uses to follow a link.
MACHINE_METHODS: Final[frozenset[str]] = frozenset({"HEAD", "OPTIONS"})


def is_machine(user_agent: str | None, method: str) -> bool:
    """True for a link preview, prefetcher or script: redirect it, do not count it."""
    if method.upper() in MACHINE_METHODS:
        return True
    agent = (user_agent or "").strip().lower()
    if not agent:
        return True
    return any(name in agent for name in PREVIEW_AGENTS) or any(
        word in agent for word in GENERIC_WORDS)
