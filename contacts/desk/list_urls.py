"""Routes of the desk's list pages, under /desk/<channel id>/ (contacts.desk.urls)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
