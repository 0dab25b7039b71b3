"""Collab pages (document list, create, editor) and the admin's history pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client as HttpClient

from collab import services
from collab.models import Document
from tests.factories import UserFactory

from .factories import DocumentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user: Any) -> HttpClient:
    client = HttpClient()
    client.force_login(user)
    return client


def test_list_shows_the_documents_one_may_open(browser: HttpClient, user: Any) -> None:
    owner = UserFactory(username="owner")
    DocumentFactory(title="Open notes", owner=owner)
    DocumentFactory(title="Owner's secret", owner=owner, access="private")
    DocumentFactory(title="My secret", owner=user, access="private")
    page = browser.get("/docs/").content.decode()
    assert "Open notes" in page and "My secret" in page
    assert "Owner&#x27;s secret" not in page and "Owner's secret" not in page


def test_create_form_makes_a_document_and_opens_it(browser: HttpClient, user: Any) -> None:
    response = browser.post("/docs/", {"title": "Minutes", "access": "readonly"})
    document = Document.objects.get(title="Minutes")
    assert response.status_code == 302 and response["Location"] == f"/docs/{document.pk}/"
    assert (document.owner, document.access, document.version) == (user, "readonly", 0)


def test_create_form_shows_errors(browser: HttpClient) -> None:
    response = browser.post("/docs/", {"title": "", "access": "public"})
    assert response.status_code == 200 and not Document.objects.exists()


def test_editor_page_loads_its_script(browser: HttpClient, user: Any) -> None:
    document = DocumentFactory(title="Notes", owner=user)
    page = browser.get(f"/docs/{document.pk}/").content.decode()
    assert f'data-doc="{document.pk}"' in page
    assert "collab/editor.js" in page and 'id="editor"' in page


def test_editor_page_of_a_private_document_is_forbidden(browser: HttpClient) -> None:
    document = DocumentFactory(owner=UserFactory(username="owner"), access="private")
    response = browser.get(f"/docs/{document.pk}/")
    assert response.status_code == 403 and "private" in response.content.decode()
    assert browser.get("/docs/999999/").status_code == 404


def test_pages_ask_to_log_in() -> None:
    response = HttpClient().get("/docs/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_admin_history_lists_ops_and_rebuilds_past_text(settings: Any) -> None:
    settings.COLLAB_SNAPSHOT_EVERY = 2
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    document = services.doc_create(owner=staff, title="Log", content="ab")
    for version, text in enumerate(["1", "2", "3"]):
        services.doc_apply_op(
            document_id=document.pk,
            user=staff,
            socket_id="s",
            base_version=version,
            components=[{"type": "insert", "position": 0, "text": text}],
            op_id=f"op{version}",
        )
    client = HttpClient()
    client.force_login(staff)
    page = client.get(f"/admin/collab/document/{document.pk}/ops/").content.decode()
    assert "op0" in page and "op2" in page and "version 2" in page
    past = client.get(f"/admin/collab/document/{document.pk}/ops/?version=1").content.decode()
    assert "Text at version 1" in past and "<pre" in past and "1ab" in past
    assert client.get("/admin/collab/document/").status_code == 200
    assert client.get(f"/admin/collab/document/{document.pk}/change/").status_code == 200


def test_admin_add_goes_through_the_service() -> None:
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client = HttpClient()
    client.force_login(staff)
    form = {"title": "From admin", "owner": staff.pk, "access": "public", "content": "hi"}
    response = client.post("/admin/collab/document/add/", form)
    assert response.status_code == 302
    document = Document.objects.get(title="From admin")
    assert document.snapshots.get().content == "hi"
