"""Dashboards, the last state each one published, and the engagement events they count."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .catalog import metric_names_check


def _validate_metric_names(value: object) -> None:
    unknown = metric_names_check(value)
    if unknown:
        raise ValidationError(f"Unknown metrics: {', '.join(unknown)}.")


class Dashboard(models.Model):
    """A page of live numbers: which metrics it shows and who may open it."""

    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    # Metric names (see dashboards.metrics.METRICS), in the order the tiles show them.
    metrics = models.JSONField(default=list, validators=[_validate_metric_names])
    staff_only = models.BooleanField(default=False)
    show_sales = models.BooleanField(default=False, help_text="Show the last sales as a ticker.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the list.")

    class Meta:
        ordering = ["position", "title"]

    def __str__(self) -> str:
        return self.title


class DashboardState(models.Model):
    """The metrics a dashboard last published, and the seq of that update.

    Shared by every server process: a socket opening anywhere gets this as its
    snapshot, and a new publisher continues its seq. Written under its row lock.
    """

    dashboard = models.OneToOneField(
        Dashboard, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    seq = models.PositiveBigIntegerField(default=0)
    metrics = models.JSONField(default=dict)
    # The newest order the ticker has announced (sales after it go in the next update).
    last_order_id = models.BigIntegerField(default=0)
    # When the metrics were last computed (changed or not) and last published.
    checked = models.DateTimeField(null=True, blank=True)
    published = models.DateTimeField(null=True, blank=True)
    # The process that published the last update: the holder of the publisher lease.
    publisher = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"{self.dashboard_id} @ {self.seq}"


class EngagementEvent(models.Model):
    """A like or a share, counted by `likes_today` / `shares_today`."""

    class Kind(models.TextChoices):
        LIKE = "like"
        SHARE = "share"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="engagement_events",
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"
