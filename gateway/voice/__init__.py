"""The voice line (docs/voice.md): a programmable-voice provider's webhooks.

The provider (Twilio, or a TeXML-compatible one) calls /voice/... at each
step of a call and obeys the XML answered: the greeting, the keypad menu
(hear the candidate's message, support the campaign, ask a question) and
each branch. This package holds the line's work beside the web layer's thin
routes (gateway/web/voice_webhooks.py): the signature check, the XML, each
step done once whatever the provider replays, the candidate's message, the
SMS a caller asks for and their keypress opt-in, and the recorded questions
with the queue that downloads them.
"""
