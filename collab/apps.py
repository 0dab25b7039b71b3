from django.apps import AppConfig


class CollabConfig(AppConfig):
    name = "collab"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the peer_left announcement)
