from django.urls import path

from contacts.sdk import api

app_name = "sdk"
urlpatterns = [
    path("boot", api.BootView.as_view(), name="boot"),
    path("user", api.UserView.as_view(), name="user"),
    path("events", api.EventsView.as_view(), name="events"),
    path("tags", api.TagsView.as_view(), name="tags"),
]
