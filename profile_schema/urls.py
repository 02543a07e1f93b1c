"""/open/v5/profile-fields (docs/api.md)."""

from django.urls import path

from profile_schema import api

app_name = "profile_schema"
urlpatterns = [
    path("profile-fields", api.ProfileFieldListView.as_view(), name="profile-fields"),
    path("profile-fields/<str:key>", api.ProfileFieldDetailView.as_view(), name="profile-field"),
]
