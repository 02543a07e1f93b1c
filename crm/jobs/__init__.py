"""Background jobs: long work on a channel's data, run by workers in batches.

models (the job record), kinds (the registry apps add their handlers to), services and
selectors (start, cancel, resume; reads), runner (claim, batches, heartbeat; the `job_run`
task), queue (the database queue's rows), periodic (the self-queueing `periodic_run` task and
its hooks), api/urls/serializers (/open/v5/jobs), admin, and the `db_worker` command."""
