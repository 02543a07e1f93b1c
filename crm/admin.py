"""Admin for channels, roles, managers, API credentials and Kakao templates.

Every save and delete goes through crm.services, acting as the manager's viewer in the row's
channel, so each change of access or settings leaves its audit record."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from crm import services
from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.models import ApiCredential, Channel, KakaoTemplate, Membership, Role
from crm.permissions import MANAGE_ACCESS, Permission, Viewer
from crm.provisioning import channel_provision
from crm.selectors import viewer_for_user

admin.site.site_header = "Contacts CRM administration"
admin.site.site_title = "Contacts CRM admin"


def viewer_in(request: HttpRequest, channel: Channel) -> Viewer:
    """The viewer the admin's user is in CHANNEL: who the services record as acting."""
    viewer = viewer_for_user(user=request.user, channel=channel)
    if viewer is None:  # the admin's scoping lets no such user this far
        raise PermissionDenied("You do not belong to this channel.")
    return viewer


UNVERIFIED_BOOTS_WARNING = (
    "Without the member hash, anyone holding the public plugin key (it is in every page of "
    "your website) can boot the SDK as any member id. Such a boot reads nothing of the member "
    "and may only fill profile keys the member has no value for, but it proves nothing about "
    "who is calling."
)
UNVERIFIED_BOOTS_CONFIRM = "Tick \u201cAllow unverified boots\u201d to turn the member hash off."


CHANNEL_SETTINGS = [
    "name",
    "plan",
    "timezone",
    "require_member_hash",
    "audit_retention_days",
    "phone_number",
    "kakao_channel_id",
]


class ChannelForm(forms.ModelForm):
    confirm_unverified_boots = forms.BooleanField(
        required=False,
        label="Allow unverified boots",
        help_text="Needed to turn the member hash off: " + UNVERIFIED_BOOTS_WARNING,
    )

    class Meta:
        model = Channel
        fields = CHANNEL_SETTINGS

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        turned_off = self.initial.get("require_member_hash") and not data.get(
            "require_member_hash", True
        )
        if self.instance.pk and turned_off and not data.get("confirm_unverified_boots"):
            self.add_error(
                "require_member_hash", f"{UNVERIFIED_BOOTS_WARNING} {UNVERIFIED_BOOTS_CONFIRM}"
            )
        return data


@admin.register(Channel)
class ChannelAdmin(ChannelScopedAdmin):
    """A channel's settings. The audit log's retention is an owner's to change; turning the
    member hash off asks for a confirmation that says what it means."""

    channel_path = "pk"
    view_permission = Permission.GENERAL_SETTINGS
    form = ChannelForm
    list_display = ["name", "plan", "timezone", "plugin_key", "require_member_hash"]
    list_filter = ["plan"]
    search_fields = ["name", "=plugin_key"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "plan", "timezone", "require_member_hash"]
        # The member-hash secret signs any member id: whoever holds it boots as any member and
        # reads their data unmasked. Only owners (every permission) see it.
        secret = ["member_hash_secret"] if self._owner_of(request, obj) else []
        return [
            "name",
            "plan",
            "timezone",
            "plugin_key",
            *secret,
            "require_member_hash",
            "confirm_unverified_boots",
            "audit_retention_days",
            "phone_number",
            "kakao_channel_id",
            "created_at",
            "updated_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["plugin_key", "member_hash_secret", "created_at", "updated_at"]
        if obj is not None and not self._owner_of(request, obj):
            fixed.append("audit_retention_days")
        return fixed

    def _owner_of(self, request: HttpRequest, channel: Channel) -> bool:
        owned = self.channel_ids(request, MANAGE_ACCESS)
        return owned is None or channel.pk in owned

    def object_channel(self, obj: Any) -> Channel:
        assert isinstance(obj, Channel)
        return obj

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A channel is created with its roles and presets by `manage.py channel_create`.
        return bool(getattr(request.user, "is_superuser", False))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        channel = self.get_object(request, unquote(object_id))
        if request.method == "GET" and channel is not None and not channel.require_member_hash:
            warning = f"This channel accepts unverified boots. {UNVERIFIED_BOOTS_WARNING}"
            self.message_user(request, warning, messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        if change:
            data = form.cleaned_data
            changes = {name: data[name] for name in CHANNEL_SETTINGS if name in data}
            services.channel_settings_update(channel=obj, viewer=viewer_in(request, obj), **changes)
            return
        created = channel_provision(
            name=obj.name,
            plan=obj.plan,
            timezone=obj.timezone,
            require_member_hash=obj.require_member_hash,
        )
        obj.pk = created.pk
        obj.refresh_from_db()


class RoleForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(
        choices=Permission.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = Role
        fields = ["channel", "name", "permissions"]


@admin.register(Role)
class RoleAdmin(ChannelScopedAdmin):
    view_permission = MANAGE_ACCESS
    edit_permission = MANAGE_ACCESS
    delete_permission = MANAGE_ACCESS
    form = RoleForm
    list_display = ["name", "channel", "permission_list"]
    list_filter = [ChannelListFilter]

    @admin.display(description="permissions")
    def permission_list(self, obj: Role) -> str:
        return ", ".join(obj.permissions)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["channel"] if obj else []

    def save_model(self, request: HttpRequest, obj: Role, form: Any, change: bool) -> None:
        # The limit of roles per channel and the owner rules live in the services; a refusal
        # shows on the form (crm.admin_refusals).
        data = form.cleaned_data
        if change:
            services.role_update(
                role=obj,
                name=data["name"],
                permissions=data["permissions"],
                viewer=viewer_in(request, obj.channel),
            )
        else:
            created = services.role_create(
                channel=data["channel"],
                name=data["name"],
                permissions=data["permissions"],
                viewer=viewer_in(request, data["channel"]),
            )
            obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Role) -> None:
        services.role_delete(role=obj, viewer=viewer_in(request, obj.channel))

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Role]) -> None:
        for role in queryset.select_related("channel"):
            self.delete_model(request, role)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.name == services.OWNER_ROLE:
            return False
        return super().has_delete_permission(request, obj)


