"""How the OpenAPI schema describes the project's own authentication.

drf-spectacular registers an extension when its class is defined, so this
module is imported with the URLs, before any schema is generated.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <jwt>`, the access token from `POST /api/token/`."""

    target_class = "realtime.tokens.BearerTokenAuthentication"
    name = "accessToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return dict(
            build_bearer_security_scheme_object(
                header_name="Authorization", token_prefix="Bearer", bearer_format="JWT"
            )
        )
