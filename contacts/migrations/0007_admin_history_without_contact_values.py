"""The admin's history named a contact by its name or member id (Contact.__str__ then), which
every manager reading it saw, masked or not; it names each by its id now, as it does from here
on. What it wrote cannot come back: the reverse leaves the ids."""

from django.db import migrations
from django.db.models import F, Value
from django.db.models.functions import Concat


def contact_entries_by_id(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType")
    log_entries = apps.get_model("admin", "LogEntry")
    contact_type = content_types.objects.filter(app_label="contacts", model="contact").first()
    if contact_type is None:
        return
    log_entries.objects.filter(content_type=contact_type).update(
        object_repr=Concat(Value("Contact #"), F("object_id"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0006_profile_statistics_target"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(contact_entries_by_id, migrations.RunPython.noop),
    ]
