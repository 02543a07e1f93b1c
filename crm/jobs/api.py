"""/open/v5/jobs/{id}: read a job of the channel, and cancel it; `job_accepted` is the 202
answer of every endpoint that starts one."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import query_check, refusals
from crm.api_auth import OpenApiView
from crm.jobs.models import Job
from crm.jobs.selectors import job_get
from crm.jobs.serializers import JobEnvelopeSerializer, job_object
from crm.jobs.services import job_cancel

TAGS = ["jobs"]
ID = OpenApiParameter("id", str, OpenApiParameter.PATH, description="The job's id.")
JOB_ACCEPTED = {
    202: OpenApiResponse(
        JobEnvelopeSerializer,
        description="Accepted: the work runs as a job; `GET /open/v5/jobs/{id}` follows it.",
    )
}


def job_accepted(job: Job) -> Response:
    """The answer of an endpoint that started JOB: 202 Accepted with the job object."""
    return Response({"job": job_object(job)}, status=status.HTTP_202_ACCEPTED)


class JobView(OpenApiView):
    permissions_by_method = {"GET": None}  # any credential or manager of the channel

    @extend_schema(
        operation_id="jobs_get",
        parameters=[ID],
        responses={200: JobEnvelopeSerializer, **refusals(400, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, id: str) -> Response:
        """A job of the channel: its state, progress and outcome."""
        query_check(request)
        return Response({"job": job_object(job_get(viewer=self.viewer, job_id=id))})


class JobCancelView(OpenApiView):
    permissions_by_method = {"POST": None}  # the job's kind names the permission (the service)

    @extend_schema(
        operation_id="jobs_cancel",
        parameters=[ID],
        request=None,
        responses={200: JobEnvelopeSerializer, **refusals(400, 404, 409)},
        tags=TAGS,
    )
    def post(self, request: Request, id: str) -> Response:
        """Cancel a job: a queued one at once, a running one after its current batch; needs the
        permission that starts a job of its kind. A finished job is a 409."""
        query_check(request)
        job = job_cancel(job=job_get(viewer=self.viewer, job_id=id), viewer=self.viewer)
        return Response({"job": job_object(job)})
