"""`/ws/dashboards/<dashboard_slug>/`: a snapshot on connect, then live updates."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from realtime import errors
from realtime.consumers import RealtimeConsumer, action
from realtime.db import db_parallel
from realtime.errors import Refuse
from realtime.fields import ref_of
from realtime.frames import Frame

from .models import Dashboard
from .publisher import publisher_ensure_started
from .selectors import ENDPOINT, dashboard_may_open
from .services import dashboard_group, dashboard_snapshot


def _dashboard_for(slug: str, user: AbstractBaseUser) -> Dashboard:
    dashboard = Dashboard.objects.filter(slug=slug).first()
    if dashboard is None:
        raise Refuse(errors.NOT_FOUND)
    if not dashboard_may_open(dashboard=dashboard, user=user):
        raise Refuse(errors.FORBIDDEN)
    return dashboard


class DashboardConsumer(RealtimeConsumer):
    """One dashboard: `snapshot`, then `update` frames from whichever process publishes."""

    endpoint = ENDPOINT
    dashboard: Dashboard

    async def admit(self) -> None:
        slug = self.scope["url_route"]["kwargs"]["dashboard_slug"]
        self.dashboard = await db_parallel(_dashboard_for)(slug, self.user)
        self.target = self.dashboard.slug

    async def reauthorize(self) -> None:
        slug = self.dashboard.slug
        self.dashboard = await db_parallel(_dashboard_for)(slug, self.user)

    async def on_open(self) -> None:
        await publisher_ensure_started()
        self.hold()
        await self.join(dashboard_group(self.dashboard))
        await self.send_snapshot_held()

    async def send_snapshot_held(self, ref: str | int | None = None) -> None:
        """Send the snapshot, then the updates held meanwhile that it does not already hold.

        Expects `hold()` to have been called; always releases.
        """
        seen: int | None = None
        try:
            snapshot = await db_parallel(dashboard_snapshot)(dashboard=self.dashboard)
            if ref is not None:
                snapshot["ref"] = ref
            await self.send_frame(snapshot)
            seen = snapshot["seq"]
        finally:
            self.release(seen_upto=seen)

    @action("snapshot")
    async def snapshot(self, frame: Frame) -> None:
        self.hold()
        await self.send_snapshot_held(ref_of(frame))
