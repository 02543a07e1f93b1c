"""Routes of the desk's profile pages, under /desk/<channel id>/ (contacts.desk.urls)."""

from django.urls import path

from contacts.desk.blocked import blocked_list_view
from contacts.desk.profile import contact_block_view, contact_profile_view, contact_unblock_view

urlpatterns = [
    path("contacts/<int:contact_id>/", contact_profile_view, name="contact"),
    path("contacts/<int:contact_id>/block/", contact_block_view, name="contact-block"),
    path("contacts/<int:contact_id>/unblock/", contact_unblock_view, name="contact-unblock"),
    path("blocked/", blocked_list_view, name="blocked"),
]
