"""Routes of the desk's list pages, under /desk/<channel id>/ (contacts.desk.urls)."""

from django.urls import URLPattern, path

from contacts.desk.list import contact_list_view

urlpatterns: list[URLPattern] = [
    path("contacts/", contact_list_view, name="contacts"),
]
