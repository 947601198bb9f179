"""What a file is, from its bytes (libmagic), never from its name or the client's word.

Executables are refused: ELF (libmagic names it ``x-executable``, ``x-pie-executable`` or
``x-sharedlib`` depending on how it is read, so the whole family is refused), PE (``MZ``),
Mach-O, and scripts with a ``#!`` line. Serving decides from the same type: only raster
images and PDF are shown inline; HTML, SVG and scripts never are.
"""
import re
import unicodedata

import magic

SNIFF_BYTES = 64 * 1024
MACHO_MAGICS = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
EXECUTABLE_TYPES = {
    "application/x-executable", "application/x-pie-executable", "application/x-sharedlib",
    "application/x-dosexec", "application/x-msdownload", "application/vnd.microsoft.portable-executable",
    "application/x-mach-binary", "application/x-elf", "application/x-coredump",
}
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif",
                "image/tiff", "application/pdf"}
THUMBNAIL_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff"}
TABLE_TYPES = {"text/csv", "text/tab-separated-values"}
MAX_FILENAME = 255


def sniff(path):
    """``(content_type, reason)`` of the file at ``path``: ``reason`` says why it is refused, else None."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    content_type = magic.from_buffer(head, mime=True) if head else "application/x-empty"
    return content_type, executable_reason(head, content_type)


def executable_reason(head, content_type):
    if head.startswith(b"#!"):
        return "Scripts (a file starting with #!) are not accepted."
    if head.startswith(b"\x7fELF") or head.startswith(b"MZ") or head.startswith(MACHO_MAGICS):
        return "Executable programs are not accepted."
    if content_type in EXECUTABLE_TYPES:
        return "Executable programs are not accepted."
    return None


def is_inline(content_type):
    """True for what a browser may show in the page (raster images, PDF)."""
    return content_type in INLINE_TYPES


def previewable(content_type):
    """``"thumbnail"``, ``"table"``, ``"text"`` or None: what the processing job makes."""
    if content_type in THUMBNAIL_TYPES:
        return "thumbnail"
    if content_type in TABLE_TYPES:
        return "table"
    if content_type.startswith("text/") or content_type == "application/json":
        return "text"
    return None


_UNSAFE = re.compile(r'[<>:"|?*]')


def sanitize_filename(name):
    """The last path part of ``name``, without control characters or characters Windows refuses."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if len(name.encode()) > MAX_FILENAME:  # cut the stem, keep a short extension
        stem, dot, extension = name.rpartition(".")
        suffix = f".{extension[:16]}" if dot and stem else ""
        stem = stem if suffix else name
        name = stem.encode()[:MAX_FILENAME - len(suffix.encode())].decode("utf-8", "ignore") + suffix
    return name or "file"
