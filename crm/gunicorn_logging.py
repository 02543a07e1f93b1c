"""gunicorn's logger, with the rules of crm.log_safety: the access log's request line, path,
query and referer keep the parameter names but no value, headers that carry a secret are not
written, and the error log's lines go through the same filter as Django's.

gunicorn.conf.py (read by gunicorn from the directory it starts in) names it as
`logger_class`, so `gunicorn crm.wsgi ... --access-logfile -` logs this way."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from crm.log_safety import HIDDEN, RequestValuesHidden, query_hidden, text_hidden

# Request headers whose value is never written, whatever the access log's format asks.
SECRET_HEADERS = ("secret", "token", "cookie", "authorization", "key", "hash")


class ValuesHiddenLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RequestValuesHidden) for f in log.filters):
                log.addFilter(RequestValuesHidden())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if not isinstance(value, str):
                continue
            if name == "q" or name == "{query_string}e":
                atoms[name] = query_hidden(value)
            elif name.endswith(("}i", "}e")) and any(word in name for word in SECRET_HEADERS):
                atoms[name] = HIDDEN
            else:
                atoms[name] = text_hidden(value)
        return atoms
