"""Who is in the demo's story and what they text: deterministic, made-up, clearly fictional.

Numbers are from ranges set aside for fiction: 555-0101 to 555-0199 in a
dozen US area codes (one per time zone or state the quiet hours treat
apart), and 06 39 98 xx xx in France (ARCEP's range for films and books).
E-mail addresses are at example.org. The same seed always gives the same
people, texts and days, so a second run finds everyone already there.

Each person is a short script of texts, each at an offset from the story's
start (three to four weeks before the seed runs), written as a supporter
would: JOIN and Y, a zip, a gender, sometimes VOLUNTEER (ending with a first
name), WHERE or a gift, sometimes STOP. The ensemble program's members also
ask questions in several themes. This module only plans; seed.py plays the plan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

SEED: Final = 20261106
RISE_CODE: Final = "12345"
ENSEMBLE_CODE: Final = "38200"
STORY_DAYS: Final = 24  # the story runs over these days before the seed

# (area code, zips there): Eastern, Florida (restricted quiet hours), Central,
# Mountain, Arizona (no DST), Pacific, Alaska, Hawaii.
US_AREAS: Final = (
    ("212", ("10001", "10025", "10011")), ("718", ("11201", "11215")),
    ("404", ("30303", "30308")), ("305", ("33130", "33139")),
    ("312", ("60614", "60622")), ("214", ("75201",)),
    ("303", ("80202", "80205")), ("602", ("85004",)),
    ("213", ("90012", "90026")), ("206", ("98101",)),
    ("907", ("99501",)), ("808", ("96813",)),
)
PER_AREA: Final = 22
FR_CITIES: Final = {"75011": "Paris", "75018": "Paris", "69003": "Lyon", "13001": "Marseille",
                    "33000": "Bordeaux", "31000": "Toulouse", "59000": "Lille",
                    "44000": "Nantes"}
FR_POSTAL: Final = tuple(FR_CITIES)
FR_FIRST: Final = ("Camille", "Lucas", "Manon", "Hugo", "Chloé", "Louis", "Emma", "Jules")
FR_LAST: Final = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand")
FR_MEMBERS: Final = 90
# The first names volunteers give at the end of the volunteer dialog (chosen by
# their place in the cast, not by the story's random draws, which stay as they were).
US_FIRST: Final = ("Jordan", "Maria", "DeShawn", "Emily", "Jon", "Priya", "Carlos", "Aiyana",
                   "Kenji", "Grace", "Malik", "Sofia", "Tyler", "Leilani", "Hannah")
VOLUNTEER_EMAIL_DOMAIN: Final = "example.org"

# Questions texted to the ensemble program, by the theme their words pick.
SMS_QUESTIONS: Final = (
    "Que proposez-vous contre les déserts médicaux dans ma région ?",
    "Combien d'élèves par classe au collège avec votre programme ?",
    "Que ferez-vous pour les loyers trop chers à Paris ?",
    "Quelle est votre position sur le nucléaire et les éoliennes ?",
    "Comment comptez-vous faire baisser le chômage des jeunes ?",
    "Y aura-t-il plus de trains régionaux et de lignes de bus ?",
    "Que proposez-vous pour la sécurité dans les transports le soir ?",
    "Que pensez-vous de la place de la France dans l'Union européenne ?",
    "Les impôts vont-ils augmenter pour les petites entreprises ?",
    "Quels moyens pour les tribunaux et la justice de proximité ?",
)

# (theme chosen on the form, name, address, message): the public form /write.
WRITTEN_QUESTIONS: Final = (
    ("logement", "Camille Martin", "camille.martin@example.org",
     "Bonjour, je cherche un logement social depuis trois ans à Lyon. Que prévoyez-vous ?"),
    ("transports", "Louis Bernard", "louis.bernard@example.org",
     "La ligne de bus de mon village a été supprimée. Allez-vous la rétablir ?"),
    ("education", "Inès Petit", "ines.petit@example.org",
     "Ma fille n'a plus de professeur de maths depuis la rentrée. Que comptez-vous faire ?"),
    ("emploi", "Hugo Robert", "hugo.robert@example.org",
     "Je suis au chômage depuis un an malgré ma formation. Quelles aides proposez-vous ?"),
    ("general", "Léa Richard", "lea.richard@example.org",
     "Comment puis-je devenir bénévole pour la campagne dans ma ville ?"),
)


@dataclass(frozen=True, slots=True)
class Text:
    at: timedelta  # after the story's start
    body: str
    bill: bool = False  # the billing service's pass follows (a gift confirmed, details given)


@dataclass(frozen=True, slots=True)
class Person:
    msisdn: str
    shortcode: str
    texts: tuple[Text, ...]
    saved_card: bool = False  # saved a card on an earlier Checkout page


@dataclass(slots=True)
class _Script:
    rng: random.Random
    at: timedelta
    texts: list[Text] = field(default_factory=list)

    def say(self, body: str, *, after_minutes: tuple[int, int] = (1, 3), bill: bool = False
            ) -> None:
        self.at += timedelta(minutes=self.rng.randint(*after_minutes))
        self.texts.append(Text(self.at, body, bill))

    def answer(self, body: str) -> None:
        """A reply two minutes after the last text, drawing nothing from the story's dice."""
        self.at += timedelta(minutes=2)
        self.texts.append(Text(self.at, body))

    def later(self, days: tuple[int, int]) -> None:
        self.at += timedelta(days=self.rng.randint(*days), hours=self.rng.randint(0, 5))


