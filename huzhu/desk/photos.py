"""Photos sent with civic reports: checked, re-encoded as JPEG, resized, and stripped of EXIF
(location, device, time) before anything is stored."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "MPO"})
# Refuse images that would decode to more pixels than this (decompression bombs).
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class CleanPhoto:
    content: ContentFile
    width: int
    height: int

    @property
    def size(self) -> int:
        return self.content.size


def _read(upload: Any) -> bytes:
    size = getattr(upload, "size", None)
    limit = settings.HUZHU_DESK_PHOTO_MAX_BYTES
    if size is not None and size > limit:
        raise ValidationError(
            _("照片“%(name)s”太大（%(size).1f MB），单张不能超过 %(limit)d MB。")
            % {"name": _name(upload), "size": size / 1_048_576, "limit": limit // 1_048_576}
        )
    if hasattr(upload, "seek"):
        upload.seek(0)  # a form may have looked at the file already
    data = upload.read() if hasattr(upload, "read") else bytes(upload)
    if len(data) > limit:
        raise ValidationError(
            _("照片“%(name)s”太大，单张不能超过 %(limit)d MB。")
            % {"name": _name(upload), "limit": limit // 1_048_576}
        )
    return data


def _name(upload: Any) -> str:
    return str(getattr(upload, "name", "") or _("照片"))


def _too_many_pixels(upload: Any) -> ValidationError:
    return ValidationError(
        _("照片“%(name)s”像素过大（超过 %(n)d 万像素），请缩小后再上传。")
        % {"name": _name(upload), "n": MAX_PIXELS // 10_000}
    )


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white (not the black a plain convert gives)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def clean_photo(upload: Any) -> CleanPhoto:
    """The upload as a clean JPEG, or ValidationError naming the file."""
    data = _read(upload)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            if probe.width * probe.height > MAX_PIXELS:
                raise _too_many_pixels(upload)
            probe.verify()
        if kind not in ACCEPTED_FORMATS:
            raise UnidentifiedImageError(kind)
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            upright = ImageOps.exif_transpose(image) or image
            rgb = _flatten(upright)
    except Image.DecompressionBombError:
        raise _too_many_pixels(upload) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ValidationError(
            _("“%(name)s”不是可识别的图片或文件已损坏，请上传 JPG 或 PNG 照片。")
            % {"name": _name(upload)}
        ) from None
    edge = settings.HUZHU_DESK_PHOTO_MAX_PX
    rgb.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # A fresh JPEG written without ``exif=`` carries no EXIF, GPS or maker notes.
    rgb.save(out, format="JPEG", quality=85, optimize=True)
    return CleanPhoto(
        content=ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.jpg"),
        width=rgb.width,
        height=rgb.height,
    )


def clean_photos(uploads: list[Any]) -> list[CleanPhoto]:
    """Every upload cleaned, or one ValidationError listing each bad file (nothing kept)."""
    limit = settings.HUZHU_DESK_PHOTO_MAX_COUNT
    if len(uploads) > limit:
        raise ValidationError(_("最多上传 %(n)d 张照片。") % {"n": limit})
    cleaned: list[CleanPhoto] = []
    errors: list[str] = []
    for upload in uploads:
        try:
            cleaned.append(clean_photo(upload))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    return cleaned
