"""What the voice line says when keywords.yaml does not say it: the wording per language.

Why defaults: a campaign can switch the line on with nothing but a program
and a privacy charter, and hear a complete, correct menu in French or
English; `voice.<program>.texts.<fr|en>` replaces any of these, one key at a
time. The checker (voice_checks.py) validates a file's texts and these alike.

The spoken texts are read by the provider's speech synthesis, so they spell
things out: `{shortcode_digits}` says a short code digit by digit,
`{privacy_site}` the charter's site rather than its full address, and
`{frequency_spoken}` "up to 6 messages a month" rather than "msgs/mo".
`donation_link` is the one SMS among them (menu 2, then 1), and
`question_placeholder` the one experts read: a recorded question's text in
the inbox until the provider's transcription replaces it.
"""

from __future__ import annotations

from typing import Final, Literal

VoiceLanguage = Literal["fr", "en"]

# Names every text of `VoiceTexts`, in the order docs/voice.md lists them.
TEXT_NAMES: Final = (
    "greeting", "option_message", "option_support", "option_question", "no_input", "invalid",
    "goodbye", "message_intro", "no_message", "back_to_menu", "support_donate",
    "support_updates", "donation_sent", "opt_in_done", "opt_in_confirm", "already_subscribed",
    "opted_out", "theme_intro", "theme_choice", "theme_other", "record_prompt", "recorded",
    "recorded_withheld", "not_recorded", "donation_link", "question_placeholder",
)

_EN: Final = {
    "greeting": "Welcome to the {program} line. This call and any message you leave are "
                "recorded. Our privacy charter is on {privacy_site}.",
    "option_message": "To hear the candidate's message, press 1.",
    "option_support": "To support the campaign, press 2.",
    "option_question": "To ask a question, press 3.",
    "no_input": "We did not hear a choice.",
    "invalid": "That choice is not on the menu.",
    "goodbye": "Thank you for calling {program}. Goodbye.",
    "message_intro": "Here is the candidate's message.",
    "no_message": "There is no message from the candidate yet. Please call again soon.",
    "back_to_menu": "Back to the main menu.",
    "support_donate": "To get a text message with the link to give, press 1.",
    "support_updates": "To get {program} text updates, {frequency_spoken}, press 2. Message "
                       "and data rates may apply. You can text STOP to {shortcode_digits} at "
                       "any time to stop them.",
    "donation_sent": "We have sent you a text message with the link. Thank you for your "
                     "support.",
    "opt_in_done": "You are signed up. A confirmation text is on its way.",
    "opt_in_confirm": "We have sent you a text message. Reply YES to it to confirm.",
    "already_subscribed": "You already get our text updates. Thank you.",
    "opted_out": "You asked us to stop texting you, so we will not text you now. To get our "
                 "texts again, text START to {shortcode_digits}.",
    "theme_intro": "What is your question about?",
    "theme_choice": "For {theme}, press {digit}.",
    "theme_other": "For anything else, press {digit}.",
    "record_prompt": "After the tone, ask your question about {theme}, in {max_seconds} "
                     "seconds at most, then press the pound key.",
    "recorded": "Thank you. Your question is with our experts, who will answer you by text "
                "message within {response_time}.",
    "recorded_withheld": "Thank you. Your question is with our experts. Your number is "
                         "hidden, so we cannot answer you directly.",
    "not_recorded": "We did not hear a question.",
    "donation_link": "{program}: thank you for calling! To give: {donation_url} "
                     "Reply STOP to opt out.",
    "question_placeholder": "(recorded question about {theme}, not transcribed yet: "
                            "listen to the recording)",
}

_FR: Final = {
    "greeting": "Bienvenue sur la ligne de {program}. Cet appel et les messages que vous "
                "laissez sont enregistrés. Notre charte de confidentialité est sur "
                "{privacy_site}.",
    "option_message": "Pour écouter le message du candidat, tapez 1.",
    "option_support": "Pour soutenir la campagne, tapez 2.",
    "option_question": "Pour poser une question, tapez 3.",
    "no_input": "Nous n'avons pas entendu de choix.",
    "invalid": "Ce choix n'existe pas.",
    "goodbye": "Merci d'avoir appelé {program}. Au revoir.",
    "message_intro": "Voici le message du candidat.",
    "no_message": "Le candidat n'a pas encore enregistré de message. Rappelez-nous bientôt.",
    "back_to_menu": "Retour au menu principal.",
    "support_donate": "Pour recevoir par SMS le lien pour faire un don, tapez 1.",
    "support_updates": "Pour recevoir les SMS de {program}, {frequency_spoken}, tapez 2. "
                       "Vous pourrez arrêter à tout moment en envoyant STOP au "
                       "{shortcode_digits}.",
    "donation_sent": "Nous vous avons envoyé un SMS avec le lien. Merci de votre soutien.",
    "opt_in_done": "C'est noté. Un SMS de confirmation est en route.",
    "opt_in_confirm": "Nous vous avons envoyé un SMS. Répondez OUI pour confirmer.",
    "already_subscribed": "Vous recevez déjà nos SMS. Merci.",
    "opted_out": "Vous nous avez demandé de ne plus vous écrire : nous ne vous enverrons pas "
                 "de SMS. Pour les recevoir à nouveau, envoyez START au {shortcode_digits}.",
    "theme_intro": "Quel est le thème de votre question ?",
    "theme_choice": "Pour {theme}, tapez {digit}.",
    "theme_other": "Pour un autre sujet, tapez {digit}.",
    "record_prompt": "Après le bip, posez votre question sur le thème {theme}, en "
                     "{max_seconds} secondes au plus, puis tapez dièse.",
    "recorded": "Merci. Votre question est transmise à nos experts, qui vous répondront par "
                "SMS sous {response_time}.",
    "recorded_withheld": "Merci. Votre question est transmise à nos experts. Votre numéro "
                         "est masqué : nous ne pourrons pas vous répondre directement.",
    "not_recorded": "Nous n'avons pas entendu de question.",
    "donation_link": "{program} : merci de votre appel ! Pour faire un don : {donation_url} "
                     "STOP au {shortcode}",
    "question_placeholder": "(question enregistrée sur le thème {theme}, pas encore "
                            "transcrite : écoutez l'enregistrement)",
}

DEFAULT_TEXTS: Final[dict[VoiceLanguage, dict[str, str]]] = {"en": _EN, "fr": _FR}
