from django.urls import path

from contacts.api import lists

urlpatterns = [
    path("users/search", lists.UserSearchView.as_view(), name="users-search"),
    path("segments", lists.SegmentListView.as_view(), name="segments"),
    path("segments/<str:id>", lists.SegmentDetailView.as_view(), name="segment"),
    path("segments/<str:id>/users", lists.SegmentUsersView.as_view(), name="segment-users"),
]
