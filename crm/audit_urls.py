"""/open/v5/audit-events route."""

from django.urls import path

from crm import audit_api

app_name = "audit"
urlpatterns = [
    path("audit-events", audit_api.AuditEventsView.as_view(), name="audit-events"),
]
