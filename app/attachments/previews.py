"""What the processing job makes of a blob: a thumbnail (PNG, longest side 256 px) or a
preview (``{"kind": "table", "columns", "rows"}`` for delimited text, ``{"kind": "text",
"text"}`` otherwise), read from the start of the file only.

Pillow reads an image's size from its header before decoding it: a decompression bomb
(an image far larger in pixels than in bytes) is refused from the header, its warning
made an error. Text is decoded with the first encoding that fits (a byte-order mark,
UTF-8, then Windows-1252); the delimiter is sniffed among ``, ; TAB |``.
"""
import csv
import io
import warnings

from PIL import Image

THUMBNAIL_SIDE = 256
TABLE_ROWS = 20
TEXT_BYTES = 2048
SAMPLE_BYTES = 64 * 1024
ENCODINGS = ("utf-8", "cp1252", "latin-1")
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def thumbnail_png(path):
    """A PNG of the image at ``path``, its longest side at most 256 px."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # JPEG decodes reduced
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            if image.mode not in ("RGB", "RGBA", "L", "LA"):
                image = image.convert("RGBA")
            out = io.BytesIO()
            image.save(out, "PNG", optimize=True)
    return out.getvalue()


def decode(sample):
    """``sample`` as text, in the first encoding that fits (a cut last character is dropped)."""
    for bom, encoding in BOMS:
        if sample.startswith(bom):
            return sample.decode(encoding, errors="ignore")
    for encoding in ENCODINGS:
        try:
            return sample.decode(encoding)
        except UnicodeDecodeError as error:
            if encoding == "utf-8" and error.start >= len(sample) - 3:  # a character cut by the sample's end
                return sample[:error.start].decode(encoding)
    return sample.decode("latin-1")


def text_preview(path, table_expected):
    """A table preview if the text is delimited (always tried for CSV/TSV), else the first 2 KB."""
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    text = decode(sample)
    table = _table(text, table_expected)
    if table is not None:
        return table
    return {"kind": "text", "text": text[:TEXT_BYTES]}


def _table(text, table_expected):
    lines = text.splitlines()[:TABLE_ROWS + 1]
    if len(lines) < 2 and not table_expected:
        return None
    sample = "\n".join(lines)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return None
    rows = list(csv.reader(io.StringIO(sample), dialect))
    widths = {len(row) for row in rows}
    if not rows or (not table_expected and (len(widths) != 1 or widths == {1})):
        return None
    return {"kind": "table", "delimiter": dialect.delimiter, "columns": rows[0], "rows": rows[1:TABLE_ROWS + 1]}
