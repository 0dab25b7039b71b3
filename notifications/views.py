"""Notification pages: the inbox, and pages that raise each kind of notification."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, user_passes_test
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import services, sources
from .forms import AlertForm, FriendRequestForm, OrderForm, PriceForm, WatchForm
from .models import FriendRequest, PriceWatch, Product, SystemAlert
from .selectors import notifications_of, unread_count
from .sources import SourceError

PAGE_SIZE = 25


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Every notification of the user, newest first, with mark-as-read."""
    page = Paginator(notifications_of(user=request.user), PAGE_SIZE).get_page(  # type: ignore[arg-type]
        request.GET.get("page")
    )
    unread = unread_count(user_id=cast(int, request.user.pk))
    return render(request, "notifications/inbox.html", {"page": page, "unread": unread})


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification (`id`) or all of them read; the other tabs' badges follow."""
    raw = request.POST.get("id", "")
    if raw.isdigit():
        services.notifications_mark_read(user=request.user, ids=[int(raw)])  # type: ignore[arg-type]
    else:
        services.notifications_mark_read(user=request.user, everything=True)  # type: ignore[arg-type]
    return HttpResponseRedirect(_next_on_this_site(request))


def _next_on_this_site(request: HttpRequest) -> str:
    """The form's `next` if it is a path on this site, else the inbox (no open redirect)."""
    wanted = request.POST.get("next", "")
    on_site = wanted.startswith("/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if on_site else reverse("notifications:inbox")


@login_required
def shop(request: HttpRequest) -> HttpResponse:
    """Products with price watches; place an order; staff change prices."""
    form = OrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        order = sources.order_place(customer=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        messages.success(request, f"Order #{order.pk} placed: the shop's staff were notified.")
        return redirect("notifications:shop")
    watches = PriceWatch.objects.filter(user_id=cast(int, request.user.pk))
    products = Product.objects.prefetch_related(Prefetch("watches", watches, to_attr="mine"))
    return render(
        request,
        "notifications/shop.html",
        {"products": products, "form": form, "watch_form": WatchForm(), "price_form": PriceForm()},
    )


@login_required
@require_POST
def watch(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    if "remove" in request.POST:
        sources.price_watch_remove(user=request.user, product=product)  # type: ignore[arg-type]
        return redirect("notifications:shop")
    form = WatchForm(request.POST)
    if form.is_valid():
        try:
            sources.price_watch_set(user=request.user, product=product, **form.cleaned_data)  # type: ignore[arg-type]
            messages.success(request, f"Watching {product.name}.")
        except SourceError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, "Give a threshold like 12.50.")
    return redirect("notifications:shop")


@user_passes_test(lambda user: user.is_active and user.is_staff)
@require_POST
def set_price(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    form = PriceForm(request.POST)
    if form.is_valid():
        try:
            _, notified = sources.product_set_price(product_id=product.pk, **form.cleaned_data)
        except services.NotifyInvalid:  # a name longer than a price drop's title allows
            messages.error(request, "Shorten the name of this product to announce its price drops.")
        else:
            messages.success(
                request, f"{product.name}: price set; {len(notified)} watcher(s) told."
            )
    else:
        messages.error(request, "Give a price like 12.50.")
    return redirect("notifications:shop")


@login_required
def friends(request: HttpRequest) -> HttpResponse:
    """Send friend requests; accept or decline the ones received."""
    form = FriendRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        to_user = get_user_model().objects.filter(
            username=form.cleaned_data["username"], is_active=True
        )
        target = to_user.first()
        if target is None:
            form.add_error("username", "No such user.")
        else:
            try:
                sources.friend_request_send(from_user=request.user, to_user=target)  # type: ignore[arg-type]
            except SourceError as exc:
                form.add_error("username", exc.message)
            else:
                messages.success(request, f"Friend request sent to {target.get_username()}.")
                return redirect("notifications:friends")
    me = request.user.pk
    requests = FriendRequest.objects.filter(Q(from_user=me) | Q(to_user=me)).select_related(
        "from_user", "to_user"
    )
    return render(request, "notifications/friends.html", {"form": form, "requests": requests})


@login_required
@require_POST
def answer(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        sources.friend_request_answer(
            request_id=pk,
            user=request.user,  # type: ignore[arg-type]
            accept=request.POST.get("answer") == "accept",
        )
    except FriendRequest.DoesNotExist:
        messages.error(request, "No such friend request.")
    except SourceError as exc:
        messages.error(request, exc.message)
    return redirect("notifications:friends")


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    """Recent system alerts; staff post a new one to everyone."""
    form = AlertForm(request.POST or None)
    if request.method == "POST":
        if not request.user.is_staff:
            return HttpResponse("Only staff post system alerts.", status=403)
        if form.is_valid():
            alert = sources.system_alert_post(author=request.user, **form.cleaned_data)
            messages.success(request, f"Alert sent to {alert.recipients} user(s).")
            return redirect("notifications:alerts")
    recent = SystemAlert.objects.order_by("-id")[:20]
    return render(request, "notifications/alerts.html", {"form": form, "alerts": recent})
