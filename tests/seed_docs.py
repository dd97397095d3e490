"""The requirement documents' examples, read from the documents themselves.

The documents live in ``shared/seeds/`` beside the repository (``../shared`` from its root; for a
git worktree, beside the main checkout). ``SEED_DOCS_DIR`` points elsewhere. A test that needs a
document fails, naming where it looked, when the folder is absent: an example is an acceptance
test and must not be skipped quietly.
"""

import ast
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _candidates() -> list[Path]:
    found = []
    if os.environ.get("SEED_DOCS_DIR"):
        found.append(Path(os.environ["SEED_DOCS_DIR"]))
    found.append(REPO_ROOT.parent / "shared" / "seeds")
    git = REPO_ROOT / ".git"
    if git.is_file():  # a worktree: ``gitdir: <main>/.git/worktrees/<name>``
        gitdir = Path(git.read_text().split(":", 1)[1].strip())
        common = gitdir / "commondir"
        main_git = (gitdir / common.read_text().strip()).resolve() if common.exists() else gitdir.parents[1]
        found.append(main_git.parent.parent / "shared" / "seeds")
    return found


def seeds_dir() -> Path:
    candidates = _candidates()
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    pytest.fail(
        "The requirement documents are missing: looked in "
        + ", ".join(str(c) for c in candidates)
        + " (copy shared/ beside the repository or set SEED_DOCS_DIR).",
        pytrace=False,
    )


def seed_text(number: str) -> str:
    """The text of seed ``number`` (``"003"``)."""
    matches = sorted(seeds_dir().glob(f"{number}_*.txt"))
    if not matches:
        pytest.fail(f"No seed {number}_*.txt in {seeds_dir()}.", pytrace=False)
    return matches[0].read_text(encoding="utf-8")


def code_blocks(text: str, lang: str | None = None) -> list[str]:
    return [body for fence_lang, body in FENCE.findall(text) if lang is None or fence_lang == lang]


def request_body(number: str, request_line: str) -> dict[str, Any]:
    """The JSON body shown under ``request_line`` (e.g. ``POST /api/v1/journeys``) in a block."""
    for block in code_blocks(seed_text(number)):
        lines = block.splitlines()
        if lines and lines[0].strip() == request_line:
            start = block.index("{")
            body, _ = json.JSONDecoder().raw_decode(block[start:])
            return body
    pytest.fail(f"Seed {number} shows no request {request_line!r}.", pytrace=False)


def python_literal(number: str, containing: str) -> Any:
    """The Python literal (a dict) of the first ``python`` block containing ``containing``."""
    for block in code_blocks(seed_text(number), "python"):
        if containing in block:
            return ast.literal_eval(block.strip())
    pytest.fail(f"Seed {number} has no python block containing {containing!r}.", pytrace=False)


def yaml_blocks(number: str, containing: str) -> list[Any]:
    """Every ``yaml`` block of seed ``number`` containing ``containing``, parsed."""
    blocks = [yaml.safe_load(b) for b in code_blocks(seed_text(number), "yaml") if containing in b]
    if not blocks:
        pytest.fail(f"Seed {number} has no yaml block containing {containing!r}.", pytrace=False)
    return blocks
