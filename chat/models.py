"""Rooms, their messages (numbered per room without gaps) and read markers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Room(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    is_private = models.BooleanField(default=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="chat_rooms"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(default=timezone.now)
    # The seq of the room's newest message; raised under the row lock on each post.
    last_seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    body = models.TextField()
    # NULL (not "") when absent: the uniqueness of client_id skips messages without one.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="chat_message_room_seq"),
            models.UniqueConstraint(
                fields=["room", "user", "client_id"],
                condition=Q(client_id__isnull=False),
                name="chat_message_client_id_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room.slug}#{self.seq}"


class ReadMarker(models.Model):
    """How far a user has read in a room."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="read_markers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_read_markers"
    )
    last_seq = models.PositiveBigIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="chat_read_marker_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} read {self.room.slug} to {self.last_seq}"
