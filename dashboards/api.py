"""REST endpoints of dashboards: the list, a snapshot, engagement events (PROTOCOL.md)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.frames import to_ms

from . import services
from .models import Dashboard, EngagementEvent
from .selectors import dashboard_json, dashboard_may_open, dashboards_visible_to


class DashboardOut(serializers.Serializer[Any]):
    slug = serializers.CharField()
    title = serializers.CharField()
    staff_only = serializers.BooleanField()
    metrics = serializers.ListField(child=serializers.CharField())


class SnapshotOut(serializers.Serializer[Any]):
    slug = serializers.CharField()
    title = serializers.CharField()
    metrics = serializers.DictField()
    seq = serializers.IntegerField()
    ts = serializers.IntegerField()
    sales = serializers.ListField(child=serializers.DictField(), required=False)


class EventIn(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=EngagementEvent.Kind.choices)


class DashboardListView(APIView):
    """The dashboards the user may open."""

    @extend_schema(responses=DashboardOut(many=True))
    def get(self, request: Request) -> Response:
        dashboards = dashboards_visible_to(user=request.user)  # type: ignore[arg-type]
        return Response([dashboard_json(dashboard) for dashboard in dashboards])


class DashboardSnapshotView(APIView):
    """A dashboard's current metrics, as the socket's `snapshot` frame carries them."""

    @extend_schema(responses=SnapshotOut)
    def get(self, request: Request, slug: str) -> Response:
        dashboard = get_object_or_404(Dashboard, slug=slug)
        if not dashboard_may_open(dashboard=dashboard, user=request.user):  # type: ignore[arg-type]
            raise exceptions.PermissionDenied("This dashboard is for staff only.")
        snapshot = services.dashboard_snapshot(dashboard=dashboard)
        snapshot.pop("type")
        return Response({"slug": dashboard.slug, "title": dashboard.title, **snapshot})


class EventView(APIView):
    """Record a like or a share; counted in `likes_today` / `shares_today`."""

    @extend_schema(
        request=EventIn,
        responses={
            201: inline_serializer(
                "EventOut",
                {
                    "id": serializers.IntegerField(),
                    "kind": serializers.CharField(),
                    "created": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        form = EventIn(data=request.data)
        form.is_valid(raise_exception=True)
        event = services.engagement_record(
            kind=form.validated_data["kind"],
            user=request.user,  # type: ignore[arg-type]
        )
        return Response(
            {"id": event.pk, "kind": event.kind, "created": to_ms(event.created)},
            status=status.HTTP_201_CREATED,
        )
