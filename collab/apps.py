from django.apps import AppConfig


class CollabConfig(AppConfig):
    name = "collab"

    def ready(self) -> None:
        from realtime.signals import access_follows

        from . import signals  # noqa: F401  (connects the peer_left announcement)
        from .models import Document

        # Open sockets lose a document made private, whose editors they left, or deleted.
        access_follows(
            Document, endpoint="collab", target=lambda doc: str(doc.pk), members="editors"
        )
