# Quick search by a phone number or an email typed in full or as its start: B-tree prefix
# indexes (text_pattern_ops) on the expressions contacts.filtering.search compiles to. Built
# CONCURRENTLY, so writes to contacts do not wait for them on a large table.

import django.contrib.postgres.indexes
import django.contrib.postgres.operations
import django.db.models.fields.json
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('contacts', '0004_cheaper_key_count_check_and_fewer_indexes'),
    ]

    operations = [
        django.contrib.postgres.operations.AddIndexConcurrently(
            model_name='contact',
            index=models.Index(models.F('channel'), django.contrib.postgres.indexes.OpClass(django.db.models.fields.json.KeyTextTransform('mobileNumber', 'profile'), name='text_pattern_ops'), name='contact_mobile_prefix'),
        ),
        django.contrib.postgres.operations.AddIndexConcurrently(
            model_name='contact',
            index=models.Index(models.F('channel'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper(django.db.models.fields.json.KeyTextTransform('email', 'profile')), name='text_pattern_ops'), name='contact_email_prefix'),
        ),
    ]
