"""The admin of contacts, tags, events and segments: scoped to the manager's channels, each
contact's values shown through the masking policy of its channel."""

from contacts.admin import catalogue, contact, segments

__all__ = ["catalogue", "contact", "segments"]
