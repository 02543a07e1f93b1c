"""Writes for contacts, one module per job.

profile (create, update, upsert, delete, block, touch, opt-outs), boot (the SDK's boot and its
session tokens), merge (a device's contact into its member), events, tags (the catalogue and a
contact's tags), segments, activity (the monthly-active ledger). values holds the checks every
write's values pass; change and atomic turn a checked change into one SQL statement.
"""
