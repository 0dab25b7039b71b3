"""REST routes of notifications and of the events that raise them, mounted under /api/."""

from __future__ import annotations

from django.urls import path

from . import api, api_sources

urlpatterns = [
    path("notifications/", api.NotificationListView.as_view(), name="notification-list"),
    path("notifications/read/", api.NotificationReadView.as_view(), name="notification-read"),
    path("orders/", api.OrderListView.as_view(), name="order-list"),
    path(
        "friend-requests/", api_sources.FriendRequestListView.as_view(), name="friend-request-list"
    ),
    path(
        "friend-requests/<int:pk>/accept/",
        api_sources.FriendRequestAnswerView.as_view(accept=True),
        name="friend-request-accept",
    ),
    path(
        "friend-requests/<int:pk>/decline/",
        api_sources.FriendRequestAnswerView.as_view(accept=False),
        name="friend-request-decline",
    ),
    path("products/", api_sources.ProductListView.as_view(), name="product-list"),
    path("products/<int:pk>/", api_sources.ProductDetailView.as_view(), name="product-detail"),
    path("products/<int:pk>/watch/", api_sources.ProductWatchView.as_view(), name="product-watch"),
    path("alerts/", api_sources.AlertListView.as_view(), name="alert-list"),
]
