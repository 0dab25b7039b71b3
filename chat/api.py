"""REST endpoints of chat: rooms and their messages (PROTOCOL.md, REST API)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.api import StrictCharField, UserOut
from realtime.errors import FrameError
from realtime.fields import DB_INT_MAX

from . import services
from .models import Room
from .selectors import message_json, room_history, room_json, room_may_enter, rooms_visible_to


class RoomIn(serializers.Serializer[Any]):
    slug = serializers.SlugField(max_length=100)
    name = serializers.CharField(max_length=200)
    is_private = serializers.BooleanField(default=False)
    members = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DB_INT_MAX),
        required=False,
        default=list,
        max_length=1000,
    )

    def validate_members(self, value: list[int]) -> list[int]:
        # A deactivated user is answered as a missing one: ids tell nothing more.
        active = get_user_model().objects.filter(pk__in=value, is_active=True)
        found = set(active.values_list("pk", flat=True))
        missing = sorted(set(value) - found)
        if missing:
            raise serializers.ValidationError(f"No such users: {missing}.")
        return value


class RoomOut(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()
    is_private = serializers.BooleanField()
    last_seq = serializers.IntegerField()


class MessageIn(serializers.Serializer[Any]):
    message = StrictCharField(max_length=services.MESSAGE_MAX_LENGTH, trim_whitespace=False)
    client_id = StrictCharField(
        max_length=services.CLIENT_ID_MAX_LENGTH, required=False, allow_null=True
    )


class MessageOut(serializers.Serializer[Any]):
    """The schema of a `<message>` (PROTOCOL.md); `chat.selectors.message_json` builds it."""

    type = serializers.CharField()
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    room = serializers.CharField()
    user = UserOut()
    message = serializers.CharField()
    client_id = serializers.CharField(allow_null=True)
    timestamp = serializers.IntegerField()


class HistoryOut(serializers.Serializer[Any]):
    messages = MessageOut(many=True)
    has_more = serializers.BooleanField()


class HistoryQuery(serializers.Serializer[Any]):
    after = serializers.IntegerField(min_value=0, required=False)
    before = serializers.IntegerField(min_value=0, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "after" in attrs and "before" in attrs:
            raise serializers.ValidationError("Give `after` or `before`, not both.")
        return attrs


class RoomListView(APIView):
    """Rooms the user may enter; create a room."""

    @extend_schema(responses=RoomOut(many=True))
    def get(self, request: Request) -> Response:
        rooms = rooms_visible_to(user=request.user)  # type: ignore[arg-type]
        return Response([room_json(room) for room in rooms])

    @extend_schema(request=RoomIn, responses={201: RoomOut})
    def post(self, request: Request) -> Response:
        form = RoomIn(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            room = services.room_create(
                slug=data["slug"],
                name=data["name"],
                is_private=data["is_private"],
                member_ids=data["members"],
                creator=request.user,  # type: ignore[arg-type]
            )
        except IntegrityError:
            raise exceptions.ValidationError({"slug": ["A room with this slug exists."]}) from None
        return Response(room_json(room), status=status.HTTP_201_CREATED)


def _room(request: Request, slug: str) -> Room:
    room = get_object_or_404(Room, slug=slug)
    if not room_may_enter(room=room, user=request.user):  # type: ignore[arg-type]
        raise exceptions.PermissionDenied("This room is private.")
    return room


class RoomMessagesView(APIView):
    """A page of a room's history; post a message as a socket `send` would."""

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int),
            OpenApiParameter("before", int),
            OpenApiParameter("limit", int),
        ],
        responses=HistoryOut,
    )
    def get(self, request: Request, slug: str) -> Response:
        room = _room(request, slug)
        query = HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages, has_more = room_history(room=room, **query.validated_data)
        return Response({"messages": messages, "has_more": has_more})

    @extend_schema(request=MessageIn, responses={200: MessageOut, 201: MessageOut})
    def post(self, request: Request, slug: str) -> Response:
        room = _room(request, slug)
        form = MessageIn(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            message, created = services.room_post_message(
                room=room,
                user=request.user,  # type: ignore[arg-type]
                body=form.validated_data["message"],
                client_id=form.validated_data.get("client_id"),
            )
        except FrameError as exc:
            if exc.code == "forbidden":
                raise exceptions.PermissionDenied(exc.message) from None
            raise exceptions.ValidationError({"message": [exc.message]}) from None
        return Response(
            message_json(message, room_slug=room.slug),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
