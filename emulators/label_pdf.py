"""A small, valid one-page PDF label, written by hand: no library is worth it for this.

Chinese text uses STSong-Light, one of the CJK fonts every PDF reader provides without
embedding (PDF 1.7, 9.7.5.2), addressed in UTF-16 through the UniGB-UCS2-H CMap.
"""

from __future__ import annotations

from collections.abc import Sequence

WIDTH, HEIGHT = 283, 425  # 100 x 150 mm in points, the common thermal label


def _text(value: str) -> str:
    return "<" + value.encode("utf-16-be").hex().upper() + ">"


def _content(lines: Sequence[tuple[int, str]]) -> bytes:
    commands = ["BT"]
    y = HEIGHT - 40
    for size, line in lines:
        commands.append(f"/F1 {size} Tf 1 0 0 1 20 {y} Tm {_text(line)} Tj")
        y -= size + 10
    commands.append("ET")
    # A box around the label, the way printed waybills are framed.
    commands.append(f"1 w 10 10 {WIDTH - 20} {HEIGHT - 20} re S")
    return "\n".join(commands).encode("ascii")


def render_label(lines: Sequence[tuple[int, str]]) -> bytes:
    """`lines` as (font size, text), top to bottom."""
    stream = _content(lines)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {WIDTH} {HEIGHT}] "
            "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ).encode(),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
        b"/FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
        b"/FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 "
        b"/CapHeight 880 /StemV 93 >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


def waybill_label(
    *, carrier: str, number: str, recipient: dict[str, str], sender: dict[str, str]
) -> bytes:
    """The label a carrier prints: number large, recipient masked, sender short."""
    return render_label(
        [
            (14, carrier),
            (22, number),
            (12, f"收 {mask_name(recipient.get('name', ''))} {_phone_of(recipient)}"),
            (10, _address_of(recipient)[:24]),
            (10, f"寄 {sender.get('name', '')} {_phone_of(sender)}"),
            (10, _address_of(sender)[:24]),
        ]
    )


def _phone_of(person: dict[str, str]) -> str:
    return mask_phone(str(person.get("mobile") or person.get("tel") or ""))


def _address_of(person: dict[str, str]) -> str:
    return str(person.get("printAddr") or person.get("address") or "")
