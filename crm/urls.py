"""URL map: the desk, the Django admin, the REST API docs."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from contacts.sdk import views as sdk_views
from crm import views

desk_patterns: tuple[list[URLPattern | URLResolver], str] = (
    [
        path("", views.desk_home, name="home"),
        path(
            "login/",
            auth_views.LoginView.as_view(
                template_name="crm/login.html", redirect_authenticated_user=True
            ),
            name="login",
        ),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
        path("<int:channel_id>/", include("contacts.desk.urls")),
    ],
    "desk",
)

# A database connection lost outside a view is a 503 too (crm.outage); other errors, Django's 500.
handler500 = "crm.outage.server_error"

# /open/v5: each app's endpoints (docs/api.md), one include per module.
open_v5_patterns: list[URLPattern | URLResolver] = [
    # open/v5 includes
    path("", include("profile_schema.urls")),
    path("", include("contacts.api.tags_urls")),
    path("", include("contacts.api.users_urls")),
    path("", include("contacts.api.lists_urls")),
    path("", include("conversations.urls")),
    path("", include("crm.jobs.urls")),
    path("", include("crm.audit_urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="desk:home", permanent=False)),
    path("desk/", include(desk_patterns)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("sdk/v1/boot.js", sdk_views.boot_script, name="sdk-boot-js"),
    path("sdk/v1/", include("contacts.sdk.urls")),
    path("sdk/demo/", sdk_views.sdk_demo, name="sdk-demo"),
    path("open/v5/", include(open_v5_patterns)),
    path("open/v5/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("open/v5/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", views.healthz, name="healthz"),
]
