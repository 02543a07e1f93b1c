from django.apps import AppConfig


class SlowAppConfig(AppConfig):
    """An app for the worker processes of the tests: its jobs.py registers the test kind."""

    name = "tests.crm.jobs.slowapp"
    label = "jobs_slowapp"
