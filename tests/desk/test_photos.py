"""Photos of civic reports: re-encoded as JPEG of at most 1600 px, turned upright, with no
EXIF left (no place, no camera); anything that is not a sound image is refused with a message
naming the file, and a report with one bad photo stores nothing at all."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from huzhu.desk.models import Ticket, TicketPhoto
from huzhu.desk.photos import clean_photo, clean_photos
from tests.desk.factories import patrol_team, report
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

RED, BLUE = (220, 20, 20), (20, 20, 220)
NOT_IMAGE = "“{}”不是可识别的图片或文件已损坏，请上传 JPG 或 PNG 照片。"
TOO_MANY_PIXELS = "照片“{}”像素过大（超过 4000 万像素），请缩小后再上传。"
GPS_IFD, MAKE, MODEL, ORIENTATION = 0x8825, 0x010F, 0x0110, 0x0112


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def camera_jpeg(width: int = 3000, height: int = 2000, orientation: int = 6) -> bytes:
    """A phone photo: left half red, right half blue, stored sideways (orientation 6 = turn
    90° clockwise to view), with GPS, make and model in its EXIF."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[MAKE] = "HUAWEI"
    exif[MODEL] = "Mate 60 Pro"
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (36.0, 39.0, 50.5), 3: "E", 4: (117.0, 2.0, 27.3)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` (the pixels themselves are missing):
    what a decompression bomb looks like before it is decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_the_camera_photo_fixture_really_carries_exif():
    with Image.open(io.BytesIO(camera_jpeg())) as image:
        exif = image.getexif()
        assert exif[MAKE] == "HUAWEI" and exif[ORIENTATION] == 6
        assert exif.get_ifd(GPS_IFD)[1] == "N"


def test_a_phone_photo_is_upright_resized_and_has_no_exif():
    clean = clean_photo(upload("IMG_2024.jpg", camera_jpeg()))
    # 3000 × 2000 stored sideways is 2000 × 3000 upright; the long edge becomes 1600.
    assert (clean.width, clean.height) == (1067, 1600)
    data = clean.content.read()
    assert clean.size == len(data)
    assert clean.content.name.endswith(".jpg")
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert image.size == (1067, 1600)
        assert "exif" not in image.info
        assert dict(image.getexif()) == {}
        # Turned upright: what was the left (red) is now the top.
        top = image.getpixel((533, 200))
        bottom = image.getpixel((533, 1400))
    assert top[0] > 180 and top[2] < 80
    assert bottom[2] > 180 and bottom[0] < 80
    for marker in (b"Exif", b"HUAWEI", b"Mate 60"):
        assert marker not in data


def test_a_small_photo_keeps_its_size():
    clean = clean_photo(upload("small.jpg", camera_jpeg(800, 600, orientation=1)))
    assert (clean.width, clean.height) == (800, 600)


def test_a_png_with_transparency_is_laid_on_white():
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    image.paste((20, 160, 20, 255), (0, 0, 200, 300))
    out = io.BytesIO()
    image.save(out, "PNG")
    clean = clean_photo(upload("sign.png", out.getvalue(), "image/png"))
    assert (clean.width, clean.height) == (400, 300)
    with Image.open(clean.content) as stored:
        assert stored.format == "JPEG" and stored.mode == "RGB"
        assert all(channel > 240 for channel in stored.getpixel((300, 150)))  # was transparent
        green = stored.getpixel((100, 150))
    assert green[1] > 130 and green[0] < 60


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.txt", "这不是照片".encode(), NOT_IMAGE),
        ("broken.jpg", camera_jpeg(orientation=1)[:4000], NOT_IMAGE),
        ("bomb.png", png_claiming(8000, 6000), TOO_MANY_PIXELS),
        ("huge.png", png_claiming(20000, 20000), TOO_MANY_PIXELS),
    ],
)
def test_what_is_not_a_sound_image_is_refused_by_name(name, data, message):
    with pytest.raises(ValidationError) as info:
        clean_photo(upload(name, data))
    assert info.value.messages == [message.format(name)]


def test_an_oversized_upload_is_refused_before_it_is_read(settings):
    settings.HUZHU_DESK_PHOTO_MAX_BYTES = 2 * 1_048_576
    big = upload("big.jpg", b"\xff\xd8" + b"0" * (3 * 1_048_576))
    with pytest.raises(ValidationError) as info:
        clean_photo(big)
    assert info.value.messages == ["照片“big.jpg”太大（3.0 MB），单张不能超过 2 MB。"]


def test_every_bad_file_is_named_and_too_many_are_refused(settings):
    good = upload("good.jpg", camera_jpeg(400, 300, orientation=1))
    with pytest.raises(ValidationError) as info:
        clean_photos([good, upload("a.txt", b"hello"), upload("b.gif", b"GIF89a")])
    assert info.value.messages == [NOT_IMAGE.format("a.txt"), NOT_IMAGE.format("b.gif")]
    settings.HUZHU_DESK_PHOTO_MAX_COUNT = 2
    with pytest.raises(ValidationError) as info:
        clean_photos([good, good, good])
    assert info.value.messages == ["最多上传 2 张照片。"]


def test_a_file_read_before_is_read_again_from_the_start():
    photo = upload("again.jpg", camera_jpeg(400, 300, orientation=1))
    photo.read()
    assert (clean_photo(photo).width, clean_photo(photo).height) == (400, 300)


def test_a_report_stores_clean_photos(city, media):
    resident = make_resident(city.grid_a, "李阿姨", username="li")
    ticket = report(resident.user, city.grid_a, photos=[upload("IMG_1.jpg", camera_jpeg())])
    photo = TicketPhoto.objects.get(ticket=ticket)
    assert (photo.kind, photo.width, photo.height, photo.is_public) == ("report", 1067, 1600, False)
    stored = Path(photo.image.path)
    assert stored.is_relative_to(media) and stored.stat().st_size == photo.size
    assert b"HUAWEI" not in stored.read_bytes()


def test_a_report_with_one_bad_photo_stores_nothing(city, media):
    resident = make_resident(city.grid_a, "李阿姨", username="li")
    patrol_team(city.community_a, city.grid_a)
    photos = [upload("IMG_1.jpg", camera_jpeg()), upload("IMG_2.jpg", b"not a photo")]
    with pytest.raises(ValidationError) as info:
        report(resident.user, city.grid_a, photos=photos)
    assert info.value.messages == [NOT_IMAGE.format("IMG_2.jpg")]
    assert Ticket.objects.count() == 0 and TicketPhoto.objects.count() == 0
    assert [p for p in media.rglob("*") if p.is_file()] == []
