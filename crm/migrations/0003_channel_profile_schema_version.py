from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0002_rate_limit_windows'),
    ]

    operations = [
        migrations.AddField(
            model_name='channel',
            name='profile_schema_version',
            field=models.BigIntegerField(default=0, editable=False),
        ),
    ]
