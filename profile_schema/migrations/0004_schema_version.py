"""The channel's schema version: bumped by the database on every field change, read under lock.

- `profile_schema_version_seq` hands out versions; a sequence is never rolled back, so a version
  is never reused, even by a transaction that rolled back.
- Three statement-level triggers on profile_schema_profilefield give every channel whose field
  definitions a statement changed a new version: no write path (services, admin, bulk updates)
  can forget it. The index builder's bookkeeping (indexed, index_state, index_name,
  index_error, updated_at) is no definition a write or a filter reads, so it leaves the version
  alone; it also must not lock the channel row, which the marking service locks before the
  field row (the other order would deadlock).
- `profile_schema_read_lock(channel)` takes the channel's schema lock shared and then reads its
  version. A PL/pgSQL function is VOLATILE, so its second query sees a schema switch that
  committed while it waited for the lock: one round trip, and never a stale version.
"""

from django.db import migrations

BUMP = """
CREATE SEQUENCE profile_schema_version_seq;

CREATE FUNCTION profile_schema_version_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE crm_channel SET profile_schema_version = nextval('profile_schema_version_seq')
        WHERE id IN (SELECT channel_id FROM new_rows);
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE crm_channel SET profile_schema_version = nextval('profile_schema_version_seq')
        WHERE id IN (
            SELECT n.channel_id FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE (o.channel_id, o.key, o.name, o.type, o.built_in, o.sensitive, o.masking,
                   o.shown_in_profile, o."order")
                IS DISTINCT FROM (n.channel_id, n.key, n.name, n.type, n.built_in, n.sensitive,
                                  n.masking, n.shown_in_profile, n."order")
            UNION
            SELECT o.channel_id FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE o.channel_id <> n.channel_id
        );
    ELSE
        UPDATE crm_channel SET profile_schema_version = nextval('profile_schema_version_seq')
        WHERE id IN (SELECT channel_id FROM old_rows);
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

UPDATE crm_channel SET profile_schema_version = nextval('profile_schema_version_seq');

CREATE FUNCTION profile_schema_read_lock(channel bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    version bigint;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7251, channel::integer);
    SELECT c.profile_schema_version INTO version FROM crm_channel AS c WHERE c.id = channel;
    RETURN version;
END $$;
"""

UNBUMP = """
DROP FUNCTION profile_schema_read_lock(bigint);
DROP TRIGGER profile_field_deleted ON profile_schema_profilefield;
DROP TRIGGER profile_field_updated ON profile_schema_profilefield;
DROP TRIGGER profile_field_inserted ON profile_schema_profilefield;
DROP FUNCTION profile_schema_version_bump();
DROP SEQUENCE profile_schema_version_seq;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0003_channel_profile_schema_version'),
        ('profile_schema', '0003_profile_field_index'),
    ]

    operations = [migrations.RunSQL(BUMP, reverse_sql=UNBUMP)]
