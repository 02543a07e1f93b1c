"""gunicorn's settings for this project, read from the directory gunicorn starts in.

The access and error logs leave query values, member ids and quoted row values out
(crm.gunicorn_logging; docs/operations.md, "Logs and error reports")."""

logger_class = "crm.gunicorn_logging.ValuesHiddenLogger"
