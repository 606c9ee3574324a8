from rapport.api.responses import error_response


class JsonMethodNotAllowedMiddleware:
    """Ninja answers a wrong method with Django's bare 405; give it the API's error shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 405 and request.path.startswith("/api/") \
                and not response.get("Content-Type", "").startswith("application/json"):
            allowed = response.get("Allow", "")
            json_response = error_response(405, "method_not_allowed",
                                           f"{request.method} is not allowed here; use {allowed}.")
            json_response["Allow"] = allowed
            return json_response
        return response
