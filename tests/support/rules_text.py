"""The smallest keywords.yaml that loads: one program, two keywords, one dialog.

Why a text and not the shipped file: a loader test changes one line of it
and expects one named problem; the shipped file has too much in it for a
changed line to be obviously the only thing wrong.
"""

from __future__ import annotations

import textwrap

BASE = textwrap.dedent(
    """\
    version: 1
    defaults:
      default_reply: "Text JOIN for news or HELP for help."
    fields: [first_name, zip]
    programs:
      news:
        name: News Alerts
        shortcodes: ["12345"]
        support: help@example.org
        frequency: Up to 4 msgs/mo
        privacy: {url: "https://example.org/privacy", version: "1"}
        disclosure_version: v1
        double_opt_in: true
        texts:
          confirm_request: "News Alerts: reply Y to confirm. Up to 4 msgs/mo."
          confirmation: >-
            {program}: you're in. {frequency}. Msg&data rates may apply.
            Reply HELP for help, STOP to cancel.
          help: "{program}: {support}. {frequency}. Msg&data rates may apply. STOP to cancel."
          opted_out: "News Alerts: unsubscribed, no more messages."
    keywords:
      - word: JOIN
        program: news
        action: opt_in
        dialog: profile
      - word: FACTS
        program: news
        action: reply
        reply: "Hi {first_name|there}!"
    dialogs:
      profile:
        program: news
        steps:
          - field: zip
            prompt: "Your ZIP?"
            validator: us_zip
    """
)
