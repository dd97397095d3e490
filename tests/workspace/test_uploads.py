"""Uploads are checked by content, cleaned, analysed, stored, and documents become searchable."""

import io
import zipfile

import pytest
from PIL import Image

from tests.workspace.conftest import gps_exif, image_bytes, pdf_bytes
from workspace.models import Activity, Attachment
from workspace.uploads import hamming


def upload(client, base_url, content: bytes, name: str, **fields):
    file = io.BytesIO(content)
    file.name = name
    return client.post(f"{base_url}/attachments", {"file": file, **fields}, format="multipart")


def test_an_image_is_reencoded_without_its_gps_metadata(client_as, owner, base_url):
    original = image_bytes(fmt="JPEG", exif=gps_exif())
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825)  # the phone wrote a position

    response = upload(client_as(owner), base_url, original, "IMG_0001.jpg", step_key="design")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "image" and body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (64, 48)
    assert body["dominant_colors"][0].startswith("#") and len(body["phash"]) == 16
    stored = Attachment.objects.get(pk=body["id"])
    with stored.file.open("rb") as handle:
        clean = Image.open(io.BytesIO(handle.read()))
    assert not clean.getexif()  # no EXIF at all, so no GPS
    assert stored.thumbnail and stored.step_key == "design"
    content = client_as(owner).get(f"{base_url}/attachments/{body['id']}/content?thumbnail=1")
    assert content.status_code == 200 and content["Content-Type"] == "image/jpeg"


def test_the_type_comes_from_the_content_not_the_name(client_as, owner, base_url):
    response = upload(client_as(owner), base_url, image_bytes(), "contract.pdf")

    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"
    assert response.json()["filename"] == "contract.png"


def test_filenames_are_sanitised(client_as, owner, base_url):
    response = upload(client_as(owner), base_url, b"plain notes\n", "../../etc/pa\x00ss<wd>.txt")

    assert response.status_code == 201
    assert response.json()["filename"] == "pass-wd.txt"  # no path, no markup characters


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.txt", "empty"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "setup.exe.jpg", "not accepted"),
        (b"\x00\x01\x02binary\x00", "data.txt", "not accepted"),
    ],
)
def test_files_of_other_types_are_refused_with_a_message(client_as, owner, base_url, content, name, message):
    response = upload(client_as(owner), base_url, content, name)

    assert response.status_code == 400
    assert message in response.json()["file"][0]
    assert not Attachment.objects.exists()


def test_a_zip_bomb_is_refused_without_being_opened(client_as, owner, base_url):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.txt", b"0" * 50_000_000)  # 50 MB of zeros, ~50 KB compressed
    response = upload(client_as(owner), base_url, out.getvalue(), "photos.zip")

    assert response.status_code == 400
    assert "application/zip" in response.json()["file"][0]


def test_a_decompression_bomb_image_is_refused(client_as, owner, base_url):
    huge = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(huge, "PNG")  # 400 megapixels in a few KB
    response = upload(client_as(owner), base_url, huge.getvalue(), "wall.png")

    assert response.status_code == 400
    assert "too many pixels" in response.json()["file"][0]


def test_an_oversized_file_is_refused(client_as, owner, base_url, settings):
    settings.WORKSPACE_MAX_UPLOAD_BYTES = 1024 * 1024
    response = upload(client_as(owner), base_url, b"a" * (1024 * 1024 + 1), "big.txt")

    assert response.status_code == 400
    assert "larger than 1 MB" in response.json()["file"][0]


def test_a_document_is_read_and_found_by_search(
    client_as, owner, base_url, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client_as(owner), base_url, pdf_bytes(), "cabinets.pdf", step_key="quotes")

    assert response.status_code == 201
    document = Attachment.objects.get(pk=response.json()["id"])
    assert document.text_status == "done"
    assert document.metadata == {"pages": 2, "title": "Cabinet quote", "author": "Nordic Kitchens AS"}
    hits = client_as(owner).get(f"{base_url}/search", {"q": "oak cabinets"}).json()
    assert [hit["id"] for hit in hits] == [document.pk]
    assert "oak" in hits[0]["excerpt"]
    assert client_as(owner).get(f"{base_url}/search", {"q": "bathtub"}).json() == []
    assert client_as(owner).get(f"{base_url}/search").status_code == 400


def test_near_duplicates_and_before_after_pairs(client_as, owner, base_url):
    client = client_as(owner)
    before = upload(client, base_url, image_bytes(color=(200, 30, 30)), "before.png", step_key="build").json()
    again = upload(client, base_url, image_bytes(color=(198, 32, 30)), "again.png", step_key="build").json()
    after = upload(
        client, base_url, image_bytes(color=(20, 120, 220), pattern=False), "after.png", step_key="build"
    ).json()
    assert hamming(before["phash"], again["phash"]) <= 10

    near = client.get(f"{base_url}/attachments/{before['id']}/near-duplicates").json()
    assert [row["attachment"]["id"] for row in near] == [again["id"]]

    pair = client.post(
        f"{base_url}/before-after", {"before": before["id"], "after": after["id"], "note": "done"}
    )
    assert pair.status_code == 201
    assert pair.json()["step_key"] == "build"
    assert client.get(f"{base_url}/before-after").json()["results"][0]["after"]["id"] == after["id"]
    same = client.post(f"{base_url}/before-after", {"before": before["id"], "after": before["id"]})
    assert same.status_code == 400 and "after" in same.json()


def test_deleting_a_file_hides_it_and_is_recorded(client_as, owner, base_url):
    client = client_as(owner)
    attachment = upload(client, base_url, image_bytes(), "a.png").json()

    assert client.delete(f"{base_url}/attachments/{attachment['id']}").status_code == 204
    assert client.get(f"{base_url}/attachments/{attachment['id']}").status_code == 404
    assert client.get(f"{base_url}/attachments").json()["results"] == []
    assert Attachment.objects.deleted().count() == 1
    assert list(Activity.objects.values_list("verb", flat=True).order_by("id")) == [
        "attachment.uploaded",
        "attachment.deleted",
    ]


def docx_bytes(text: str) -> bytes:
    from docx import Document

    document = Document()
    document.core_properties.title = "Tiling contract"
    document.core_properties.author = "Tile Masters"
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_word_document_is_read_and_found(client_as, owner, base_url, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client_as(owner), base_url, docx_bytes("Grout colour: anthracite"), "contract.docx")

    assert response.status_code == 201
    assert response.json()["filename"] == "contract.docx"
    document = Attachment.objects.get(pk=response.json()["id"])
    assert (document.text_status, document.metadata) == (
        "done",
        {"title": "Tiling contract", "author": "Tile Masters"},
    )
    hits = client_as(owner).get(f"{base_url}/search", {"q": "anthracite"}).json()
    assert [hit["id"] for hit in hits] == [document.pk]


def test_a_word_document_that_unpacks_to_too_much_is_refused(client_as, owner, base_url):
    swollen = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(docx_bytes("x"))) as original,
        zipfile.ZipFile(swollen, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for member in original.infolist():
            archive.writestr(member, original.read(member))
        archive.writestr("word/media/padding.xml", b"0" * 60_000_000)  # 60 MB of zeros, ~60 KB packed
    response = upload(client_as(owner), base_url, swollen.getvalue(), "contract.docx")

    assert response.status_code == 400
    assert "unpacks to too much" in response.json()["file"][0]
