"""Background jobs: long work on a channel's data, run by workers in batches.

models (the job record), kinds (the registry apps add their handlers to), services and
selectors (start, cancel, resume; reads), runner (claim, batches, heartbeat), tasks (the Django
tasks), periodic (the self-queueing periodic task and its hooks), api/urls/serializers
(/open/v5/jobs), admin, and the `db_worker` command."""
