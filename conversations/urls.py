"""/open/v5 endpoints of conversations (included by crm.urls under open/v5/)."""

from django.urls import path

from conversations import api

app_name = "conversations"
urlpatterns = [
    path("users/<str:id>/user-chats", api.UserChatsView.as_view(), name="user-chats"),
]
