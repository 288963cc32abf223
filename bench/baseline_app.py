"""The service benchmark's baseline: a minimal Flask application behind the same server.

It parses the same form posts the form service gets and answers a small page, so the
difference between the two runs is what the service does (sessions, CSRF, drafts,
validation, the git commit), not Flask, gunicorn or the network stack.
"""

from __future__ import annotations

from flask import Flask, request

app = Flask(__name__)

PAGE = (
    '<html><body><form><input type="hidden" name="csrf_token" value="{token}"></form></body></html>'
)


@app.route("/echo", methods=["GET", "POST"])
def echo() -> tuple[str, int]:
    if request.method == "POST":
        fields = request.form.to_dict()
        return f"{len(fields)}", 200
    return PAGE.format(token="baseline"), 200
