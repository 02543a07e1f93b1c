"""Reads for a viewer, one module per model: contacts, tags, events, segments, activity.

Every query of these models made for someone (the API, the admin, the desk) is scoped to the
viewer's channel here (docs/ARCHITECTURE.md rule 1); a masking policy hangs on these readers.
"""
