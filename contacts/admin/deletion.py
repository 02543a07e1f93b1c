"""What deleting contacts takes with them, counted (the admin's delete confirmation)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import models

from contacts.models import Contact


def contacts_deletion_summary(contacts: Sequence[Contact]) -> dict[str, int]:
    """How many CONTACTS, and how many rows of each kind held on them, a delete removes: one
    count per kind, never the rows themselves (a message's text, an event's properties)."""
    ids = [contact.pk for contact in contacts]
    counts = {str(Contact._meta.verbose_name_plural): len(ids)}
    for relation in Contact._meta.related_objects:
        if relation.on_delete is not models.CASCADE or relation.many_to_many:
            continue
        related = relation.related_model
        assert isinstance(related, type)
        held = related._base_manager.filter(**{f"{relation.field.name}__in": ids}).count()
        if held:
            counts[str(related._meta.verbose_name_plural)] = held
    return counts
