"""What staff can do, as functions the API, the pages and the CLI all call.

Why a layer of its own: a page and its API route must check, audit and
refuse identically, and a command-line tool must not go through HTTP
handlers to get the same behaviour. Each function here takes a pool or a
connection, the actor (web/auth.py `Principal` is one), and the values it
needs (rules and time included, as gateway/broadcast/service.py does), and
raises `errors.ServiceError` naming what to fix. It never imports the web
layer; the web layer turns its errors into HTTP answers (web/errors.py).
"""
