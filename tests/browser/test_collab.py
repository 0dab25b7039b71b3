"""The collaborative editor in real browsers: concurrent typing, cursors, undo, reconnects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from collab.models import Document
from tests.collab.factories import DocumentFactory
from tests.factories import UserFactory
from tests.servers import Server

# Types `text` into the focused textarea one character at a time, as keystrokes
# would (each an `input` event), starting at wall-clock time `start` (ms) so
# that two pages type at the same moment. Sets window.typingDone when done.
TYPE_AT = """([text, start, every]) => {
  window.typingDone = false;
  const chars = Array.from(text);
  const area = document.getElementById('editor');
  const step = () => {
    area.focus();
    document.execCommand('insertText', false, chars.shift());
    if (chars.length) setTimeout(step, every); else window.typingDone = true;
  };
  setTimeout(step, Math.max(0, start - Date.now()));
}"""


def open_doc(open_page: Callable[..., Page], username: str, doc: Document) -> Page:
    page = open_page(username, f"/docs/{doc.pk}/")
    expect(page.locator("#collab")).to_have_attribute("data-state", "open")
    expect(page.locator("#editor")).to_have_value(doc.content)
    return page


def put_caret(page: Page, position: int) -> None:
    page.evaluate(
        "(at) => { const a = document.getElementById('editor');"
        " a.focus(); a.setSelectionRange(at, at); }",
        position,
    )


def settled(doc: Document, *pages: Page) -> str:
    """Wait until every page has sent all it typed and shows the server's text; return it."""
    for page in pages:
        # A function, not an expression: Playwright evals expressions, which the CSP forbids.
        page.wait_for_function("() => window.typingDone !== false")
        expect(page.locator("#collab")).to_have_attribute("data-idle", "true")
    doc.refresh_from_db()
    for page in pages:
        expect(page.locator("#collab")).to_have_attribute("data-version", str(doc.version))
        expect(page.locator("#editor")).to_have_value(doc.content)
    return doc.content


def test_two_people_typing_at_one_spot_at_once_see_the_same_text(
    open_page: Callable[..., Page],
) -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")
    doc = DocumentFactory(title="Shared", content="Hello world")
    alice = open_doc(open_page, "alice", doc)
    bob = open_doc(open_page, "bob", doc)
    put_caret(alice, 6)
    put_caret(bob, 6)
    start = alice.evaluate("Date.now()") + 300
    bob.evaluate(TYPE_AT, ["bob was 👍 here ", start, 15])
    # Alice types with real key presses while bob's page types on its own.
    alice.keyboard.type("alice 🎉 too ", delay=15)
    text = settled(doc, alice, bob)
    assert "alice 🎉 too " in text
    assert "bob was 👍 here " in text
    assert text.startswith("Hello ") and text.endswith("world")
    assert len(text) == len("Hello world") + len("alice 🎉 too ") + len("bob was 👍 here ")


def test_each_sees_the_others_cursor_and_presence(open_page: Callable[..., Page]) -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")
    doc = DocumentFactory(title="Cursors", content="one two three")
    alice = open_doc(open_page, "alice", doc)
    bob = open_doc(open_page, "bob", doc)
    put_caret(bob, 4)
    caret = alice.locator('.remote-caret[data-user="bob"]')
    expect(caret).to_be_visible()
    expect(caret.locator(".remote-name")).to_have_text("bob")
    expect(alice.locator('#peers .person[data-user="bob"]')).to_be_visible()
    expect(bob.locator('.remote-caret[data-user="alice"]')).to_be_visible()
    # The caret follows the text: alice types before it, it moves right.
    # (The overlay redraws its carets, so read the position from the live
    # element and wait for it to move, rather than from a snapshot of a box.)
    caret_x = "e => e.getBoundingClientRect().x"
    before = caret.evaluate(caret_x)
    put_caret(alice, 0)
    alice.keyboard.type(">>> ")
    settled(doc, alice, bob)
    alice.wait_for_function(
        """([selector, before]) => {
            const caret = document.querySelector(selector);
            return caret !== null && caret.getBoundingClientRect().x > before;
        }""",
        arg=['.remote-caret[data-user="bob"]', before],
    )
    assert caret.evaluate(caret_x) > before
    bob.close()
    expect(caret).to_have_count(0)
    expect(alice.locator('#peers .person[data-user="bob"]')).to_have_count(0)


def test_undo_takes_back_only_ones_own_typing(open_page: Callable[..., Page]) -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")
    doc = DocumentFactory(title="Undo", content="[]")
    alice = open_doc(open_page, "alice", doc)
    bob = open_doc(open_page, "bob", doc)
    put_caret(alice, 1)
    alice.keyboard.type("mine")
    settled(doc, alice, bob)
    put_caret(bob, 1)
    bob.keyboard.type("theirs ")
    assert settled(doc, alice, bob) == "[theirs mine]"
    alice.locator("#editor").press("Control+z")
    assert settled(doc, alice, bob) == "[theirs ]"
    alice.locator("#editor").press("Control+Shift+z")
    assert settled(doc, alice, bob) == "[theirs mine]"


def test_typing_through_a_lost_connection_is_neither_lost_nor_doubled(
    open_page: Callable[..., Page], site_server: Server, servers: Callable[..., Server]
) -> None:
    UserFactory(username="alice")
    UserFactory(username="bob")
    doc = DocumentFactory(title="Lid", content="")
    alice = open_doc(open_page, "alice", doc)
    put_caret(alice, 0)
    alice.keyboard.type("before the lid closed, ")
    site_server.kill()  # mid-sentence: the link dies, whatever was on the wire
    expect(alice.locator("#collab")).not_to_have_attribute("data-state", "open")
    alice.keyboard.type("typed while away, ")
    servers(port=site_server.port)
    expect(alice.locator("#collab")).to_have_attribute("data-state", "open", timeout=30_000)
    alice.keyboard.type("and after.")
    expected = "before the lid closed, typed while away, and after."
    assert settled(doc, alice) == expected
    bob = open_doc(open_page, "bob", doc)
    expect(bob.locator("#editor")).to_have_value(expected)


def test_read_only_document_cannot_be_typed_into(open_page: Callable[..., Page]) -> None:
    owner = UserFactory(username="owner")
    UserFactory(username="alice")
    doc = DocumentFactory(title="Rules", content="fixed", owner=owner, access="readonly")
    alice = open_doc(open_page, "alice", doc)
    expect(alice.locator("#read-only")).to_be_visible()
    expect(alice.locator("#editor")).not_to_be_editable()


def test_a_document_of_the_largest_size_opens_and_takes_an_edit(
    open_page: Callable[..., Page], settings: Any
) -> None:
    UserFactory(username="alice")
    # Four bytes of UTF-8 (two UTF-16 units) in every fourth code point: over 4 MB on the wire.
    content = ("\U0001f600ab\n" * (settings.COLLAB_MAX_LENGTH // 4))[:-1]
    doc = DocumentFactory(title="Large", content=content)
    page = open_page("alice", f"/docs/{doc.pk}/")
    expect(page.locator("#collab")).to_have_attribute("data-state", "open", timeout=60_000)
    shown = page.evaluate("document.getElementById('editor').value")
    assert shown == content
    put_caret(page, len(content.encode("utf-16-le")) // 2)
    page.keyboard.type("!")
    doc.refresh_from_db()
    assert settled(doc, page) == content + "!"
