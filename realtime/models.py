"""The connection registry: every open socket of every server process."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ServerProcess(models.Model):
    """A running server process; its heartbeat tells the others it is alive."""

    id = models.CharField(primary_key=True, max_length=100)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    started = models.DateTimeField()
    last_heartbeat = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name_plural = "server processes"

    def __str__(self) -> str:
        return self.id


class Connection(models.Model):
    """One open WebSocket. Removed on disconnect, or by the sweep once its process died."""

    id = models.CharField(primary_key=True, max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="realtime_connections"
    )
    endpoint = models.CharField(max_length=32)
    target = models.CharField(max_length=200, blank=True)
    # The group that hears this user's presence changes on `target` ("" for none).
    presence_group = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    process = models.CharField(max_length=100, db_index=True)
    connected = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "target", "user"]),
            models.Index(fields=["user"]),
            models.Index(fields=["ip"]),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint}:{self.target} #{self.user_id}"


class Credentials(models.Model):
    """A user's credential state: tokens issued before `token_generation` last rose are void.

    It rises when the password changes and when the user is logged out
    everywhere (`realtime.access.credentials_revoke`). No row means generation 0.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="realtime_credentials",
    )
    token_generation = models.PositiveIntegerField(default=0)
    changed = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "credentials"

    def __str__(self) -> str:
        return f"credentials of #{self.user_id} (generation {self.token_generation})"
