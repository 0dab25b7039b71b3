"""Page routes of notifications, under /notifications/."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read/", views.mark_read, name="read"),
    path("shop/", views.shop, name="shop"),
    path("shop/<int:pk>/watch/", views.watch, name="watch"),
    path("shop/<int:pk>/price/", views.set_price, name="price"),
    path("friends/", views.friends, name="friends"),
    path("friends/<int:pk>/answer/", views.answer, name="answer"),
    path("alerts/", views.alerts, name="alerts"),
]
