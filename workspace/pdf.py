"""The journey as a PDF (ReportLab): timeline, milestones, decisions, costs, images."""

import io
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from workspace.selectors import JourneyTimeline

GALLERY_WIDTH = 80 * mm  # each picture of the gallery; two fit side by side on A4


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _table(rows: list[list[str]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#264b5d")),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _picture(attachment, width: float) -> Image | Paragraph:
    with attachment.file.open("rb") as handle:
        data = io.BytesIO(handle.read())
    ratio = (attachment.height or 1) / (attachment.width or 1)
    return Image(data, width=width, height=width * ratio)


def render_journey_pdf(timeline: JourneyTimeline) -> tuple[bytes, int]:
    """Render the timeline; returns the PDF bytes and its page count."""
    styles = getSampleStyleSheet()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, title=timeline.journey_name, author=timeline.participant, subject="Journey export"
    )
    story: list = [
        Paragraph(escape(timeline.journey_name), styles["Title"]),
        Paragraph(
            escape(
                f"Participant {timeline.participant} · {timeline.state}"
                f" · started {_when(timeline.started_at)} · ended {_when(timeline.ended_at)}"
            ),
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
        Paragraph("Timeline", styles["Heading2"]),
    ]
    rows = [["Step", "Kind", "Status", "Started", "Finished"]]
    rows += [
        [s.step_key, s.kind, s.status, _when(s.started_at), _when(s.finished_at)] for s in timeline.steps
    ]
    story.append(
        _table(rows, [45 * mm, 25 * mm, 25 * mm, 35 * mm, 35 * mm])
        if timeline.steps
        else Paragraph("No steps have run yet.", styles["Normal"])
    )
    story += [Spacer(1, 4 * mm), Paragraph("Milestones", styles["Heading2"])]
    if timeline.milestones:
        rows = [["Milestone", "Status", "Started", "Completed"]]
        rows += [
            [m.step_key, m.status, _when(m.started_at), _when(m.finished_at)] for m in timeline.milestones
        ]
        story.append(_table(rows, [60 * mm, 30 * mm, 40 * mm, 40 * mm]))
    else:
        story.append(Paragraph("No milestones.", styles["Normal"]))

    story += [Spacer(1, 4 * mm), Paragraph("Decisions", styles["Heading2"])]
    if timeline.decisions:
        rows = [["When", "Question", "Chosen", "Reasoning", "Status"]]
        for decision in timeline.decisions:
            status = (
                "current" if decision.current else ("rolled back" if decision.rolled_back else "superseded")
            )
            rows.append(
                [
                    _when(decision.created_at),
                    Paragraph(escape(decision.question), styles["BodyText"]),
                    Paragraph(escape(decision.chosen), styles["BodyText"]),
                    Paragraph(escape(decision.reasoning), styles["BodyText"]),
                    status,
                ]
            )
        story.append(_table(rows, [28 * mm, 40 * mm, 35 * mm, 55 * mm, 20 * mm]))
    else:
        story.append(Paragraph("No decisions recorded.", styles["Normal"]))

    budget = timeline.budget
    story += [Spacer(1, 4 * mm), Paragraph(f"Costs ({budget.currency})", styles["Heading2"])]
    rows = [["Category", "Budget", "Spent", "Remaining", "Lowest quote", ""]]
    for line in budget.categories:
        rows.append(
            [
                line.category,
                str(line.budget if line.budget is not None else "—"),
                str(line.spent),
                str(line.remaining if line.remaining is not None else "—"),
                str(line.quoted_low if line.quoted_low is not None else "—"),
                "OVER BUDGET" if line.over_budget else "",
            ]
        )
    rows.append(
        [
            "Total",
            str(budget.total_budget if budget.total_budget is not None else "—"),
            str(budget.total_spent),
            str(budget.remaining if budget.remaining is not None else "—"),
            "",
            "OVER BUDGET" if budget.over_budget else "",
        ]
    )
    story.append(_table(rows, [40 * mm, 25 * mm, 25 * mm, 25 * mm, 28 * mm, 27 * mm]))

    if timeline.pairs or timeline.images:
        story += [PageBreak(), Paragraph("Before and after", styles["Heading2"])]
        for pair in timeline.pairs:
            story.append(Paragraph(escape(f"{pair.step_key or 'journey'}: {pair.note}"), styles["Normal"]))
            story.append(
                Table(
                    [
                        ["Before", "After"],
                        [_picture(pair.before, GALLERY_WIDTH), _picture(pair.after, GALLERY_WIDTH)],
                    ],
                    colWidths=[GALLERY_WIDTH + 4 * mm] * 2,
                )
            )
            story.append(Spacer(1, 4 * mm))
        story.append(Paragraph("Gallery", styles["Heading2"]))
        for image in timeline.images:
            story.append(_picture(image, GALLERY_WIDTH))
            story.append(
                Paragraph(
                    escape(f"{image.filename} · {image.step_key or 'journey'} · {image.caption}"),
                    styles["Italic"],
                )
            )
            story.append(Spacer(1, 3 * mm))

    doc.build(story)
    content = out.getvalue()
    from pypdf import PdfReader

    return content, len(PdfReader(io.BytesIO(content)).pages)
