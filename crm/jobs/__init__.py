"""Background jobs: long work on a channel's data, run by workers in batches.

models (the job record), kinds (the registry apps add their handlers to), services and
selectors (start, cancel, resume, the refusal naming a job in the way; reads, the unfinished
job working on a thing), runner (claim, batches, heartbeat; the `job_run` task), queue (the
database queue's rows; a task queued once at a time), periodic (the self-queueing
`periodic_run` task and its hooks), api/urls/serializers (/open/v5/jobs; `job_accepted`),
admin (and where the other admins show a job they started), and the `db_worker` command."""
