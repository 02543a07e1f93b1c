"""The segment admin: a stored filter is shown as the manager may see it, its values on a key
masked for them masked, and a condition left as it was shown keeps its stored values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.html import format_html

from contacts.models import Segment
from contacts.services import segments
from crm.admin_scoping import ChannelListFilter
from crm.errors import InvalidInput
from crm.json_input import JSONInputFormField
from crm.permissions import Permission
from crm.selectors import viewer_for_user
from masking.admin_policy import MaskedAdmin, page_policies
from masking.maskers import MASK_CHAR
from masking.policy import MaskingPolicy, Visibility

GROUPS = ("and", "or")


def _conditions(node: Any) -> Iterator[dict[str, Any]]:
    """The conditions of a filter tree, in order."""
    if not isinstance(node, dict):
        return
    for group in GROUPS:
        if isinstance(node.get(group), list):
            for child in node[group]:
                yield from _conditions(child)
            return
    if "key" in node:
        yield node


def _signature(condition: Any) -> str:
    return json.dumps(condition, sort_keys=True, ensure_ascii=False)


def filter_unmasked(submitted: Any, *, stored: Any, policy: MaskingPolicy) -> Any:
    """SUBMITTED (a filter edited from the one POLICY showed of STORED) with each condition
    left as it was shown given back its stored values. A condition still holding a masked
    value on a key the manager may not see is refused: its values are to be typed in full."""
    shown: dict[str, list[dict[str, Any]]] = {}
    for condition in _conditions(stored):
        masked = policy.filter_object(condition)
        if masked != condition:
            shown.setdefault(_signature(masked), []).append(condition)

    def restored(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        for group in GROUPS:
            if isinstance(node.get(group), list):
                return {**node, group: [restored(child) for child in node[group]]}
        originals = shown.get(_signature(node))
        if originals:
            return originals.pop(0)
        _masked_values_refuse(node, policy)
        return node

    return restored(submitted)


def _masked_values_refuse(condition: dict[str, Any], policy: MaskingPolicy) -> None:
    key = condition.get("key")
    values = condition.get("values")
    if not isinstance(key, str) or policy.visibility(key) is not Visibility.MASKED:
        return
    if isinstance(values, list) and any(isinstance(v, str) and MASK_CHAR in v for v in values):
        raise ValidationError(
            f"{key} is masked for you: leave its condition as it was shown, or type whole "
            "values (a value with * is a masked one)."
        )


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["channel", "name", "filter"]
        field_classes = {"filter": JSONInputFormField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored_filter = self.instance.filter if self.instance.pk else None
        if self.stored_filter is not None and "filter" in self.fields:
            self.initial["filter"] = self._policy().filter_object(self.stored_filter)

    def _policy(self) -> MaskingPolicy:
        return page_policies().of(self.instance.channel)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        channel = data.get("channel") or getattr(self.instance, "channel", None)
        if channel is None or "filter" not in data:
            return data
        viewer = viewer_for_user(user=self.request_user, channel=channel)  # type: ignore[attr-defined]
        if viewer is None:
            raise ValidationError({"channel": "Choose a channel you belong to."})
        if self.stored_filter is not None:
            try:
                data["filter"] = filter_unmasked(
                    data["filter"], stored=self.stored_filter, policy=self._policy()
                )
            except ValidationError as refused:
                raise ValidationError({"filter": refused.messages}) from refused
        try:
            segments.segment_filter_check(
                viewer=viewer, filter=data["filter"], segment_id=self.instance.pk
            )
        except InvalidInput as error:
            raise ValidationError({"filter": [p.message for p in error.problems]}) from error
        return data


@admin.register(Segment)
class SegmentAdmin(MaskedAdmin):
    view_permission = Permission.CONTACTS_VIEW
    edit_permission = Permission.CONTACTS_EDIT
    delete_permission = Permission.CONTACTS_EDIT
    form = SegmentForm
    list_display = ["name", "channel", "created_by", "updated_at"]
    list_filter = [ChannelListFilter]
    list_select_related = ["channel", "created_by"]
    search_fields = ["name"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and not self.has_change_permission(request, obj):
            return ["channel", "name", "filter_shown", "created_by", "updated_at"]
        return ["channel", "name", "filter"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["channel"] if obj else []

    @admin.display(description="filter")
    def filter_shown(self, obj: Segment) -> str:
        shown = self.policy_of(obj).filter_object(obj.filter)
        return format_html("<pre>{}</pre>", json.dumps(shown, ensure_ascii=False, indent=2))

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.request_user = request.user  # type: ignore[attr-defined]
        return form

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        # The filter is checked against the channel's fields like every other filter.
        viewer = viewer_for_user(user=request.user, channel=obj.channel)
        if viewer is None:  # the form refuses a channel the manager is not in; this never runs
            raise PermissionDenied("You do not belong to this segment's channel.")
        data = form.cleaned_data
        if change:
            segments.segment_update(
                viewer=viewer, segment=obj, name=data["name"], filter=data["filter"]
            )
        else:
            obj.pk = segments.segment_create(
                viewer=viewer, name=data["name"], filter=data["filter"]
            ).pk
