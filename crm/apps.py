from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Channels and managers"

    def ready(self) -> None:
        # Registers the OpenAPI descriptions of the API's authentication.
        from crm import schema  # noqa: F401
        from crm.pgtypes import install

        install()
