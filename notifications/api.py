"""REST endpoints of notifications (PROTOCOL.md, REST API): the inbox, sending, orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.fields import DB_INT_MAX, DB_INT_MIN
from realtime.frames import to_ms

from . import services
from .models import Notification, Order
from .permissions import CanSendNotifications, ServiceTokenAuthentication
from .selectors import notification_json, notifications_of
from .sources import order_place

MAX_LISTED_USERS = 10_000


class NotificationOut(serializers.Serializer[Notification]):
    """A `<notification>` as the socket pushes it."""

    type = serializers.CharField(default="notification")
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    data = serializers.DictField()  # type: ignore[assignment]
    created = serializers.IntegerField(help_text="ms since the Unix epoch, UTC")
    read = serializers.BooleanField()

    def to_representation(self, instance: Notification) -> dict[str, Any]:
        return notification_json(instance)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "integer"}, "maxItems": MAX_LISTED_USERS},
            {"type": "string", "enum": ["all"]},
        ]
    }
)
class RecipientsField(serializers.Field):
    """A list of user ids, or "all"."""

    def to_internal_value(self, data: Any) -> Any:
        if data == services.ALL:
            return data
        if (
            not isinstance(data, list)
            or not data
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in data)
        ):
            raise serializers.ValidationError('Give a non-empty list of user ids, or "all".')
        if len(data) > MAX_LISTED_USERS:
            raise serializers.ValidationError(f'At most {MAX_LISTED_USERS} ids; use "all".')
        if not all(1 <= v <= DB_INT_MAX for v in data):
            raise serializers.ValidationError(f"User ids are from 1 to {DB_INT_MAX}.")
        wanted = set(data)
        found = set(
            get_user_model()
            .objects.filter(pk__in=wanted, is_active=True)
            .values_list("pk", flat=True)
        )
        if wanted - found:
            raise serializers.ValidationError(f"No such active users: {sorted(wanted - found)}.")
        return sorted(wanted)

    def to_representation(self, value: Any) -> Any:
        return value


class NotificationIn(serializers.Serializer[Any]):
    users = RecipientsField()
    kind = serializers.RegexField(services.KIND_PATTERN, max_length=32)
    title = serializers.CharField(max_length=services.TITLE_MAX_LENGTH)
    body = serializers.CharField(
        max_length=services.BODY_MAX_LENGTH, allow_blank=True, default="", trim_whitespace=False
    )
    data = serializers.DictField(default=dict)  # type: ignore[assignment]


class Created(serializers.Serializer[Any]):
    ids = serializers.ListField(child=serializers.IntegerField())


class ReadIn(serializers.Serializer[Any]):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=DB_INT_MIN, max_value=DB_INT_MAX),
        required=False,
        min_length=1,
        max_length=1000,
    )
    all = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("all" in attrs) or attrs.get("all") is False:
            raise serializers.ValidationError('Give `ids`, or `"all": true`.')
        return attrs


class Unread(serializers.Serializer[Any]):
    unread = serializers.IntegerField()


class NotificationListView(generics.ListAPIView[Notification]):
    """The user's notifications, newest first (GET); send notifications (POST, staff).

    The one endpoint a service token is accepted by (POST only: permissions.py).
    """

    serializer_class = NotificationOut

    def get_authenticators(self) -> list[BaseAuthentication]:
        return [ServiceTokenAuthentication(), *super().get_authenticators()]

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "POST":
            return [IsAuthenticated(), CanSendNotifications()]
        return [IsAuthenticated()]

    def get_queryset(self) -> Any:
        mine = notifications_of(user=self.request.user)  # type: ignore[arg-type]
        if self.request.query_params.get("unread") in ("1", "true"):
            mine = mine.filter(read=False)
        return mine

    @extend_schema(parameters=[OpenApiParameter("unread", bool, description="only unread")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=NotificationIn, responses={201: Created})
    def post(self, request: Request) -> Response:
        form = NotificationIn(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            sent = services.notify(**form.validated_data)
        except services.NotifyInvalid as exc:
            raise exceptions.ValidationError({exc.field: [str(exc)]}) from None
        return Response({"ids": sent.ids}, status=status.HTTP_201_CREATED)


class NotificationReadView(APIView):
    """Mark some (`ids`) or all (`"all": true`) of the user's notifications read."""

    @extend_schema(request=ReadIn, responses=Unread)
    def post(self, request: Request) -> Response:
        form = ReadIn(data=request.data)
        form.is_valid(raise_exception=True)
        unread = services.notifications_mark_read(
            user=request.user,  # type: ignore[arg-type]
            ids=form.validated_data.get("ids"),
            everything=form.validated_data.get("all", False),
        )
        return Response({"unread": unread})


class OrderIn(serializers.Serializer[Any]):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    item = serializers.CharField(max_length=200, allow_blank=True, default="")


class OrderOut(serializers.Serializer[Order]):
    id = serializers.IntegerField()
    item = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    created = serializers.IntegerField(help_text="ms since the Unix epoch, UTC")

    def to_representation(self, instance: Order) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "item": instance.item,
            "amount": str(instance.amount),
            "created": to_ms(instance.created),
        }


class OrderListView(generics.ListAPIView[Order]):
    """The user's orders, newest first (GET); place an order, which notifies staff (POST)."""

    serializer_class = OrderOut

    def get_queryset(self) -> Any:
        return Order.objects.filter(customer_id=cast(int, self.request.user.pk)).order_by("-id")

    @extend_schema(request=OrderIn, responses={201: OrderOut})
    def post(self, request: Request) -> Response:
        form = OrderIn(data=request.data)
        form.is_valid(raise_exception=True)
        order = order_place(
            customer=request.user,  # type: ignore[arg-type]
            amount=form.validated_data["amount"],
            item=form.validated_data["item"],
        )
        return Response(OrderOut(order).data, status=status.HTTP_201_CREATED)
