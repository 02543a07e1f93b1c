from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "crm.jobs"
    label = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from crm.jobs.periodic import periodic_builtins_register

        periodic_builtins_register()
        # Each app registers its job kinds and periodic hooks in its own `jobs.py`, found here
        # as the admin finds `admin.py`: crm never imports the apps whose work it runs.
        autodiscover_modules("jobs")
