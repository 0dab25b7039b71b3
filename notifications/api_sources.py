"""REST endpoints of the events that notify: friend requests, products and watches, alerts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import BasePermission, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from realtime.api import UserOut
from realtime.fields import DB_INT_MAX, DB_INT_MIN
from realtime.frames import to_ms, user_json

from . import sources
from .models import FriendRequest, PriceWatch, Product, SystemAlert
from .services import TITLE_MAX_LENGTH, NotifyInvalid
from .sources import SourceError

# A price drop is announced as "Price drop: <name>", a notification title.
PRODUCT_NAME_MAX_LENGTH = TITLE_MAX_LENGTH - len("Price drop: ")


def _price(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), **kwargs
    )


def _invalid(exc: SourceError) -> exceptions.ValidationError:
    if exc.field:
        return exceptions.ValidationError({exc.field: [exc.message]})
    return exceptions.ValidationError(exc.message)


class StaffWrites(BasePermission):
    """Anyone signed in reads; only staff write."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return bool(request.user and request.user.is_staff)


# --- friend requests ------------------------------------------------------------


class FriendRequestOut(serializers.Serializer[FriendRequest]):
    id = serializers.IntegerField()
    from_user = UserOut()
    to_user = UserOut()
    status = serializers.ChoiceField(choices=FriendRequest.Status.choices)
    created = serializers.IntegerField()

    def to_representation(self, instance: FriendRequest) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "from_user": user_json(instance.from_user),
            "to_user": user_json(instance.to_user),
            "status": instance.status,
            "created": to_ms(instance.created),
        }


class FriendRequestIn(serializers.Serializer[Any]):
    to = serializers.IntegerField(
        min_value=DB_INT_MIN, max_value=DB_INT_MAX, help_text="the user id to befriend"
    )


class FriendRequestListView(generics.ListAPIView[FriendRequest]):
    """Friend requests the user sent or received, newest first; send one (POST)."""

    serializer_class = FriendRequestOut

    def get_queryset(self) -> Any:
        me = cast(int, self.request.user.pk)
        return (
            FriendRequest.objects.filter(Q(from_user=me) | Q(to_user=me))
            .select_related("from_user", "to_user")
            .order_by("-id")
        )

    @extend_schema(request=FriendRequestIn, responses={201: FriendRequestOut})
    def post(self, request: Request) -> Response:
        form = FriendRequestIn(data=request.data)
        form.is_valid(raise_exception=True)
        to_user = get_user_model().objects.filter(pk=form.validated_data["to"], is_active=True)
        target = to_user.first()
        if target is None:
            raise exceptions.ValidationError({"to": ["No such user."]})
        try:
            sent = sources.friend_request_send(from_user=request.user, to_user=target)  # type: ignore[arg-type]
        except SourceError as exc:
            raise _invalid(exc) from None
        return Response(FriendRequestOut(sent).data, status=status.HTTP_201_CREATED)


class FriendRequestAnswerView(APIView):
    """Accept or decline a request sent to the user (404 for anyone else's)."""

    accept = True

    @extend_schema(request=None, responses=FriendRequestOut)
    def post(self, request: Request, pk: int) -> Response:
        try:
            answered = sources.friend_request_answer(
                request_id=pk,
                user=request.user,  # type: ignore[arg-type]
                accept=self.accept,
            )
        except FriendRequest.DoesNotExist:
            raise exceptions.NotFound("No such friend request.") from None
        except SourceError as exc:
            raise _invalid(exc) from None
        return Response(FriendRequestOut(answered).data)


# --- products and price watches --------------------------------------------------


class ProductOut(serializers.Serializer[Product]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    watch = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text="your threshold, if any"
    )

    def to_representation(self, instance: Product) -> dict[str, Any]:
        watches = getattr(instance, "my_watches", None)
        return {
            "id": instance.pk,
            "name": instance.name,
            "price": str(instance.price),
            "watch": str(watches[0].threshold) if watches else None,
        }


class ProductIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=PRODUCT_NAME_MAX_LENGTH)
    price = _price()


class PriceIn(serializers.Serializer[Any]):
    price = _price()


