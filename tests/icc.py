"""Small ICC profiles written from their definitions, for colour tests: Display P3, Adobe RGB, a linear grey.

Pillow's ImageCms can only create sRGB, LAB and XYZ profiles, and none can be downloaded here, so these are
matrix/TRC profiles (ICC v2, as phones and cameras embed) built from the primaries, white point and transfer
curve; LittleCMS reads them as it reads the real ones.
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import ImageCms

D65 = (0.3127, 0.3290)
D50_XYZ = (0.9642, 1.0, 0.8249)  # the ICC profile connection space's white
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def _rgb_to_xyz_d50(primaries: tuple[tuple[float, float], ...], white: tuple[float, float]) -> np.ndarray:
    """The RGB -> XYZ matrix of the primaries, Bradford-adapted from ``white`` to D50 (columns: the colorants)."""
    p = np.stack([_xyz(c) for c in primaries], axis=1)
    w = _xyz(white)
    m = p * np.linalg.solve(p, w)  # scale each primary so that RGB 1,1,1 is the white
    cones_src, cones_dst = _BRADFORD @ w, _BRADFORD @ np.array(D50_XYZ)
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(cones_dst / cones_src) @ _BRADFORD
    return adapt @ m


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(v: tuple[float, float, float] | np.ndarray) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15(float(c)) for c in v)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_)) + ascii_ + b"\0" * 8 + b"\0" * 3 + b"\0" * 67


def _srgb_curve(n: int = 1024) -> bytes:
    x = np.linspace(0.0, 1.0, n)
    y = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    return b"curv" + b"\0" * 4 + struct.pack(">I", n) + np.round(y * 65535).astype(">u2").tobytes()


def _gamma_curve(gamma: float) -> bytes:
    return b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256))


def _profile(space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """An ICC v2.1 display profile of ``space`` with ``tags`` (signature, body), each aligned to 4 bytes."""
    offset = 128 + 4 + 12 * len(tags)
    table, bodies = [], b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table.append(struct.pack(">4sII", sig, offset + len(bodies), len(body)))
        bodies += body
    size = offset + len(bodies)
    header = (
        struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntr" + space + b"XYZ "
        + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + b"".join(_s15(c) for c in D50_XYZ)
        + b"\0" * 48
    )  # fmt: skip
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + bodies


def rgb_profile(name: str, primaries: tuple[tuple[float, float], ...], curve: bytes) -> bytes:
    m = _rgb_to_xyz_d50(primaries, D65)
    return _profile(
        b"RGB ",
        [
            (b"desc", _desc_tag(name)),
            (b"wtpt", _xyz_tag(D50_XYZ)),
            (b"rXYZ", _xyz_tag(m[:, 0])),
            (b"gXYZ", _xyz_tag(m[:, 1])),
            (b"bXYZ", _xyz_tag(m[:, 2])),
            (b"rTRC", curve),
            (b"gTRC", curve),
            (b"bTRC", curve),
            (b"cprt", b"text" + b"\0" * 4 + b"none\0"),
        ],
    )


def display_p3() -> bytes:
    """Display P3 (DCI-P3 primaries, D65, the sRGB curve): what iPhones and many Android phones embed."""
    return rgb_profile("Display P3 (test)", ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), _srgb_curve())


def adobe_rgb() -> bytes:
    """Adobe RGB (1998): wide-gamut primaries, D65, gamma 563/256."""
    return rgb_profile("Adobe RGB (test)", ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)), _gamma_curve(563 / 256))


def linear_grey() -> bytes:
    """A grey profile whose numbers are linear light (gamma 1): mid-grey 128 is much lighter in sRGB."""
    return _profile(
        b"GRAY",
        [(b"desc", _desc_tag("Linear grey (test)")), (b"wtpt", _xyz_tag(D50_XYZ)), (b"kTRC", _gamma_curve(1.0))],
    )


def from_srgb(pixels: np.ndarray, profile: bytes) -> np.ndarray:
    """``pixels`` (uint8 sRGB, H x W x 3) as the numbers of ``profile``'s RGB space (relative colorimetric)."""
    from PIL import Image

    src = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    dst = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    out = ImageCms.profileToProfile(
        Image.fromarray(pixels), src, dst, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB"
    )
    assert out is not None
    return np.asarray(out)
