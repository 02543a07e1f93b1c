"""/open/v5/jobs routes."""

from django.urls import path

from crm.jobs import api

app_name = "jobs"
urlpatterns = [
    path("jobs/<str:id>", api.JobView.as_view(), name="job"),
    path("jobs/<str:id>/cancel", api.JobCancelView.as_view(), name="cancel"),
]