class WatchIn(serializers.Serializer[Any]):
    threshold = _price()


def _products(request: Request) -> Any:
    mine = PriceWatch.objects.filter(user_id=cast(int, request.user.pk))
    return Product.objects.prefetch_related(Prefetch("watches", mine, to_attr="my_watches"))


class ProductListView(generics.ListAPIView[Product]):
    """The shop's products with your watch threshold; create one (POST, staff)."""

    serializer_class = ProductOut
    permission_classes = [IsAuthenticated, StaffWrites]

    def get_queryset(self) -> Any:
        return _products(self.request).order_by("name")

    @extend_schema(request=ProductIn, responses={201: ProductOut})
    def post(self, request: Request) -> Response:
        form = ProductIn(data=request.data)
        form.is_valid(raise_exception=True)
        if Product.objects.filter(name=form.validated_data["name"]).exists():
            raise exceptions.ValidationError({"name": ["A product with this name exists."]})
        product = sources.product_create(**form.validated_data)
        return Response(ProductOut(product).data, status=status.HTTP_201_CREATED)


class ProductDetailView(APIView):
    """One product (GET); change its price, notifying watchers it drops to (PATCH, staff)."""

    permission_classes = [IsAuthenticated, StaffWrites]

    @extend_schema(responses=ProductOut)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ProductOut(get_object_or_404(_products(request), pk=pk)).data)

    @extend_schema(request=PriceIn, responses=ProductOut)
    def patch(self, request: Request, pk: int) -> Response:
        product = get_object_or_404(Product, pk=pk)
        form = PriceIn(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            sources.product_set_price(product_id=product.pk, price=form.validated_data["price"])
        except NotifyInvalid:  # a name longer than the API allows, set in the admin
            raise exceptions.ValidationError(
                {"name": [f"Shorten the name to {PRODUCT_NAME_MAX_LENGTH} characters first."]}
            ) from None
        return Response(ProductOut(get_object_or_404(_products(request), pk=pk)).data)


class ProductWatchView(APIView):
    """Watch a product's price (PUT `threshold`, below today's price) or stop (DELETE)."""

    @extend_schema(request=WatchIn, responses=ProductOut)
    def put(self, request: Request, pk: int) -> Response:
        product = get_object_or_404(Product, pk=pk)
        form = WatchIn(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            sources.price_watch_set(
                user=request.user,  # type: ignore[arg-type]
                product=product,
                threshold=form.validated_data["threshold"],
            )
        except SourceError as exc:
            raise _invalid(exc) from None
        return Response(ProductOut(get_object_or_404(_products(request), pk=pk)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        product = get_object_or_404(Product, pk=pk)
        sources.price_watch_remove(user=request.user, product=product)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- system alerts ---------------------------------------------------------------


class AlertOut(serializers.Serializer[SystemAlert]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField()
    level = serializers.ChoiceField(choices=SystemAlert.Level.choices)
    created = serializers.IntegerField()
    recipients = serializers.IntegerField()

    def to_representation(self, instance: SystemAlert) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "title": instance.title,
            "body": instance.body,
            "level": instance.level,
            "created": to_ms(instance.created),
            "recipients": instance.recipients,
        }


class AlertIn(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=2000, allow_blank=True, default="")
    level = serializers.ChoiceField(choices=SystemAlert.Level.choices, default="info")


class AlertListView(generics.ListAPIView[SystemAlert]):
    """System alerts, newest first; post one to every user (POST, staff)."""

    serializer_class = AlertOut

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "POST":
            return [IsAdminUser()]
        return [IsAuthenticated()]

    def get_queryset(self) -> Any:
        return SystemAlert.objects.order_by("-id")

    @extend_schema(request=AlertIn, responses={201: AlertOut})
    def post(self, request: Request) -> Response:
        form = AlertIn(data=request.data)
        form.is_valid(raise_exception=True)
        alert = sources.system_alert_post(author=request.user, **form.validated_data)  # type: ignore[arg-type]
        return Response(AlertOut(alert).data, status=status.HTTP_201_CREATED)
