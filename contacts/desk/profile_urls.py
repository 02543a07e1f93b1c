"""Routes of the desk's profile pages, under /desk/<channel id>/ (contacts.desk.urls)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
