"""A renovation journey, its owner, the people it is shared with, and files to upload."""

import io

import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from rest_framework.test import APIClient

from journeys.services.enrolment import user_journey_enrol
from tests.journeys.factories import UserFactory, make_journey
from workspace.models import Collaborator, Role, Workspace

RENOVATION_STEPS = [
    {"key": "design", "name": "Design", "kind": "manual", "is_milestone": True, "next_steps": ["quotes"]},
    {
        "key": "quotes",
        "name": "Collect quotes",
        "kind": "manual",
        "is_milestone": True,
        "next_steps": ["build"],
    },
    {"key": "build", "name": "Build", "kind": "manual", "is_milestone": True, "completion": True},
]


@pytest.fixture
def renovation(db):
    return make_journey(RENOVATION_STEPS, name="Kitchen renovation", trigger_type="", re_entry="always")


@pytest.fixture
def owner(db):
    return UserFactory(username="maria", email="maria@example.com")


@pytest.fixture
def user_journey(renovation, owner):
    return user_journey_enrol(journey=renovation, user_id=owner.username)


@pytest.fixture
def workspace(user_journey) -> Workspace:
    return Workspace.objects.get_or_create(user_journey=user_journey)[0]


@pytest.fixture
def collaborator(workspace):
    """``collaborator("editor")``: a user holding that role in the workspace."""

    def make(role: str, username: str | None = None):
        user = UserFactory(username=username or f"{role}-person", email=f"{role}@example.com")
        Collaborator.objects.create(workspace=workspace, user=user, role=role)
        return user

    return make


@pytest.fixture
def client_as():
    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def base_url(user_journey) -> str:
    return f"/api/v1/user-journeys/{user_journey.pk}"


def image_bytes(
    *, size=(64, 48), color=(200, 30, 30), fmt="PNG", exif: bytes | None = None, pattern: bool = True
) -> bytes:
    image = Image.new("RGB", size, color)
    if pattern:  # some structure, so perceptual hashes differ between pictures
        for x in range(0, size[0], 8):
            for y in range(0, size[1] // 2):
                image.putpixel((x, y), (255 - color[0], 255 - color[1], 255 - color[2]))
    out = io.BytesIO()
    image.save(out, fmt, **({"exif": exif} if exif else {}))
    return out.getvalue()


def gps_exif() -> bytes:
    """EXIF with a GPS position (Oslo), as a phone camera writes it."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "N", 2: (59.0, 54.0, 0.0), 3: "E", 4: (10.0, 45.0, 0.0)}
    exif[0x8825] = gps  # GPSInfo
    return exif.tobytes()


def pdf_bytes(text: str = "Quote for kitchen cabinets: oak, 8700 EUR", *, title="Cabinet quote") -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle(title)
    pdf.setAuthor("Nordic Kitchens AS")
    pdf.drawString(72, 720, text)
    pdf.showPage()
    pdf.drawString(72, 720, "Page two: delivery in six weeks")
    pdf.save()
    return out.getvalue()


ROLES = [Role.EDITOR, Role.COMMENTER, Role.VIEWER]
