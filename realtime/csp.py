"""Content-Security-Policy: one header, from the CONTENT_SECURITY_POLICY setting.

Django 5.2 has no CSP of its own. Every page here, the admin and the API docs
included, loads its scripts and styles from /static/, so the default policy
allows no inline script, no inline style and nothing from another site.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds the site's policy to every response that does not set one itself.

    A MiddlewareMixin, so that it runs on the event loop under ASGI as
    Django's own middleware do.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and HEADER not in response.headers:
            response.headers[HEADER] = policy
        return response
