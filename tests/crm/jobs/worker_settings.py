"""Settings of the worker processes the tests start: the project's, with the test kind's app."""

from crm.settings import *  # noqa: F403
from crm.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.crm.jobs.slowapp"]
