from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime core"

    def ready(self) -> None:
        from . import signals

        signals.connect()
