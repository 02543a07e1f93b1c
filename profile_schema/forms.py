"""Admin forms for profile field definitions: each writes through its service, nothing else.

A model form would validate the model itself (unique key, constraints) before the service sees
the input, with a different notion of the key ("age" vs "profile.age"). These forms skip that
step: once their fields are clean they call the service, and turn its ValidationError into form
errors. The admin's change view runs inside a transaction, so nothing is kept when a later step
fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from profile_schema import services
from profile_schema.models import FieldType, ProfileField


class ServiceModelForm(forms.ModelForm):
    """A model form whose write is one service call, made once its fields are clean."""

    saved: ProfileField | None = None

    def write(self, data: dict[str, Any]) -> ProfileField:
        raise NotImplementedError

    def _post_clean(self) -> None:
        # Replaces model validation: the service checks everything and writes.
        if not self.errors:
            self._call(lambda: self.write(self.cleaned_data))

    def _call(self, write: Callable[[], ProfileField]) -> None:
        try:
            self.saved = write()
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else NON_FIELD_ERRORS, messages)


class ProfileFieldAddForm(ServiceModelForm):
    key = forms.CharField(
        max_length=72,
        help_text="camelCase letters and digits, e.g. birthDate (stored as profile.birthDate). "
        "It cannot be changed later; it must equal the key your site sends.",
    )

    class Meta:
        model = ProfileField
        fields = ["channel", "key", "name", "type", "sensitive", "masking", "shown_in_profile"]

    def write(self, data: dict[str, Any]) -> ProfileField:
        return services.profile_field_create(
            channel=data["channel"],
            key=data["key"],
            name=data["name"],
            type=data["type"],
            sensitive=data["sensitive"],
            masking=data["masking"],
            shown_in_profile=data["shown_in_profile"],
        )


class ProfileFieldChangeForm(ServiceModelForm):
    class Meta:
        model = ProfileField
        fields = ["name", "sensitive", "masking", "shown_in_profile", "order"]

    def write(self, data: dict[str, Any]) -> ProfileField:
        return services.profile_field_update(
            field=self.instance,
            name=data.get("name"),  # absent for built-in fields: read-only there
            order=data["order"],
            sensitive=data["sensitive"],
            masking=data["masking"],
            shown_in_profile=data["shown_in_profile"],
        )


class FieldTypeChangeForm(forms.Form):
    type = forms.ChoiceField(choices=FieldType.choices, help_text="The new data type.")

    def __init__(self, *args: Any, field: ProfileField, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice = self.fields["type"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [c for c in FieldType.choices if c[0] != field.type]
