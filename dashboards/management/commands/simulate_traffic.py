"""Place orders, likes, shares and chat messages for a while, so dashboards move."""

from __future__ import annotations

import importlib
import inspect
import random
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.models import Room
from chat.services import room_post_message
from dashboards.services import engagement_record
from notifications.models import Order

ITEMS = ["Coffee beans", "Tea sampler", "Mug", "Notebook", "Headphones", "Desk lamp", "Backpack"]
LINES = ["Anyone around?", "Just placed an order", "Nice numbers today", "Hello from the demo"]
# How often each kind of action is picked.
MIX = {"order": 35, "like": 40, "share": 15, "message": 10}
MAX_SECONDS = 3600
MAX_RATE = 100

OrderPlacer = Callable[..., Any]


def order_placer() -> OrderPlacer:
    """The shop's own `order_place(customer=, item=, amount=)`, which also notifies staff.

    Without it, orders are stored directly: they count on dashboards, but
    nobody is notified.
    """
    for module_name in ("notifications.sources", "notifications.services"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        place = getattr(module, "order_place", None)
        if place is not None and {"customer", "item", "amount"} <= set(
            inspect.signature(place).parameters
        ):
            return place

    def create(*, customer: Any, item: str, amount: Decimal) -> Order:
        return Order.objects.create(customer=customer, item=item, amount=amount)

    return create


def _bounded(value: int, name: str, top: int) -> int:
    if not 1 <= value <= top:
        raise CommandError(f"--{name} must be between 1 and {top}")
    return value


class Command(BaseCommand):
    help = (
        "Simulate shop and chat traffic: orders, likes, shares and chat messages by the "
        "demo users, at --rate actions per second for --seconds seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=int, default=60, help="how long (1-3600, 60)")
        parser.add_argument("--rate", type=int, default=5, help="actions per second (1-100, 5)")
        parser.add_argument("--room", default="lobby", help="chat room for messages (lobby)")
        parser.add_argument("--seed", type=int, default=None, help="random seed")

    def handle(self, *args: Any, **options: Any) -> None:
        seconds = _bounded(options["seconds"], "seconds", MAX_SECONDS)
        rate = _bounded(options["rate"], "rate", MAX_RATE)
        rng = random.Random(options["seed"])
        users = list(get_user_model().objects.filter(is_active=True, is_staff=False)[:50])
        if not users:
            raise CommandError("no users to act as: run `python manage.py demo` first")
        room = Room.objects.filter(slug=options["room"], is_private=False).first()
        place = order_placer()
        done: Counter[str] = Counter()
        started = time.monotonic()
        for step in range(seconds * rate):
            # Spread the actions evenly: action `step` is due at step / rate seconds.
            time.sleep(max(0.0, started + step / rate - time.monotonic()))
            kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
            if kind == "message" and room is None:
                kind = "like"
            self.act(kind, rng.choice(users), rng, place, room)
            done[kind] += 1
            if (step + 1) % rate == 0:
                summary = ", ".join(f"{name}s: {done[name]}" for name in MIX)
                self.stdout.write(f"{(step + 1) // rate:>4} s  {summary}")
        self.stdout.write(self.style.SUCCESS(f"done: {sum(done.values())} actions"))

    def act(
        self, kind: str, user: Any, rng: random.Random, place: OrderPlacer, room: Room | None
    ) -> None:
        if kind == "order":
            amount = Decimal(rng.randint(500, 12000)) / 100
            place(customer=user, item=rng.choice(ITEMS), amount=amount)
        elif kind == "message" and room is not None:
            room_post_message(room=room, user=user, body=rng.choice(LINES))
        else:
            engagement_record(kind=kind, user=user)
