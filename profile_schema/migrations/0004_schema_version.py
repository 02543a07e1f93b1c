"""The channel's schema version: bumped by the database on every field change, read under lock.

- `profile_schema_version` holds one row per channel (channel_id, version). It is a table of its
  own, not a column of crm_channel: no `Channel.save()` can write an old version back, and the
  row locks that channel services take (`SELECT … FOR UPDATE` on the channel) never meet the
  trigger's write, so no new lock order appears. Nothing but the trigger writes it.
- `profile_schema_version_seq` hands out versions; a sequence is never rolled back, so a version
  is never reused, even by a transaction that rolled back.
- Three statement-level triggers on profile_schema_profilefield give every channel whose field
  definitions a statement changed a new version: no write path (services, admin, bulk updates)
  can forget it. The index builder's bookkeeping (indexed, index_state, index_name,
  index_error, updated_at) is no definition a write or a filter reads, so it leaves the version
  alone.
- `profile_schema_read_lock(channel)` takes the channel's schema lock shared and then reads its
  version (0 for a channel whose fields never changed; NULL for a channel that does not exist).
  A PL/pgSQL function is VOLATILE, so its second query sees a schema switch that committed
  while it waited for the lock: one round trip, and never a stale version.
- A deleted channel's row goes with it (a trigger on crm_channel).
"""

from django.db import migrations

BUMP = """
CREATE TABLE profile_schema_version (
    channel_id bigint PRIMARY KEY,
    version bigint NOT NULL
);
CREATE SEQUENCE profile_schema_version_seq;

CREATE FUNCTION profile_schema_version_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO profile_schema_version AS v (channel_id, version)
        SELECT changed.channel_id, nextval('profile_schema_version_seq')
        FROM (SELECT DISTINCT channel_id FROM new_rows) AS changed
        ON CONFLICT (channel_id) DO UPDATE SET version = EXCLUDED.version;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO profile_schema_version AS v (channel_id, version)
        SELECT changed.channel_id, nextval('profile_schema_version_seq')
        FROM (
            SELECT n.channel_id FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE (o.channel_id, o.key, o.name, o.type, o.built_in, o.sensitive, o.masking,
                   o.shown_in_profile, o."order")
                IS DISTINCT FROM (n.channel_id, n.key, n.name, n.type, n.built_in, n.sensitive,
                                  n.masking, n.shown_in_profile, n."order")
            UNION
            SELECT o.channel_id FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE o.channel_id <> n.channel_id
        ) AS changed
        ON CONFLICT (channel_id) DO UPDATE SET version = EXCLUDED.version;
    ELSE
        INSERT INTO profile_schema_version AS v (channel_id, version)
        SELECT changed.channel_id, nextval('profile_schema_version_seq')
        FROM (SELECT DISTINCT channel_id FROM old_rows) AS changed
        ON CONFLICT (channel_id) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER profile_field_inserted AFTER INSERT ON profile_schema_profilefield
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION profile_schema_version_bump();
CREATE TRIGGER profile_field_updated AFTER UPDATE ON profile_schema_profilefield
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION profile_schema_version_bump();
CREATE TRIGGER profile_field_deleted AFTER DELETE ON profile_schema_profilefield
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION profile_schema_version_bump();

INSERT INTO profile_schema_version (channel_id, version)
SELECT id, nextval('profile_schema_version_seq') FROM crm_channel;

CREATE FUNCTION profile_schema_version_forget() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM profile_schema_version WHERE channel_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$;

CREATE TRIGGER channel_deleted AFTER DELETE ON crm_channel
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION profile_schema_version_forget();

CREATE FUNCTION profile_schema_read_lock(channel bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    found bigint;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7251, channel::integer);
    IF NOT EXISTS (SELECT 1 FROM crm_channel AS c WHERE c.id = channel) THEN
        RETURN NULL;
    END IF;
    SELECT v.version INTO found FROM profile_schema_version AS v WHERE v.channel_id = channel;
    RETURN coalesce(found, 0);
END $$;
"""

UNBUMP = """
DROP FUNCTION profile_schema_read_lock(bigint);
DROP TRIGGER channel_deleted ON crm_channel;
DROP FUNCTION profile_schema_version_forget();
DROP TRIGGER profile_field_deleted ON profile_schema_profilefield;
DROP TRIGGER profile_field_updated ON profile_schema_profilefield;
DROP TRIGGER profile_field_inserted ON profile_schema_profilefield;
DROP FUNCTION profile_schema_version_bump();
DROP SEQUENCE profile_schema_version_seq;
DROP TABLE profile_schema_version;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0002_rate_limit_windows'),
        ('profile_schema', '0003_profile_field_index'),
    ]

    operations = [migrations.RunSQL(BUMP, reverse_sql=UNBUMP)]
