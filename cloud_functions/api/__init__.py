"""The api function: the HTTP API of the portal (FastAPI, served on Lambda through Mangum).

- ``handler.py`` — the Lambda entry point (``handler``), wiring only.
- ``app.py`` — ``create_app()``: routers, middleware, error responses.
- ``deps.py`` — typed dependencies: settings, one transaction per request, the bucket, the caller.
- ``routes/`` — one router per resource; thin: HTTP in, one ``crud`` call, a ``*Public`` model out.
- ``crud/`` — reads and writes per resource, with the audit log.
- ``rules.py`` — plain rules: timetable overlap, a room's classes of a day, CSV cells.
- ``schemas.py`` — ``*Create`` / ``*Update`` / ``*Public`` bodies with bounded, patterned fields.
- ``auth.py``, ``errors.py``, ``middleware.py``, ``photos.py`` — tokens and roles, error types and
  their status codes, body limit and headers, enrollment photos in the bucket.
- ``tokens.py`` — ``python -m cloud_functions.api.tokens`` makes a token and its settings entry.
"""
