"""/open/v5/user-tags (docs/api.md)."""

from django.urls import path

from contacts.api import tags

app_name = "user_tags"
urlpatterns = [
    path("user-tags", tags.UserTagListView.as_view(), name="user-tags"),
    path("user-tags/<str:name>", tags.UserTagDetailView.as_view(), name="user-tag"),
]
