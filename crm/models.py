"""The channel (tenant), its managers, roles and API credentials, and its integrations."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from crm.permissions import Permission

MAX_ROLES_PER_CHANNEL = 20


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as 'Asia/Seoul'.")


hex_secret_validator = RegexValidator(
    r"^[0-9a-f]{64}$", "The member-hash secret is 64 lowercase hexadecimal characters."
)


class Plan(models.TextChoices):
    FREE = "free", "Free"
    PAID = "paid", "Paid"


class Channel(models.Model):
    """A workspace: the tenant every other row belongs to."""

    name = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="Asia/Seoul", validators=[validate_timezone])
    plan = models.CharField(max_length=8, choices=Plan.choices, default=Plan.FREE)
    plugin_key = models.CharField(max_length=64, unique=True, help_text="Public key of the SDK.")
    member_hash_secret = models.CharField(max_length=64, validators=[hex_secret_validator])
    require_member_hash = models.BooleanField(
        default=True,
        help_text="Refuse SDK boots with a memberId but no valid memberHash. Turned off, anyone "
        "holding the public plugin key may boot as any member id: such a boot reads nothing of "
        "the member and may only fill empty profile keys, but it is not proof of who calls.",
    )
    audit_retention_days = models.PositiveIntegerField(
        default=365,
        validators=[MinValueValidator(30), MaxValueValidator(3650)],
        help_text="Days the audit log keeps a record (30 to 3650); older ones are purged.",
    )
    phone_number = models.CharField(
        max_length=20, blank=True, help_text="The issued phone number (E.164), for phone calls."
    )
    kakao_channel_id = models.CharField(
        max_length=64, blank=True, help_text="The connected Kakao channel's id (empty: none)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The schema version of the channel's field definitions as the request read it (not a
    # column: the database keeps it in profile_schema_version, see profile_schema.cache). None
    # until read; writes refresh it under the schema lock.
    profile_schema_version: int | None = None

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # The audit log's trigger lets a record go once it is older than this: never sooner
            # than 30 days, whatever writes the row.
            models.CheckConstraint(
                condition=models.Q(audit_retention_days__gte=30, audit_retention_days__lte=3650),
                name="channel_audit_retention_bounded",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def kakao_connected(self) -> bool:
        return bool(self.kakao_channel_id)


class KakaoTemplateKind(models.TextChoices):
    ALIMTALK = "alimtalk", "AlimTalk"
    BRAND_MESSAGE = "brandMessage", "Brand message"


class KakaoTemplate(models.Model):
    """A message template registered with the connected Kakao channel."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="kakao_templates")
    code = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=KakaoTemplateKind.choices)
    name = models.CharField(max_length=100)
    body = models.TextField(help_text="Text with #{variable} placeholders.")
    approved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "code"], name="kakao_template_code_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Role(models.Model):
    """A named set of permissions in one channel (at most 20 per channel)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=50)
    permissions = ArrayField(
        models.CharField(max_length=32, choices=Permission.choices), default=list, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "name"], name="role_name_per_channel"),
            models.CheckConstraint(
                condition=models.Q(permissions__contained_by=Permission.values),
                name="role_permissions_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name


def role_channel_check(*, role: Role, channel_id: int) -> None:
    """Refuse ROLE in another channel than its own: managers and credentials act only with a
    role of the channel they belong to."""
    if role.channel_id != channel_id:
        raise ValidationError({"role": "The role must belong to the same channel."})


class Membership(models.Model):
    """A manager's place in a channel: exactly one role."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.ForeignKey(Role, on_delete=models.RESTRICT, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "user"], name="membership_once_per_channel")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.channel} as {self.role}"

    def clean(self) -> None:
        if self.role_id and self.channel_id:
            role_channel_check(role=self.role, channel_id=self.channel_id)


class ApiCredential(models.Model):
    """An access key + secret for the REST API; acts with its role's permissions."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="credentials")
    role = models.ForeignKey(Role, on_delete=models.RESTRICT, related_name="credentials")
    name = models.CharField(max_length=100, blank=True)
    access_key = models.CharField(max_length=64, unique=True)
    # SHA-256 of a 256-bit random secret: a slow password hash adds nothing for such a secret
    # and would cost every API request; compared in constant time.
    secret_hash = models.CharField(max_length=64)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "API credential"
        ordering = ["channel_id", "-created_at"]
        indexes = [models.Index(fields=["channel", "created_at"], name="credential_channel_idx")]

    def __str__(self) -> str:
        return self.name or self.access_key

    def clean(self) -> None:
        if self.role_id and self.channel_id:
            role_channel_check(role=self.role, channel_id=self.channel_id)


class RateLimitWindow(models.Model):
    """Hits of one rate-limit bucket in one fixed window (UNLOGGED: losing it is harmless)."""

    bucket = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bucket", "window_start"], name="ratelimit_window")
        ]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window_start_idx")]

    def __str__(self) -> str:
        return f"{self.bucket} @ {self.window_start}: {self.hits}"


class AuditAction(models.TextChoices):
    """What an audit record says happened (docs/api.md, `GET /open/v5/audit-events`)."""

    REVEAL = "reveal", "Revealed a masked value"
    EXPORT = "export", "Exported contacts"
    IMPORT = "import", "Imported contacts"
    BULK = "bulk", "Bulk action"
    USER_BLOCK = "user.block", "Blocked a contact"
    USER_UNBLOCK = "user.unblock", "Unblocked a contact"
    USER_DELETE = "user.delete", "Deleted a contact"
    FIELD_CREATE = "field.create", "Created a profile field"
    FIELD_CHANGE = "field.change", "Changed a profile field"
    FIELD_DELETE = "field.delete", "Deleted a profile field"
    MASKING_CHANGE = "masking.change", "Changed masking or sensitivity"
    ROLE_CHANGE = "role.change", "Changed a role"
    MANAGER_GRANT = "manager.grant", "Granted a manager access"
    MANAGER_REVOKE = "manager.revoke", "Revoked a manager's access"
    CREDENTIAL_GRANT = "credential.grant", "Granted an API credential"
    CREDENTIAL_REVOKE = "credential.revoke", "Revoked an API credential"
    WEBHOOK_CHANGE = "webhook.change", "Changed a webhook"
    CHANNEL_CHANGE = "channel.change", "Changed the channel's settings"


class ActorType(models.TextChoices):
    MANAGER = "manager", "Manager"
    CREDENTIAL = "credential", "API credential"
    SYSTEM = "system", "System"


class AuditEvent(models.Model):
    """One record of the audit log (SPEC.md section 10): who did what to which contact or keys,
    when and from where, and never a value nor the contact's name.

    Channel, actor and target are plain ids, not foreign keys, so that deleting a manager, a
    credential, a contact or a channel keeps the records (the actor's name is kept as it was).
    Append-only, enforced by PostgreSQL (migration crm 0003): a trigger refuses every UPDATE, and
    every DELETE of a record younger than its channel's retention; `crm.audit.audit_purge` is the
    one path that deletes."""

    channel_id = models.BigIntegerField()
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    target_user_id = models.BigIntegerField(null=True, blank=True)
    keys = ArrayField(models.CharField(max_length=80), default=list, blank=True)
    # What the action was about beyond keys, never a value: counts, a job id, a field's type,
    # the permissions a role gained or lost, an export's reason.
    detail = models.JSONField(default=dict, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["channel_id", "-created_at", "-id"], name="audit_channel_time_idx"
            ),
            models.Index(fields=["created_at"], name="audit_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_name or self.actor_type}"
