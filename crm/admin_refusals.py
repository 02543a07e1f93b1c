"""The admin shows a service's refusal on its form, as it shows the form's own errors.

The services alone check their rules (a role limit, a role of the same channel, the owner
role's permissions) and raise ValidationError; the admin's forms do not copy those checks. A
refusal raised while saving rolls the save back (the admin saves in one transaction) and the
same POST is answered again with the refusal added to the form, so the page shows it with what
was typed, never a server error."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse

REFUSAL_ATTRIBUTE = "_crm_admin_refusal"


class RefusalsOnTheForm(admin.ModelAdmin):
    """A ModelAdmin whose add and change pages show a service's ValidationError on the form."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as refusal:
            if request.method != "POST" or hasattr(request, REFUSAL_ATTRIBUTE):
                raise
            setattr(request, REFUSAL_ATTRIBUTE, refusal)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, REFUSAL_ATTRIBUTE, None)
        return form if refusal is None else form_refused(form, refusal)


def form_refused(
    form: type[forms.ModelForm[Any]], refusal: ValidationError
) -> type[forms.ModelForm[Any]]:
    """FORM, failing its validation with REFUSAL's messages, each on its field when the form
    has that field, else above the form."""

    class Refused(form):  # type: ignore[valid-type,misc]  # a class made at run time
        def clean(self) -> dict[str, Any]:
            data = super().clean() or {}
            if hasattr(refusal, "error_dict"):
                problems = list(refusal.message_dict.items())
            else:
                problems = [(NON_FIELD_ERRORS, refusal.messages)]
            for name, messages in problems:
                self.add_error(name if name in self.fields else None, messages)
            return data

    return Refused
