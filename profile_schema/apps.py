from django.apps import AppConfig


class ProfileSchemaConfig(AppConfig):
    name = "profile_schema"
    verbose_name = "Profile fields"
