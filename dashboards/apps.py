from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"

    def ready(self) -> None:
        from realtime.signals import access_follows

        from .models import Dashboard
        from .selectors import ENDPOINT

        # Open sockets lose a dashboard made staff-only or deleted (realtime.access).
        access_follows(Dashboard, endpoint=ENDPOINT, target=lambda board: board.slug)
