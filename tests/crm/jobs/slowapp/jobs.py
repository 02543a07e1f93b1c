"""Found by crm.jobs's autodiscovery, as an app's own jobs.py is: the test kind, in place of
the export kind (which no app handles yet), in the worker processes the tests start."""

from crm.jobs.kinds import job_kind_register
from crm.jobs.models import JobKind
from crm.permissions import Permission
from tests.crm.jobs.kinds import Counting

job_kind_register(
    kind=JobKind.EXPORT, handler=Counting(), permission=Permission.GENERAL_SETTINGS, replace=True
)
