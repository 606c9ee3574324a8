"""The WSGI application `rapport bench` serves: Rapport with its two hello-world yardsticks.

- `/__hello`: a Django view returning "ok", through the same middleware, URL resolver
  and server as every endpoint (rapport.bench.urls). This is the "hello-world view" the
  throughput targets are a share of.
- `/__wsgi`: a bare WSGI callable answering before Django, to show what the server and
  the load client cost on their own.

The app's own URLconf gains nothing: only the benchmark's server loads these.
"""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "rapport.bench.settings"

from rapport.wsgi import application as rapport_application

_BODY = b"ok"
_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(_BODY)))]


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/__wsgi":
        start_response("200 OK", list(_HEADERS))
        return [_BODY]
    return rapport_application(environ, start_response)
