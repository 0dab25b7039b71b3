from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        from realtime.signals import access_follows

        from .models import Room

        # Open sockets lose a room made private, left or deleted (realtime.access).
        access_follows(Room, endpoint="chat", target=lambda room: room.slug, members="members")
