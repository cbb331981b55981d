"""Notifications to staff by e-mail: the lead's notice when a question
passes its SLA unclaimed (sla_breach.py), and the experts' periodic digest of new
questions in their themes (digest.py, on the schedule of schedule.py).

Why a package of its own: both are decided from the contact centre's state
(questions, users, keywords.yaml's themes) and both only queue mail in the
transaction that decides them (staff_mail.py); neither sends anything.
docs/contact-centre.md ("Notifications") is the reader's page.
"""
