"""The desk's contact pages (server-rendered, htmx for partial updates): the contact list, the
customer profile, the blocked customers; all under /desk/<channel id>/ (contacts.desk.urls)."""
