"""/open/v5/users… routes (docs/api.md). No trailing slashes.

A member id runs up to the next '/', so '.', '-', '@' and '+' are part of it. Any other segment
is taken as an id, so a malformed one is a 404 in the API's error shape, except `search`, which
is POST /open/v5/users/search (another module)."""

from django.urls import re_path

from contacts.api import lists, users


class UsersCollectionView(lists.UserListView, users.UsersView):
    """/open/v5/users: GET lists and searches (lists module), POST creates a lead (users)."""

    permissions_by_method = {
        **lists.UserListView.permissions_by_method,
        **users.UsersView.permissions_by_method,
    }


app_name = "users-api"

_ID = r"(?P<id>(?!search$)[^/@][^/]*)"
_MEMBER_ID = r"@(?P<memberId>[^/]+)"

urlpatterns = [
    re_path(r"^users$", UsersCollectionView.as_view(), name="users"),
    re_path(rf"^users/{_MEMBER_ID}$", users.MemberView.as_view(), name="member"),
    re_path(rf"^users/{_ID}$", users.UserView.as_view(), name="user"),
    re_path(rf"^users/{_ID}/block$", users.UserBlockView.as_view(), name="block"),
    re_path(rf"^users/{_ID}/touch$", users.UserTouchView.as_view(), name="touch"),
    re_path(rf"^users/{_ID}/reveal$", users.UserRevealView.as_view(), name="reveal"),
    re_path(rf"^users/{_ID}/events$", users.UserEventsView.as_view(), name="events"),
]
