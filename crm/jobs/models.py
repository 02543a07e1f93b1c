"""The job record: one per background job, read by the API, the admin and the desk."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from crm.models import ApiCredential, Channel


class JobKind(models.TextChoices):
    TAG_DELETE = "tagDelete", "Tag delete"
    FIELD_DELETE = "fieldDelete", "Field delete"
    TYPE_CHANGE = "typeChange", "Type change"
    BULK = "bulk", "Bulk action"
    IMPORT = "import", "Import"
    EXPORT = "export", "Export"
    INDEX_BUILD = "indexBuild", "Index build"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)


class Job(models.Model):
    """Long work on a channel's data, done in batches by a worker: its progress and outcome."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    params = models.JSONField(default=dict, blank=True, help_text="What the job works on.")
    position = models.JSONField(
        null=True, blank=True, help_text="How far it got: the cursor after its last batch."
    )
    batches_done = models.BooleanField(
        default=False, help_text="Every batch ran; only the last step (finish) is left."
    )
    done = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)
    skipped_reasons = models.JSONField(default=dict, blank=True, help_text="{code: count}")
    total = models.BigIntegerField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True, help_text="The API error shape.")
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_credential = models.ForeignKey(
        ApiCredential, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancel_requested = models.BooleanField(default=False)
    # The claim of the runner working on it now: every write of a batch's progress names it,
    # so a runner that lost the job (queued again after going silent) can commit nothing.
    run_token = models.UUIDField(null=True, blank=True, editable=False)
    task_id = models.CharField(max_length=64, blank=True, help_text="The queued task's id.")
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker took it up.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["channel", "-created_at", "-id"], name="job_channel_created_idx"),
            # The periodic scan for silent jobs reads only the few unfinished ones.
            models.Index(
                fields=["heartbeat_at"],
                condition=Q(state__in=ACTIVE_STATES),
                name="job_active_heartbeat_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=JobKind.values), name="job_kind_known"),
            models.CheckConstraint(condition=Q(state__in=JobState.values), name="job_state_known"),
            models.CheckConstraint(
                condition=Q(done__gte=0, skipped__gte=0)
                & (Q(total__isnull=True) | Q(total__gte=0)),
                name="job_counts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(state__in=FINISHED_STATES, finished_at__isnull=False)
                | (~Q(state__in=FINISHED_STATES) & Q(finished_at__isnull=True)),
                name="job_finished_when_over",
            ),
            models.CheckConstraint(
                condition=Q(state=JobState.RUNNING, run_token__isnull=False)
                | (~Q(state=JobState.RUNNING) & Q(run_token__isnull=True)),
                name="job_claimed_while_running",
            ),
            models.CheckConstraint(
                condition=Q(requested_by_user__isnull=True)
                | Q(requested_by_credential__isnull=True),
                name="job_one_requester",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


class PeriodicSchedule(models.Model):
    """A task queued at most once at a time, by name: the run it queued last (the periodic
    task's, and those of `queue.task_enqueue_once`) and, for the periodic task, when each of
    its hooks last ran."""

    name = models.CharField(max_length=32, primary_key=True)
    task_id = models.CharField(max_length=64, blank=True)
    ran_at = models.DateTimeField(null=True, blank=True)
    hooks_ran_at = models.JSONField(default=dict, blank=True, help_text="{hook: ISO time}")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: next task {self.task_id or 'none'}"
