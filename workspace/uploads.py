"""Checking and preparing uploaded files: type by content, sanitised names, clean images.

1. The type is sniffed from the first bytes (``filetype``); the name and the client's
   Content-Type are ignored. Only the types in ``ALLOWED_TYPES`` are accepted.
2. Names are reduced to a safe basename with the detected type's extension.
3. Images are opened with Pillow under a pixel bound (decompression bombs are refused),
   re-encoded without their metadata (EXIF, GPS, comments), thumbnailed, measured (size,
   dominant colours) and hashed perceptually (``imagehash``) to find near-duplicates.
4. Documents keep their bytes (an office document only once its unpacked size is checked); text
   and metadata are extracted later by a task.
"""

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath

import filetype
import imagehash
from PIL import Image, ImageOps

from journeys.errors import ValidationFailed

IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCUMENT_TYPES = {"application/pdf": "pdf", "text/plain": "txt", DOCX: "docx"}
MAX_UNZIPPED_BYTES = 50 * 1024 * 1024  # an office file's parts, unpacked; more is refused as a bomb
MAX_UNZIP_RATIO = 100  # unpacked ÷ packed; ordinary documents stay far below
ALLOWED_TYPES = {**IMAGE_TYPES, **DOCUMENT_TYPES}
MAX_IMAGE_PIXELS = 40_000_000  # ~ a 7,700 x 5,200 photo; larger is refused as a possible bomb
THUMBNAIL_SIZE = (320, 320)  # pixels, aspect kept
DOMINANT_COLORS = 5


@dataclass
class PreparedUpload:
    kind: str  # "image" | "document"
    content_type: str
    filename: str
    content: bytes
    sha256: str
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None
    dominant_colors: list[str] = field(default_factory=list)
    phash: str = ""


def prepare_upload(*, content: bytes, filename: str, max_bytes: int) -> PreparedUpload:
    """Check an upload and turn it into what is stored; ``ValidationFailed`` names the field."""
    if not content:
        raise ValidationFailed({"file": ["The file is empty."]})
    if len(content) > max_bytes:
        raise ValidationFailed({"file": [f"The file is larger than {max_bytes // (1024 * 1024)} MB."]})
    content_type = sniff_type(content)
    if content_type not in ALLOWED_TYPES:
        allowed = ", ".join(sorted(ALLOWED_TYPES))
        raise ValidationFailed(
            {"file": [f"Files of type {content_type or 'unknown'} are not accepted (allowed: {allowed})."]}
        )
    name = sanitise_filename(filename, extension=ALLOWED_TYPES[content_type])
    if content_type == DOCX:
        _check_archive(content)
    if content_type in IMAGE_TYPES:
        return _prepare_image(content, name, lossless=content_type in {"image/png", "image/gif"})
    return PreparedUpload(
        kind="document",
        content_type=content_type,
        filename=name,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def sniff_type(content: bytes) -> str | None:
    kind = filetype.guess(content[:8192])
    if kind is not None:
        return kind.mime
    return "text/plain" if _looks_like_text(content) else None


def _looks_like_text(content: bytes) -> bool:
    sample = content[:65536]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the sample's end is still text.
        return error.start >= len(sample) - 3
    return True


def _check_archive(content: bytes) -> None:
    """An office document is a zip: refuse it before anything unpacks it if it would swell."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile:
        raise ValidationFailed({"file": ["The document cannot be read."]}) from None
    if unpacked > MAX_UNZIPPED_BYTES or unpacked > MAX_UNZIP_RATIO * len(content):
        raise ValidationFailed({"file": ["The document unpacks to too much data."]})


def sanitise_filename(filename: str, *, extension: str) -> str:
    """A safe basename: no path, no control or odd characters, the true type's extension."""
    base = PurePath(str(filename).replace("\\", "/")).name
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._ -]+", "-", stem).strip(" .-_")[:100] or "file"
    return f"{stem}.{extension}"


def _prepare_image(content: bytes, name: str, *, lossless: bool) -> PreparedUpload:
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(content)) as opened:
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise ValidationFailed({"file": ["The image has too many pixels."]})
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationFailed({"file": ["The image has too many pixels."]}) from None
    except ValidationFailed:
        raise
    except Exception:
        raise ValidationFailed({"file": ["The image cannot be read."]}) from None
    clean, content_type = _reencode(image, lossless=lossless)
    thumb = image.convert("RGB")
    thumb.thumbnail(THUMBNAIL_SIZE)
    thumbnail = io.BytesIO()
    thumb.save(thumbnail, "JPEG", quality=82)
    return PreparedUpload(
        kind="image",
        content_type=content_type,
        filename=name.rsplit(".", 1)[0] + "." + IMAGE_TYPES[content_type],
        content=clean,
        sha256=hashlib.sha256(clean).hexdigest(),
        thumbnail=thumbnail.getvalue(),
        width=image.width,
        height=image.height,
        dominant_colors=dominant_colors(image),
        phash=str(imagehash.phash(image)),
    )


def _reencode(image: Image.Image, *, lossless: bool) -> tuple[bytes, str]:
    """The pixels alone, no metadata: PNG for lossless sources and transparency, JPEG otherwise."""
    out = io.BytesIO()
    transparent = image.mode in {"RGBA", "LA"} or (image.mode == "P" and "transparency" in image.info)
    if lossless or transparent:
        pixels = image.convert("RGBA" if transparent else "RGB")
        clean = Image.new(pixels.mode, pixels.size)
        clean.paste(pixels)
        clean.save(out, "PNG", optimize=True)
        return out.getvalue(), "image/png"
    pixels = image.convert("RGB")
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    clean.save(out, "JPEG", quality=90)
    return out.getvalue(), "image/jpeg"


def dominant_colors(image: Image.Image, count: int = DOMINANT_COLORS) -> list[str]:
    """The most common colours after quantising a small copy, as ``#rrggbb``, most common first."""
    small = image.convert("RGB")
    small.thumbnail((96, 96))
    quantised = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    found = sorted(quantised.getcolors() or [], reverse=True)
    return ["#{:02x}{:02x}{:02x}".format(*palette[index * 3 : index * 3 + 3]) for _, index in found[:count]]


def hamming(a: str, b: str) -> int:
    """Bits that differ between two perceptual hashes (0 = the same picture)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
