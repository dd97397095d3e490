"""Reading the text and metadata out of documents (PDF, Word, plain text)."""

import io
from typing import Any

from docx import Document
from pypdf import PdfReader

from workspace.uploads import DOCX

MAX_TEXT_CHARS = 1_000_000  # of extracted text kept per document; enough to search a long contract


def extract_text(content: bytes, *, content_type: str) -> tuple[str, dict[str, Any]]:
    if content_type == "application/pdf":
        reader = PdfReader(io.BytesIO(content))
        info = reader.metadata or {}
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
        metadata = {
            "pages": len(reader.pages),
            "title": str(info.get("/Title", "") or ""),
            "author": str(info.get("/Author", "") or ""),
        }
        return text[:MAX_TEXT_CHARS], metadata
    if content_type == DOCX:
        document = Document(io.BytesIO(content))
        text = "\n".join(paragraph.text for paragraph in document.paragraphs)
        properties = document.core_properties
        return text[:MAX_TEXT_CHARS], {"title": properties.title or "", "author": properties.author or ""}
    text = content.decode("utf-8", errors="replace")
    return text[:MAX_TEXT_CHARS], {"lines": text.count("\n") + 1}
