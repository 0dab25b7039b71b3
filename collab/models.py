"""Shared documents, their op log, periodic snapshots, and the sockets open on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

TITLE_MAX_LENGTH = 200
# The largest primary key; a bigger number in a URL is simply no document.
MAX_ID = 2**63 - 1


class Document(models.Model):
    """One plain-text document. `content` is the text at `version`, updated per op.

    Saving the whole text on every op is linear in its length (up to
    COLLAB_MAX_LENGTH code points): fine for documents people type into, and
    the op log plus snapshots would allow a lazier scheme later.
    """

    class Access(models.TextChoices):
        PUBLIC = "public", "Public: every signed-in user may edit"
        READONLY = "readonly", "Read-only: all read, the owner and editors edit"
        PRIVATE = "private", "Private: only the owner and editors"

    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    content = models.TextField(blank=True)
    # Rises by one per committed op, under the row lock (services.doc_apply_op).
    version = models.PositiveBigIntegerField(default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collab_documents"
    )
    access = models.CharField(max_length=10, choices=Access.choices, default=Access.PUBLIC)
    editors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="collab_editable_documents"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated"]

    def __str__(self) -> str:
        return self.title


class DocumentOp(models.Model):
    """One committed op: the components exactly as they were broadcast.

    A later op is transformed against `components_to_op(ops)`, which is what
    every client composed from the same broadcast, so all of them agree.
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="ops")
    version = models.PositiveBigIntegerField()
    # The version the client made the op on (it was transformed from there to version - 1).
    base_version = models.PositiveBigIntegerField()
    ops = models.JSONField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="collab_ops",
    )
    # The socket that sent it (PROTOCOL.md `client`).
    client = models.CharField(max_length=64)
    # NULL when absent: uniqueness of op_id skips ops without one.
    op_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document", "version"]
        verbose_name = "op"
        constraints = [
            # Two processes can never commit two ops at one version.
            models.UniqueConstraint(fields=["document", "version"], name="collab_op_version_once"),
            models.UniqueConstraint(
                fields=["document", "user", "op_id"],
                condition=Q(op_id__isnull=False),
                name="collab_op_id_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}@{self.version}"


class Snapshot(models.Model):
    """The text of a document at one version (every COLLAB_SNAPSHOT_EVERY versions)."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="snapshots")
    version = models.PositiveBigIntegerField()
    content = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "version"], name="collab_snapshot_version_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}@{self.version}"


class Peer(models.Model):
    """An open socket on a document and its cursor, shared by every server process.

    It lives as long as the socket's registry row: closing the socket, or the
    sweep of a dead process, deletes the row and with it this one (and the
    `peer_left` frame goes out, see signals.py). The cursor is stored as the
    client reported it, at `version`; readers move it through the ops since.
    """

    connection = models.OneToOneField(
        "realtime.Connection",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="collab_peer",
    )
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="peers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collab_peers"
    )
    position = models.PositiveIntegerField(default=0)
    selection_end = models.PositiveIntegerField(null=True, blank=True)
    version = models.PositiveBigIntegerField(default=0)
    joined = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["joined"]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.document_id}"