class MembershipAddForm(forms.ModelForm):
    email = forms.EmailField()
    password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        help_text="For a new login; an existing user keeps their password.",
    )

    class Meta:
        model = Membership
        fields = ["channel", "email", "password", "role"]


@admin.register(Membership)
class MembershipAdmin(ChannelScopedAdmin):
    view_permission = MANAGE_ACCESS
    edit_permission = MANAGE_ACCESS
    delete_permission = MANAGE_ACCESS
    list_display = ["user", "channel", "role", "created_at"]
    list_filter = [ChannelListFilter]
    search_fields = ["user__email"]
    list_select_related = ["user", "channel", "role"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = MembershipAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["channel", "user", "role"] if obj else ["channel", "email", "password", "role"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["channel", "user"] if obj else []

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        # A role of another channel is refused by the model's validation and the services.
        data = form.cleaned_data
        if change:
            viewer = viewer_in(request, obj.channel)
            services.membership_role_set(membership=obj, role=data["role"], viewer=viewer)
            return
        membership = services.manager_create(
            channel=data["channel"],
            email=data["email"],
            password=data["password"] or "",
            role=data["role"],
            viewer=viewer_in(request, data["channel"]),
        )
        obj.pk, obj.user_id = membership.pk, membership.user_id

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_delete(membership=obj, viewer=viewer_in(request, obj.channel))

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("channel", "user", "role"):
            self.delete_model(request, membership)


@admin.register(ApiCredential)
class ApiCredentialAdmin(ChannelScopedAdmin):
    view_permission = MANAGE_ACCESS
    edit_permission = MANAGE_ACCESS
    delete_permission = MANAGE_ACCESS
    list_display = ["name", "access_key", "channel", "role", "revoked_at", "last_used_at"]
    list_filter = [ChannelListFilter]
    list_select_related = ["channel", "role"]
    formfield_overrides = {models.CharField: {"strip": True}}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["channel", "access_key", "last_used_at", "created_at"] if obj else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj:
            return [
                "channel",
                "name",
                "role",
                "access_key",
                "revoked_at",
                "last_used_at",
                "created_at",
            ]
        return ["channel", "name", "role"]

    def save_model(self, request: HttpRequest, obj: ApiCredential, form: Any, change: bool) -> None:
        viewer = viewer_in(request, obj.channel)
        if change:
            data = form.cleaned_data
            services.credential_update(
                credential=obj,
                name=data["name"],
                role=data["role"],
                revoked_at=data["revoked_at"],
                viewer=viewer,
            )
            return
        issued = services.credential_create(
            channel=obj.channel, role=obj.role, name=obj.name, viewer=viewer
        )
        obj.pk = issued.credential.pk
        self.message_user(
            request,
            f"Access key {issued.credential.access_key}, secret {issued.secret}: "
            "copy the secret now, it is not shown again.",
            messages.WARNING,
        )

    def delete_model(self, request: HttpRequest, obj: ApiCredential) -> None:
        services.credential_delete(credential=obj, viewer=viewer_in(request, obj.channel))

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiCredential]) -> None:
        for credential in queryset.select_related("channel", "role"):
            self.delete_model(request, credential)


@admin.register(KakaoTemplate)
class KakaoTemplateAdmin(ChannelScopedAdmin):
    view_permission = Permission.GENERAL_SETTINGS
    delete_permission = Permission.GENERAL_SETTINGS
    list_display = ["name", "code", "kind", "approved", "channel"]
    list_filter = [ChannelListFilter, "kind", "approved"]
    search_fields = ["name", "=code"]


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class ManagerUserAdmin(UserAdmin):
    """Django's user admin (superusers only); deleting a login first revokes each of its
    memberships through the service, so every channel it belonged to keeps a record."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            memberships = Membership.objects.filter(user=obj).select_related("channel", "role")
            for membership in memberships:
                membership.user = obj  # the row being deleted, read once
                viewer = viewer_in(request, membership.channel)
                services.membership_delete(membership=membership, viewer=viewer)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for user in queryset:
                self.delete_model(request, user)
