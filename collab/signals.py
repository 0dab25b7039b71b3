"""Announce a peer's departure however its row goes.

A Peer row is deleted with its socket's registry row: on a normal close, and
also when another process sweeps the sockets of a process that died. The
second case runs no consumer code of ours, so the announcement hangs on the
row's deletion instead.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Peer
from .peers import peer_left_announce


@receiver(post_delete, sender=Peer, dispatch_uid="collab.peer_left")
def peer_deleted(sender: type[Peer], instance: Peer, **kwargs: Any) -> None:
    """Tell the document's other sockets to drop this peer's cursor (after the commit)."""
    peer_left_announce(peer=instance)
