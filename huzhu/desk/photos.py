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
    data = upload.read() if hasattr(upload, "read") else bytes(upload)
    if len(data) > limit:
        raise ValidationError(
            _("照片“%(name)s”太大，单张不能超过 %(limit)d MB。")
            % {"name": _name(upload), "limit": limit // 1_048_576}
        )
    return data


def _name(upload: Any) -> str:
    return str(getattr(upload, "name", "") or _("照片"))


def clean_photo(upload: Any) -> CleanPhoto:
    """The upload as a clean JPEG, or ValidationError naming the file."""
    data = _read(upload)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(_("照片“%(name)s”像素过大。") % {"name": _name(upload)})
            probe.verify()
        if kind not in ACCEPTED_FORMATS:
            raise UnidentifiedImageError(kind)
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            upright = ImageOps.exif_transpose(image) or image
            rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(
            _("“%(name)s”不是可识别的图片，请上传 JPG 或 PNG 照片。") % {"name": _name(upload)}
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
