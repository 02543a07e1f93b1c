"""Admin forms for profile field definitions: they validate their fields, nothing else.

The admin writes through the services once a form is valid (profile_schema.admin) and shows a
service's refusal on the form (crm.admin_refusals). The model's checks that the services make
with their own messages (a key unique in its channel, where "age" and "profile.age" are one
key; partial masking for strings only) are left to them: the add form declares `key` and
`masking` itself, outside its model fields, so the model neither fills nor validates them.
"""

from __future__ import annotations

from copy import copy
from typing import Any

from django import forms

from profile_schema.models import FieldType, Masking, ProfileField


class ServiceModelForm(forms.ModelForm):
    """A model form whose write is a service call, made by the admin once it is valid."""

    def __init__(self, *args: Any, instance: ProfileField | None = None, **kwargs: Any) -> None:
        # Validation fills the form's instance with the input; the service must be given the
        # field as it is stored, so the form validates on a copy.
        self.stored = instance
        kwargs["instance"] = copy(instance)
        super().__init__(*args, **kwargs)


class ProfileFieldAddForm(ServiceModelForm):
    key = forms.CharField(
        max_length=72,
        help_text="camelCase letters and digits, e.g. birthDate (stored as profile.birthDate). "
        "It cannot be changed later; it must equal the key your site sends.",
    )
    masking = forms.ChoiceField(choices=Masking.choices, initial=Masking.FULL)

    class Meta:
        model = ProfileField
        fields = ["channel", "name", "type", "sensitive", "shown_in_profile"]  # and the above


class ProfileFieldChangeForm(ServiceModelForm):
    class Meta:
        model = ProfileField
        fields = ["name", "sensitive", "masking", "shown_in_profile", "order", "indexed"]


class FieldTypeChangeForm(forms.Form):
    type = forms.ChoiceField(choices=FieldType.choices, help_text="The new data type.")

    def __init__(self, *args: Any, field: ProfileField, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice = self.fields["type"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [c for c in FieldType.choices if c[0] != field.type]
