from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from analytics.metrics_view import metrics_view
from config.admin_search import brand_admin_site, global_search
from config.health import healthz, readyz

api_v1 = [
    path("auth/token/", TokenObtainPairView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("", include("journeys.api.urls")),
    path("", include("workspace.api.urls")),
]

brand_admin_site(admin.site)

urlpatterns = [
    path("admin/search/", admin.site.admin_view(global_search), name="admin-search"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/v1/journey/", include("rules.api.urls")),
    path("api/v1/stages/", include("stages.api.urls")),
    path("api/v1/analytics/", include("analytics.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[]), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", permission_classes=[]), name="redoc"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]

# Under /api/ errors answer JSON; elsewhere Django's pages.
handler400 = "journeys.api.http.handler400"
handler403 = "journeys.api.http.handler403"
handler404 = "journeys.api.http.handler404"
handler500 = "journeys.api.http.handler500"
