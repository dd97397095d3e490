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


def _dash(value: object) -> str:
    return "—" if value is None else str(value)


def render_journey_pdf(timeline: JourneyTimeline) -> tuple[bytes, int]:
    """Render the timeline; returns the PDF bytes and its page count."""
    from pypdf import PdfReader

    styles = getSampleStyleSheet()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, title=timeline.journey_name, author=timeline.participant, subject="Journey export"
    )
    story = [
        *_heading(timeline, styles),
        *_steps(timeline, styles),
        *_milestones(timeline, styles),
        *_decisions(timeline, styles),
        *_costs(timeline, styles),
        *_pictures(timeline, styles),
    ]
    doc.build(story)
    content = out.getvalue()
    return content, len(PdfReader(io.BytesIO(content)).pages)


def _heading(timeline: JourneyTimeline, styles) -> list:
    return [
        Paragraph(escape(timeline.journey_name), styles["Title"]),
        Paragraph(
            escape(
                f"Participant {timeline.participant} · {timeline.state}"
                f" · started {_when(timeline.started_at)} · ended {_when(timeline.ended_at)}"
            ),
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]


def _steps(timeline: JourneyTimeline, styles) -> list:
    title = Paragraph("Timeline", styles["Heading2"])
    if not timeline.steps:
        return [title, Paragraph("No steps have run yet.", styles["Normal"])]
    rows = [["Step", "Kind", "Status", "Started", "Finished"]]
    rows += [
        [s.step_key, s.kind, s.status, _when(s.started_at), _when(s.finished_at)] for s in timeline.steps
    ]
    return [title, _table(rows, [45 * mm, 25 * mm, 25 * mm, 35 * mm, 35 * mm])]


def _milestones(timeline: JourneyTimeline, styles) -> list:
    title = [Spacer(1, 4 * mm), Paragraph("Milestones", styles["Heading2"])]
    if not timeline.milestones:
        return [*title, Paragraph("No milestones.", styles["Normal"])]
    rows = [["Milestone", "Status", "Started", "Completed"]]
    rows += [[m.step_key, m.status, _when(m.started_at), _when(m.finished_at)] for m in timeline.milestones]
    return [*title, _table(rows, [60 * mm, 30 * mm, 40 * mm, 40 * mm])]


def _decisions(timeline: JourneyTimeline, styles) -> list:
    title = [Spacer(1, 4 * mm), Paragraph("Decisions", styles["Heading2"])]
    if not timeline.decisions:
        return [*title, Paragraph("No decisions recorded.", styles["Normal"])]
    rows = [["When", "Question", "Chosen", "Reasoning", "Status"]]
    for decision in timeline.decisions:
        status = "current" if decision.current else ("rolled back" if decision.rolled_back else "superseded")
        rows.append(
            [
                _when(decision.created_at),
                Paragraph(escape(decision.question), styles["BodyText"]),
                Paragraph(escape(decision.chosen), styles["BodyText"]),
                Paragraph(escape(decision.reasoning), styles["BodyText"]),
                status,
            ]
        )
    return [*title, _table(rows, [28 * mm, 40 * mm, 35 * mm, 55 * mm, 20 * mm])]


def _costs(timeline: JourneyTimeline, styles) -> list:
    budget = timeline.budget
    rows = [["Category", "Budget", "Spent", "Remaining", "Lowest quote", ""]]
    rows += [
        [
            line.category,
            _dash(line.budget),
            str(line.spent),
            _dash(line.remaining),
            _dash(line.quoted_low),
            "OVER BUDGET" if line.over_budget else "",
        ]
        for line in budget.categories
    ]
    rows.append(
        [
            "Total",
            _dash(budget.total_budget),
            str(budget.total_spent),
            _dash(budget.remaining),
            "",
            "OVER BUDGET" if budget.over_budget else "",
        ]
    )
    return [
        Spacer(1, 4 * mm),
        Paragraph(f"Costs ({budget.currency})", styles["Heading2"]),
        _table(rows, [40 * mm, 25 * mm, 25 * mm, 25 * mm, 28 * mm, 27 * mm]),
    ]


def _pictures(timeline: JourneyTimeline, styles) -> list:
    """Before-and-after pairs side by side, then the gallery, on a page of their own."""
    if not (timeline.pairs or timeline.images):
        return []
    story: list = [PageBreak(), Paragraph("Before and after", styles["Heading2"])]
    for pair in timeline.pairs:
        story += [
            Paragraph(escape(f"{pair.step_key or 'journey'}: {pair.note}"), styles["Normal"]),
            Table(
                [
                    ["Before", "After"],
                    [_picture(pair.before, GALLERY_WIDTH), _picture(pair.after, GALLERY_WIDTH)],
                ],
                colWidths=[GALLERY_WIDTH + 4 * mm] * 2,
            ),
            Spacer(1, 4 * mm),
        ]
    story.append(Paragraph("Gallery", styles["Heading2"]))
    for image in timeline.images:
        story += [
            _picture(image, GALLERY_WIDTH),
            Paragraph(
                escape(f"{image.filename} · {image.step_key or 'journey'} · {image.caption}"),
                styles["Italic"],
            ),
            Spacer(1, 3 * mm),
        ]
    return story
