"""``Authorization: Api-Key jo_<prefix>.<secret>`` authentication for other services."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from journeys.services.api_keys import api_key_authenticate

KEYWORD = "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Sets ``request.auth`` to the ``ApiKey``; the request acts as the key's user."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != KEYWORD:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Api-Key <key>'.")
        api_key = api_key_authenticate(raw_key=header[1])
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown, revoked or expired API key.")
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "journeys.api.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key jo_<prefix>.<secret>` (create keys in the admin).",
        }
