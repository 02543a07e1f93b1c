"""Admin for channels, roles, managers, API credentials and Kakao templates."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest

from crm import services
from crm.admin_scoping import ChannelListFilter, ChannelScopedAdmin
from crm.models import ApiCredential, Channel, KakaoTemplate, Membership, Role
from crm.permissions import MANAGE_ACCESS, Permission
from crm.provisioning import channel_provision

admin.site.site_header = "Contacts CRM administration"
admin.site.site_title = "Contacts CRM admin"


@admin.register(Channel)
class ChannelAdmin(ChannelScopedAdmin):
    channel_path = "pk"
    view_permission = Permission.GENERAL_SETTINGS
    list_display = ["name", "plan", "timezone", "plugin_key", "require_member_hash"]
    list_filter = ["plan"]
    search_fields = ["name", "=plugin_key"]
    readonly_fields = ["plugin_key", "member_hash_secret", "created_at", "updated_at"]
    fields = [
        "name",
        "plan",
        "timezone",
        "plugin_key",
        "member_hash_secret",
        "require_member_hash",
        "phone_number",
        "kakao_channel_id",
        "created_at",
        "updated_at",
    ]

    def object_channel(self, obj: Any) -> Channel:
        assert isinstance(obj, Channel)
        return obj

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A channel is created with its roles and presets by `manage.py channel_create`.
        return bool(getattr(request.user, "is_superuser", False))

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
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
            services.role_update(role=obj, name=data["name"], permissions=data["permissions"])
        else:
            created = services.role_create(
                channel=data["channel"], name=data["name"], permissions=data["permissions"]
            )
            obj.pk = created.pk

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
            services.membership_role_set(membership=obj, role=data["role"])
            return
        membership = services.manager_create(
            channel=data["channel"],
            email=data["email"],
            password=data["password"] or "",
            role=data["role"],
        )
        obj.pk, obj.user_id = membership.pk, membership.user_id


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
        if change:
            data = form.cleaned_data
            services.credential_update(
                credential=obj, name=data["name"], role=data["role"], revoked_at=data["revoked_at"]
            )
            return
        issued = services.credential_create(channel=obj.channel, role=obj.role, name=obj.name)
        obj.pk = issued.credential.pk
        self.message_user(
            request,
            f"Access key {issued.credential.access_key}, secret {issued.secret}: "
            "copy the secret now, it is not shown again.",
            messages.WARNING,
        )


@admin.register(KakaoTemplate)
class KakaoTemplateAdmin(ChannelScopedAdmin):
    view_permission = Permission.GENERAL_SETTINGS
    delete_permission = Permission.GENERAL_SETTINGS
    list_display = ["name", "code", "kind", "approved", "channel"]
    list_filter = [ChannelListFilter, "kind", "approved"]
    search_fields = ["name", "=code"]
