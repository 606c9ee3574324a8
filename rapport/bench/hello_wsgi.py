"""Rapport's WSGI application plus `/__hello`, a plain 200 "ok" served by the same server.

`rapport bench` runs gunicorn on this module so the hello-world yardstick shares the
server, workers and process with the real endpoints; it adds no URL to the app itself.
"""

from rapport.wsgi import application as rapport_application

_BODY = b"ok"
_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(_BODY)))]


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/__hello":
        start_response("200 OK", list(_HEADERS))
        return [_BODY]
    return rapport_application(environ, start_response)
