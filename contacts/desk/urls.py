"""/desk/<channel id>/…: the contact pages of one channel (included by crm.urls, namespace
"desk"). Each page's module keeps its own routes: list_urls (the contact list), profile_urls
(the customer profile, the blocked customers)."""

from django.urls import include, path

from contacts.desk.reveal import contact_value_reveal_view

urlpatterns = [
    path("", include("contacts.desk.list_urls")),
    path("", include("contacts.desk.profile_urls")),
    path(
        "contacts/<int:contact_id>/reveal/",
        contact_value_reveal_view,
        name="contact-reveal",
    ),
]