def _start(rng: random.Random) -> timedelta:
    """Sign-ups grow towards the present (day 0 is the story's start), in waking hours."""
    day = min(STORY_DAYS - 4, int(rng.triangular(0, STORY_DAYS - 4, STORY_DAYS - 6)))
    return timedelta(days=day, hours=rng.randint(13, 23), minutes=rng.randint(0, 59))


def rise_people(rng: random.Random) -> list[Person]:
    people: list[Person] = []
    for area, zips in US_AREAS:
        for n in range(1, PER_AREA + 1):
            msisdn = f"+1{area}55501{n:02d}"
            script = _Script(rng, _start(rng))
            card = rng.random() < 0.10
            script.say(rng.choice(("JOIN", "JOIN", "JOIN", "RISE", "SIGNUP", "Join")),
                       after_minutes=(0, 0))
            if rng.random() < 0.9:
                script.say(rng.choice(("Y", "Y", "yes", "Y")))
                roll = rng.random()
                script.say(rng.choice(zips) if roll < 0.8 else "SKIP" if roll < 0.9
                           else rng.choice(rng.choice(US_AREAS)[1]))
                script.say(rng.choice(("M", "F", "F", "OTHER", "SKIP")))
                if rng.random() < 0.15:
                    script.later((0, 3))
                    script.say("VOLUNTEER")
                    script.say(rng.choice(("CANVASS", "PHONEBANK", "HOST")))
                    script.say(str(rng.randint(2, 12)))
                    script.say(f"supporter.{area}.{n:02d}@{VOLUNTEER_EMAIL_DOMAIN}")
                    script.answer(US_FIRST[(len(people) + n) % len(US_FIRST)])
                if rng.random() < 0.12:
                    script.later((0, 2))
                    script.say(rng.choice(("WHERE", f"WHERE {rng.choice(zips)}", "EVENTS")))
                if card or rng.random() < 0.12:
                    script.later((1, 4))
                    script.say(f"GIVE {rng.choice((5, 10)) if not card else 10}")
                    script.say("YES", bill=True)
                if rng.random() < 0.07:
                    script.later((1, 3))
                    script.say(rng.choice(("STOP", "stop", "Unsubscribe")))
            people.append(Person(msisdn, RISE_CODE, tuple(script.texts), card))
    return people


def ensemble_people(rng: random.Random) -> list[Person]:
    people = []
    for n in range(1, FR_MEMBERS + 1):
        msisdn = f"+336399800{n:02d}" if n < 100 else f"+33639980{n:03d}"
        script = _Script(rng, _start(rng))
        card = rng.random() < 0.12
        script.say(rng.choice(("ADHERER", "ADHERER", "Adhérer", "ADHESION")), after_minutes=(0, 0))
        postal = rng.choice(FR_POSTAL)
        script.say(postal if rng.random() < 0.85 else "PASSER")
        if rng.random() < 0.3:
            script.later((0, 4))
            script.say(rng.choice(SMS_QUESTIONS))
        if rng.random() < 0.1:
            script.later((0, 3))
            script.say(rng.choice(("COMITE", "AGENDA")))
        if card:
            script.later((1, 4))
            script.say(f"DON {rng.choice((10, 20, 50))}")
            script.say("OUI", bill=True)  # a French gift asks the donor's name and address
            script.say(f"{rng.choice(FR_FIRST)} {rng.choice(FR_LAST)}")
            script.say(f"{rng.randint(1, 90)} rue de la République, {postal} {FR_CITIES[postal]}",
                       bill=True)
        if rng.random() < 0.06:
            script.later((1, 3))
            script.say("STOP")
        people.append(Person(msisdn, ENSEMBLE_CODE, tuple(script.texts), card))
    return people


def cast() -> list[Person]:
    """Everyone in the story; the same list every time."""
    rng = random.Random(SEED)
    return rise_people(rng) + ensemble_people(rng)
