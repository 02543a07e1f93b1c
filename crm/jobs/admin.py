"""The jobs in the Django admin: read-only, scoped to the manager's channels; cancel, resume;
and where the other admins send a manager who started a job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from crm.admin_lookups import DeclaredLookupsOnly
from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.errors import Conflict
from crm.jobs.models import Job
from crm.jobs.services import job_cancel, job_resume
from crm.permissions import Viewer
from crm.selectors import viewer_for_user

# Any role of a channel may follow its jobs (as any credential may through the API).
ANY_ROLE = "any_role"


def job_started_redirect(request: HttpRequest, jobs: list[Job], what: str) -> HttpResponseRedirect:
    """Tell the manager that WHAT runs as JOBS, and show them the job's page (the list of the
    jobs, for several), where the progress and the outcome show."""
    numbers = ", ".join(f"#{job.pk}" for job in jobs)
    messages.success(request, f"{what}: job {numbers}; the progress and outcome show here.")
    if len(jobs) == 1:
        return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[jobs[0].pk]))
    ids = ",".join(str(job.pk) for job in jobs)
    return HttpResponseRedirect(f"{reverse('admin:jobs_job_changelist')}?id__in={ids}")


@admin.register(Job)
class JobAdmin(DeclaredLookupsOnly, ChannelScopedAdmin):
    view_permission = ANY_ROLE
    extra_lookups = ("id__in",)  # job_started_redirect lists the jobs it started
    list_display = [
        "id",
        "kind",
        "state",
        "progress",
        "skipped",
        "error_message",
        "channel",
        "finished_at",
    ]
    list_filter = [ChannelListFilter, "state", "kind"]
    list_select_related = ["channel"]
    actions = ["cancel", "resume"]
    fields = (
        "channel",
        "kind",
        "state",
        "progress",
        "skipped",
        "skipped_reasons",
        "error_message",
        "params",
        "position",
        "requested_by",
        "attempts",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "cancel_requested",
    )
    readonly_fields = fields

    def channel_ids(self, request: HttpRequest, permission: str) -> list[int] | None:
        if permission != ANY_ROLE:
            return super().channel_ids(request, permission)
        super().channel_ids(request, permission)  # reads the user's roles once per request
        held: dict[int, frozenset[str]] | None = request._crm_permissions  # type: ignore[attr-defined]
        return None if held is None else sorted(held)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        # Cancel and resume: each job's kind names the permission, checked job by job.
        return self.has_view_permission(request)

    @admin.display(description="progress")
    def progress(self, job: Job) -> str:
        return f"{job.done:,} / {job.total:,}" if job.total is not None else f"{job.done:,}"

    @admin.display(description="requested by")
    def requested_by(self, job: Job) -> str:
        who = job.requested_by_user or job.requested_by_credential
        return str(who) if who else "—"

    @admin.display(description="error")
    def error_message(self, job: Job) -> str:
        return f"{job.error['type']}: {job.error['message']}" if job.error else "—"

    @admin.action(description="Cancel the selected jobs", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        done = self._each(request, queryset, job_cancel)
        if done:
            self.message_user(
                request, f"Cancelled {done} job(s); a running job stops after its batch."
            )

    @admin.action(description="Resume the selected jobs", permissions=["cancel"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        done = self._each(request, queryset, job_resume)
        if done:
            self.message_user(request, f"Queued {done} job(s) again, from their last batch.")

    def _each(
        self, request: HttpRequest, queryset: QuerySet[Job], service: Callable[..., Job]
    ) -> int:
        """SERVICE on each job, as the manager is in its channel; each refusal told apart."""
        done = 0
        for job in queryset.select_related("channel"):
            viewer = viewer_for_user(user=request.user, channel=job.channel)
            try:
                if viewer is None:
                    raise PermissionDenied("You do not belong to its channel.")
                service(job=job, viewer=viewer)
                done += 1
            except (PermissionDenied, Conflict) as refusal:
                self.message_user(request, f"#{job.pk}: {refusal}", messages.WARNING)
        return done


class DeletedByJobs(ChannelScopedAdmin):
    """An admin whose deletes start a job for each object (its `delete_job_start`), after
    Django's confirmation page (the delete page and the delete action alike), then show the
    jobs' page; each refusal (a permission, a job in the way) is told, the others go on."""

    deleting = "Deleting {names}"  # what the message says is under way

    def delete_job_start(self, obj: Any, viewer: Viewer) -> Job:
        raise NotImplementedError

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)
        if "delete_selected" in actions:  # the manager may delete: the jobs' action instead
            _, name, description = actions["delete_selected"]
            actions[name] = (DeletedByJobs.delete_selected_by_jobs, name, description)
        return actions

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None or request.method != "POST":
            return super().delete_view(request, object_id, extra_context)
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        return self._jobs_start(request, [obj]) or HttpResponseRedirect(request.path)

    def delete_selected_by_jobs(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        if not request.POST.get("post"):
            return delete_selected(self, request, queryset)  # the confirmation page
        return self._jobs_start(request, list(queryset.select_related(self.channel_path)))

    def _jobs_start(self, request: HttpRequest, objects: list[Any]) -> HttpResponse | None:
        jobs, started = [], []
        for obj in objects:
            viewer = viewer_for_user(user=request.user, channel=self.object_channel(obj))
            try:
                if viewer is None:
                    raise PermissionDenied("You do not belong to its channel.")
                jobs.append(self.delete_job_start(obj, viewer))
                started.append(obj)
            except (PermissionDenied, Conflict) as refusal:
                self.message_user(request, f"{obj}: {refusal}", messages.ERROR)
        if not jobs:
            return None
        self.log_deletions(request, started)  # type: ignore[arg-type]  # iterated only
        what = self.deleting.format(names=", ".join(str(obj) for obj in started))
        return job_started_redirect(request, jobs, what)
