"""The neutral form document the engine files with a form's copies (issue 8): what it holds,
where it travels, and that its file name says nothing about the child."""

from __future__ import annotations

from support import CHILD_DOB, CHILD_NAME, app, current, escalate_to, pending, raise_case

from bot.bootstrap import App
from dialogs.documents import document_file_name
from dialogs.notifications import RecipientKind

__all__ = ["app"]


def test_a_form_copy_carries_its_document_and_channels_never_do(app: App) -> None:
    case = raise_case(app, "havenport")  # St Helens: a colour form at every stage
    case = escalate_to(app, case, 2)
    notes = pending(app, case)
    filed = [n for n in notes if n.kind.startswith("form-")]
    assert filed, "St Helens files a notification form at stage 2"
    for note in filed:
        (document,) = note.documents
        assert document.case_reference == current(app, case).reference
        assert CHILD_NAME in document.all_text()  # it is the child's record
        name = document_file_name(document, "pdf")
        assert name.startswith(document.case_reference) and name.endswith(".pdf")
        for secret in (CHILD_NAME, "Jamie", CHILD_DOB.isoformat(), CHILD_DOB.strftime("%d%m%Y")):
            assert secret not in name
    for note in notes:
        if note.recipient.kind in (RecipientKind.CHANNEL, RecipientKind.WEBHOOK):
            assert note.documents == []
