"""Plain words for every engine event kind (`contact_events.name`), beside the kinds.

A page shows `keyword_matched` as "Texted a keyword" through the `plain`
filter (`{{ name | plain("event") }}`); the French is in the gettext catalog.
tests/test_plain_words.py fails when a kind in `EngineEvent`, or a name the
pipeline writes, has no words here.
"""

from __future__ import annotations

from typing import Final

from gateway.plain_words import N_, Words

EVENT_WORDS: Final[Words] = {
    "opt_in_requested": N_("Asked to join; confirmation requested"),
    "opt_in_confirmed": N_("Joined the list"),
    "opted_out": N_("Opted out"),
    "resubscribed": N_("Joined the list again"),
    "keyword_matched": N_("Texted a keyword"),
    "unmatched": N_("Texted something we did not recognize"),
    "help_sent": N_("Help message sent"),
    "stop_hint_sent": N_("Reminded how to stop"),
    "opt_in_repeated": N_("Asked to join again (already on the list)"),
    "flood_suppressed": N_("Too many texts: replies paused"),
    "ignored_opted_out": N_("Texted after opting out (no reply)"),
    "compliance_reply_limited": N_("Help/stop reply held back (sent recently)"),
    "dialog_started": N_("Conversation started"),
    "dialog_completed": N_("Conversation completed"),
    "dialog_expired": N_("Conversation timed out"),
    "dialog_stopped": N_("Conversation stopped"),
    "dialog_interrupted": N_("Conversation interrupted by another keyword"),
    "step_skipped": N_("Question skipped"),
    "profile_updated": N_("Profile updated"),
    "donation_amount_asked": N_("Asked how much to give"),
    "donation_requested": N_("Gift requested"),
    "donation_confirmation_sent": N_("Gift confirmation sent"),
    "donation_confirmed": N_("Gift confirmed"),
    "donation_expired": N_("Gift not confirmed in time"),
    "donation_cancelled": N_("Gift cancelled"),
    "donation_yes_repeated": N_("Confirmed the gift again"),
    "donor_details_unreadable": N_("Donor details could not be read"),
    "donor_details_given": N_("Donor details given"),
    "knowledge_answered": N_("Answered from the knowledge base"),
    "knowledge_lookup": N_("Looked up in the knowledge base"),
    "theme_menu_sent": N_("Theme menu sent"),
    "theme_prompted": N_("Asked to choose a theme"),
    "question_asked": N_("Question asked"),
    "contact_tagged": N_("Tagged by a keyword"),
    # written by the pipeline (pipeline/decide.py) rather than by an engine decision
    "decision_failed": N_("Could not be handled (logged for the team)"),
    "unknown_shortcode": N_("Texted a short code this gateway does not run"),
}
