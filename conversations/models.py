"""Conversations with a contact, their messages, and the outbox that delivers them outside."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from contacts.models import Contact
from crm.models import ApiCredential, Channel, KakaoTemplate

MESSAGE_MAX_LENGTH = 10_000


class Medium(models.TextChoices):
    CHAT = "chat", "In-app chat"
    VOICE_MEET = "voiceMeet", "Voice meet"
    VIDEO_MEET = "videoMeet", "Video meet"
    PHONE = "phone", "Phone call"
    KAKAO_ALIMTALK = "kakaoAlimtalk", "Kakao AlimTalk"
    KAKAO_BRAND_MESSAGE = "kakaoBrandMessage", "Kakao brand message"


KAKAO_MEDIA = (Medium.KAKAO_ALIMTALK, Medium.KAKAO_BRAND_MESSAGE)


class ConversationState(models.TextChoices):
    OPENED = "opened", "Opened"
    SNOOZED = "snoozed", "Snoozed"
    CLOSED = "closed", "Closed"


class StarterType(models.TextChoices):
    MANAGER = "manager", "Manager"
    API = "api", "API credential"


class Conversation(models.Model):
    """A conversation with one contact over one medium, started by a manager or an API client."""

    # Foreign keys without an index of their own: every index here leads with channel_id
    # (ARCHITECTURE rule 1); the partial indexes below serve the SET NULL of a deleted starter.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="conversations", db_index=False
    )
    medium = models.CharField(max_length=20, choices=Medium.choices)
    state = models.CharField(
        max_length=8, choices=ConversationState.choices, default=ConversationState.OPENED
    )
    started_by_type = models.CharField(max_length=8, choices=StarterType.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    started_by_credential = models.ForeignKey(
        ApiCredential,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    kakao_template = models.ForeignKey(
        KakaoTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    kakao_variables = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(medium__in=Medium.values), name="conversation_medium_known"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=ConversationState.values),
                name="conversation_state_known",
            ),
            models.CheckConstraint(
                condition=models.Q(state=ConversationState.CLOSED, closed_at__isnull=False)
                | (~models.Q(state=ConversationState.CLOSED) & models.Q(closed_at__isnull=True)),
                name="conversation_closed_at_iff_closed",
            ),
            # A deleted starter leaves both empty; a recorded one matches the type.
            models.CheckConstraint(
                condition=models.Q(
                    started_by_type=StarterType.MANAGER, started_by_credential__isnull=True
                )
                | models.Q(started_by_type=StarterType.API, started_by__isnull=True),
                name="conversation_starter_matches_type",
            ),
            models.CheckConstraint(
                condition=models.Q(kakao_template__isnull=True) | models.Q(medium__in=KAKAO_MEDIA),
                name="conversation_template_only_for_kakao",
            ),
        ]
        indexes = [
            models.Index(
                fields=["channel", "contact", "-created_at", "-id"],
                name="conversation_contact_time_idx",
            ),
            models.Index(
                fields=["channel", "started_by"],
                condition=models.Q(started_by__isnull=False),
                name="conversation_started_by_idx",
            ),
            models.Index(
                fields=["channel", "started_by_credential"],
                condition=models.Q(started_by_credential__isnull=False),
                name="conversation_credential_idx",
            ),
            models.Index(
                fields=["channel", "kakao_template"],
                condition=models.Q(kakao_template__isnull=False),
                name="conversation_template_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{Medium(self.medium).label} with contact #{self.contact_id}"


class AuthorKind(models.TextChoices):
    MANAGER = "manager", "Manager"
    CUSTOMER = "customer", "Customer"
    SYSTEM = "system", "System"


class Message(models.Model):
    """One message of a conversation; the earliest one is the conversation's first message."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    author_kind = models.CharField(max_length=8, choices=AuthorKind.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    plain_text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("plain_text"), MESSAGE_MAX_LENGTH)
                & ~models.Q(plain_text=""),
                name="message_text_1_to_10000_chars",
            ),
            models.CheckConstraint(
                condition=models.Q(author_kind=AuthorKind.MANAGER)
                | models.Q(author_user__isnull=True),
                name="message_author_user_only_for_managers",
            ),
        ]
        indexes = [
            models.Index(
                fields=["channel", "conversation", "created_at", "id"],
                name="message_conversation_time_idx",
            ),
            models.Index(
                fields=["channel", "author_user"],
                condition=models.Q(author_user__isnull=False),
                name="message_author_user_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.plain_text[:50]


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboxMessage(models.Model):
    """A message waiting to leave for the outside world (ARCHITECTURE rule 9), at most once."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="outbox", db_index=False
    )
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="outbox", db_index=False
    )
    medium = models.CharField(max_length=20, choices=Medium.choices)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outbox message"
        ordering = ["-created_at", "-id"]
        constraints = [
            # One delivery per message: a retried start or a re-run worker sends nothing twice.
            models.UniqueConstraint(fields=["channel", "message"], name="outbox_once_per_message"),
            models.CheckConstraint(
                condition=~models.Q(status=OutboxStatus.SENT) | models.Q(sent_at__isnull=False),
                name="outbox_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["channel", "conversation"], name="outbox_conversation_idx"),
            # The delivery workers' queue spans every channel: the one index not led by
            # channel_id, partial so it holds only the rows still to send.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(status=OutboxStatus.PENDING),
                name="outbox_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.medium} #{self.message_id}: {self.status}"
