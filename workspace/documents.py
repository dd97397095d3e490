"""Reading the text and metadata out of documents (PDF, plain text)."""

import io
from typing import Any

from pypdf import PdfReader

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
    text = content.decode("utf-8", errors="replace")
    return text[:MAX_TEXT_CHARS], {"lines": text.count("\n") + 1}
