"""HTTP routes: pages, the REST API under /api/, the admin, /healthz."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import schema  # noqa: F401  (registers the schema's authentication extensions)
from .api import TokenView, healthz
from .logins import LoginView

api_patterns: list[URLPattern | URLResolver] = [
    path("token/", TokenView.as_view(), name="token"),
    path("", include("chat.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("collab.api_urls")),
    path("", include("dashboards.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from a URL: the CSP allows no inline script.
    path("schema/ui/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include(api_patterns)),
    path("notifications/", include("notifications.urls")),
    path("docs/", include("collab.urls")),
    path("dashboards/", include("dashboards.urls")),
    path("", include("chat.urls")),
]
