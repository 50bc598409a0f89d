#!/usr/bin/python3
"""Writes the test images of tests/unit/img and PIL's answers for them into DIR.

test_img.c runs this with Debian's /usr/bin/python3 (PIL, numpy) and compares libs/img
with what PIL (Pillow) decodes, resizes, converts and preprocesses. DIR/cases.txt lists
one case a line, fields separated by spaces:
  decode NAME FILE REF W H C TOL     img_decode(FILE) == REF (raw HWC bytes) within TOL
  bad NAME FILE STATUS               img_decode(FILE) fails with STATUS (EINVAL|ELIMIT)
  probe NAME FILE W H C FORMAT       img_probe(FILE)
  resize NAME SRC W H C REF OW OH FILTER   img_resize_filter(SRC raw) == REF within 1
  convert NAME SRC W H REF           img_convert(SRC RGB raw, 1) == REF exactly
  prep NAME FILE REF OW OH OC NORM M0 M1 M2 S0 S1 S2   img_preprocess -> REF (float32 CHW)
Usage: gen_images.py DIR
"""
import io
import os
import struct
import sys
import warnings
import zlib

import numpy as np
from PIL import Image

warnings.simplefilter("ignore")
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
cases = []
rng = np.random.default_rng(20261205)


def path(name):
    return os.path.join(out, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def picture(h, w, c):
    """Smooth gradients plus noise: edges and flat parts, so resizing is exercised."""
    y, x = np.mgrid[0:h, 0:w]
    planes = []
    for i in range(c):
        v = 127 + 100 * np.sin(x / (3.0 + i) + y / (5.0 + 2 * i)) + rng.normal(0, 20, (h, w))
        planes.append(v)
    a = np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)
    return a if c > 1 else a[:, :, 0]


# --- PNG written by hand: bit depths and colour types PIL cannot write, Adam7 ------------

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(w, h, depth, ctype, rows_of, interlace=False, extra=b""):
    """rows_of(x0, dx, y0, dy) -> list of packed rows (bytes) of that sub-image."""
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                               (1, 0, 2, 2), (0, 1, 1, 2)):
            if x0 >= w or y0 >= h:
                continue
            for r in rows_of(x0, dx, y0, dy):
                raw += b"\x00" + r
    else:
        for r in rows_of(0, 1, 0, 1):
            raw += b"\x00" + r
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pack_rows(a, depth):
    """a: (h, w, c) ints -> packed big-endian rows at depth bits per sample."""
    def f(x0, dx, y0, dy):
        sub = a[y0::dy, x0::dx]
        rows = []
        for row in sub:
            flat = row.reshape(-1)
            if depth == 16:
                rows.append(flat.astype(">u2").tobytes())
            elif depth == 8:
                rows.append(flat.astype(np.uint8).tobytes())
            else:
                bits = "".join(format(int(v), "0%db" % depth) for v in flat)
                bits += "0" * (-len(bits) % 8)
                rows.append(int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b"")
        return rows
    return f


def reference(file, channels):
    im = Image.open(path(file))
    if im.mode in ("I", "I;16", "I;16B"):  # 16-bit gray: PIL clips on convert("L"); img keeps the high byte
        a = (np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8)
    else:
        a = np.asarray(im.convert("L" if channels == 1 else "RGB"))
    return a


def add_decode(name, file, channels, tol=0):
    a = reference(file, channels)
    write(name + ".ref", a.tobytes())
    h, w = a.shape[:2]
    cases.append("decode %s %s %s.ref %d %d %d %d" % (name, file, name, w, h, channels, tol))


def hand_png(name, w, h, depth, ctype, channels_in, channels_out, interlace=False, extra=b""):
    maxv = (1 << depth) - 1
    a = rng.integers(0, maxv + 1, (h, w, channels_in))
    if ctype == 3:  # palette indices within the palette
        a = rng.integers(0, 7, (h, w, 1))
    write(name + ".png", png_bytes(w, h, depth, ctype, pack_rows(a, depth), interlace, extra))
    add_decode(name, name + ".png", channels_out)


# gray 1/2/4/8/16, gray+alpha 8/16, RGB 8/16, RGBA 8/16, palette 1/2/4/8 (+ tRNS), Adam7
for d in (1, 2, 4, 8, 16):
    hand_png("png_g%d" % d, 13, 9, d, 0, 1, 1)
hand_png("png_ga8", 11, 7, 8, 4, 2, 1)
hand_png("png_ga16", 11, 7, 16, 4, 2, 1)
hand_png("png_rgb16", 10, 6, 16, 2, 3, 3)
hand_png("png_rgba16", 10, 6, 16, 6, 4, 3)
hand_png("png_g16_trns", 9, 5, 16, 0, 1, 1, extra=chunk(b"tRNS", b"\x00\x10"))
palette = chunk(b"PLTE", bytes([10, 20, 30, 200, 100, 50, 0, 0, 0, 255, 255, 255, 1, 2, 3, 90, 180, 70, 33, 66, 99]))
for d in (4, 8):
    hand_png("png_p%d" % d, 12, 5, d, 3, 1, 3, extra=palette)
hand_png("png_p8_trns", 12, 5, 8, 3, 1, 3, extra=palette + chunk(b"tRNS", bytes([0, 128, 255])))
hand_png("png_rgb8_adam7", 19, 23, 8, 2, 3, 3, interlace=True)
hand_png("png_g8_adam7", 9, 10, 8, 0, 1, 1, interlace=True)
hand_png("png_rgba8_adam7", 3, 2, 8, 6, 4, 3, interlace=True)

# PNGs as PIL writes them (filters, zlib levels of a real encoder)
pic_rgb = picture(37, 100, 3)
pic_g = picture(28, 28, 1)
Image.fromarray(pic_rgb).save(path("pil_rgb.png"))
add_decode("pil_rgb", "pil_rgb.png", 3)
Image.fromarray(pic_g).save(path("pil_g.png"))
add_decode("pil_g", "pil_g.png", 1)
Image.fromarray(np.dstack([pic_rgb, pic_rgb[:, :, :1]])).save(path("pil_rgba.png"))
add_decode("pil_rgba", "pil_rgba.png", 3)
Image.fromarray(pic_rgb).convert("P", palette=Image.ADAPTIVE, colors=32).save(path("pil_p.png"))
add_decode("pil_p", "pil_p.png", 3)

# JPEG: gray, colour (4:2:0 and 4:4:4), progressive. PIL decodes with the same
# libjpeg-turbo and the same defaults, so the tolerance is 0 (raise it for a PIL
# built with another libjpeg).
big = picture(61, 83, 3)
Image.fromarray(big).save(path("j_rgb.jpg"), quality=90)
add_decode("j_rgb", "j_rgb.jpg", 3, 0)
Image.fromarray(big).save(path("j_rgb444.jpg"), quality=95, subsampling=0)
add_decode("j_rgb444", "j_rgb444.jpg", 3, 0)
Image.fromarray(big).save(path("j_prog.jpg"), quality=85, progressive=True)
add_decode("j_prog", "j_prog.jpg", 3, 0)
Image.fromarray(big[:, :, 1]).save(path("j_gray.jpg"), quality=90)
add_decode("j_gray", "j_gray.jpg", 1, 0)
Image.fromarray(big[:, :, 2]).save(path("j_gray_prog.jpg"), quality=75, progressive=True)
add_decode("j_gray_prog", "j_gray_prog.jpg", 1, 0)
Image.fromarray(big).convert("CMYK").save(path("j_cmyk.jpg"))
cases.append("bad j_cmyk j_cmyk.jpg EINVAL")

cases.append("probe probe_png pil_rgba.png 100 37 3 png")
cases.append("probe probe_png16 png_ga16.png 11 7 1 png")
cases.append("probe probe_pal png_p4.png 12 5 3 png")
cases.append("probe probe_jpg j_prog.jpg 83 61 3 jpeg")
cases.append("probe probe_jgray j_gray.jpg 83 61 1 jpeg")

# --- resizing and conversion against PIL, from raw pixels ------------------------------
FILTERS = {"bilinear": Image.BILINEAR, "box": Image.BOX}
sizes = [((28, 28), (64, 64)), ((64, 64), (28, 28)), ((100, 37), (28, 28)), ((13, 7), (5, 11)),
         ((1, 1), (3, 3)), ((300, 200), (17, 19)), ((37, 100), (100, 37)), ((50, 20), (30, 20)),
         ((20, 50), (20, 31)), ((7, 5), (7, 5)), ((255, 3), (2, 1)), ((31, 29), (32, 30)),
         ((1000, 10), (9, 10)), ((3, 2), (301, 199)), ((20, 10), (20, 25)), ((10, 20), (25, 20)),
         ((2, 2), (64, 5))]
for (w, h), (ow, oh) in sizes:
    for c in (1, 3):
        src = picture(h, w, c)
        sname = "src_%dx%dx%d.raw" % (w, h, c)
        write(sname, src.tobytes())
        for fname, f in FILTERS.items():
            ref = np.asarray(Image.fromarray(src).resize((ow, oh), f))
            name = "rs_%dx%dx%d_%dx%d_%s" % (w, h, c, ow, oh, fname)
            write(name + ".ref", ref.tobytes())
            cases.append("resize %s %s %d %d %d %s.ref %d %d %s" % (name, sname, w, h, c, name, ow, oh, fname))

for w, h in ((28, 28), (100, 37), (1, 1)):
    src = picture(h, w, 3)
    src[0, 0] = (255, 255, 255)
    src[-1, -1] = (0, 0, 255)
    sname = "conv_%dx%d.raw" % (w, h)
    write(sname, src.tobytes())
    write("conv_%dx%d.ref" % (w, h), np.asarray(Image.fromarray(src).convert("L")).tobytes())
    cases.append("convert conv_%dx%d %s %d %d conv_%dx%d.ref" % (w, h, sname, w, h, w, h))
allc = np.array([[[r, g, b] for b in range(0, 256, 5) for g in range(0, 256, 5)] for r in range(0, 256, 5)], np.uint8)
write("conv_all.raw", allc.tobytes())
write("conv_all.ref", np.asarray(Image.fromarray(allc).convert("L")).tobytes())
cases.append("convert conv_all conv_all.raw %d %d conv_all.ref" % (allc.shape[1], allc.shape[0]))

# --- preprocessing: PIL + numpy, the way a Python training script does it ---------------
NORMS = {"none": 0, "unit": 1, "meanstd": 2}


def add_prep(name, file, ow, oh, oc, norm, mean=(0, 0, 0), std=(1, 1, 1)):
    im = Image.open(path(file)).convert("L" if oc == 1 else "RGB")
    if (ow, oh) != im.size:
        im = im.resize((ow, oh), Image.BILINEAR)
    a = np.asarray(im, dtype=np.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    if norm == "unit":
        a = a / np.float32(255)
    elif norm == "meanstd":
        a = (a / np.float32(255) - np.array(mean[:oc], np.float32)) / np.array(std[:oc], np.float32)
    write(name + ".ref", np.ascontiguousarray(a.transpose(2, 0, 1)).astype("<f4").tobytes())
    cases.append("prep %s %s %s.ref %d %d %d %d %s %s" % (name, file, name, ow, oh, oc, NORMS[norm],
                 " ".join(repr(float(np.float32(m))) for m in mean), " ".join(repr(float(np.float32(s))) for s in std)))


add_prep("prep_g_64_unit", "pil_g.png", 64, 64, 1, "unit")
add_prep("prep_g_64_none", "pil_g.png", 64, 64, 1, "none")
add_prep("prep_g_keep_3_meanstd", "pil_g.png", 28, 28, 3, "meanstd", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
add_prep("prep_g_32_3_meanstd", "pil_g.png", 32, 32, 3, "meanstd", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
add_prep("prep_rgb_28_1_unit", "pil_rgb.png", 28, 28, 1, "unit")
add_prep("prep_rgba_40_3_meanstd", "pil_rgba.png", 40, 30, 3, "meanstd", (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
add_prep("prep_jpg_32_3_none", "j_rgb.jpg", 32, 32, 3, "none")
add_prep("prep_p_16_1_meanstd", "pil_p.png", 16, 16, 1, "meanstd", (0.2860, 0, 0), (0.3530, 1, 1))

# --- the PNG fast path (png_fast.c) and its fallback to libpng ---------------------------
# "fast NAME FILE fast|libpng": whether png_fast.c must take the file or decline it to
# libpng; where it takes it, its pixels must be libpng's. Files written here set each
# row's filter, so every filter type meets every pixel size, on the first row too.


def filtered(rows, bpp, types):
    """Unfiltered rows (bytes) -> the filtered stream, row y with filter types[y]."""
    out = b""
    prev = bytes(len(rows[0]))
    for r, t in zip(rows, types):
        f = bytearray(len(r))
        for i in range(len(r)):
            a = r[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if t == 0:
                pred = 0
            elif t == 1:
                pred = a
            elif t == 2:
                pred = b
            elif t == 3:
                pred = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            f[i] = (r[i] - pred) & 255
        out += bytes([t]) + bytes(f)
        prev = r
    return out


def png_raw(w, h, ctype, stream, idat_parts=1, before=b"", after=b"", trailing=b"", depth=8):
    """A PNG around a ready zlib stream, split into idat_parts IDAT chunks."""
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    cut = [len(stream) * k // idat_parts for k in range(idat_parts + 1)]
    idats = b"".join(chunk(b"IDAT", stream[cut[k]:cut[k + 1]]) for k in range(idat_parts))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + before + idats + after + chunk(b"IEND", b"") +
            trailing)


CTYPES = ((0, 1, 1), (4, 2, 1), (2, 3, 3), (6, 4, 3))  # colour type, bytes a pixel, channels img gives


def fast_case(name, data, expect, channels=None):
    write(name + ".png", data)
    cases.append("fast %s %s.png %s" % (name, name, expect))
    if channels:
        add_decode(name, name + ".png", channels)


for ctype, bpp, cout in CTYPES:
    for k in range(5):  # row y uses filter (y + k) % 5: each type is the first row's once
        w, h = 7 + k, 6
        a = picture(h, w, bpp).reshape(h, w * bpp)
        rows = [bytes(r) for r in a.astype(np.uint8)]
        stream = zlib.compress(filtered(rows, bpp, [(y + k) % 5 for y in range(h)]))
        fast_case("fp_c%d_f%d" % (ctype, k), png_raw(w, h, ctype, stream), "fast", cout)
    # one pixel wide (a row is one pixel: no left neighbour anywhere), and 1x1
    a = rng.integers(0, 256, (5, bpp), dtype=np.uint8)
    stream = zlib.compress(filtered([bytes(r) for r in a], bpp, [4, 3, 1, 2, 4]))
    fast_case("fp_c%d_w1" % ctype, png_raw(1, 5, ctype, stream), "fast", cout)
    stream = zlib.compress(filtered([bytes(rng.integers(0, 256, bpp, dtype=np.uint8))], bpp, [3]))
    fast_case("fp_c%d_1x1" % ctype, png_raw(1, 1, ctype, stream), "fast", cout)

g = picture(30, 40, 1)
g_rows = [bytes(r) for r in g]
g_stream = zlib.compress(filtered(g_rows, 1, [y % 5 for y in range(30)]))
text = chunk(b"tEXt", b"Comment\x00made by gen_images.py")
anc = chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)) + text
fast_case("fp_multi_idat", png_raw(40, 30, 0, g_stream, idat_parts=3), "fast", 1)
# a zero-length IDAT chunk inside the run
z = png_raw(40, 30, 0, g_stream, idat_parts=2)
at = z.find(b"IDAT") - 4
z = z[:at] + chunk(b"IDAT", b"") + z[at:]
fast_case("fp_zero_idat", z, "fast", 1)
fast_case("fp_ancillary", png_raw(40, 30, 0, g_stream, before=anc, after=text), "fast", 1)
big = picture(200, 300, 3)
Image.fromarray(big).save(path("fp_pil_big.png"))  # rows beyond the stack buffer
cases.append("fast fp_pil_big fp_pil_big.png fast")
add_decode("fp_pil_big", "fp_pil_big.png", 3)
Image.fromarray(np.dstack([big, big[:, :, :1]])).save(path("fp_pil_rgba.png"))
cases.append("fast fp_pil_rgba fp_pil_rgba.png fast")
add_decode("fp_pil_rgba", "fp_pil_rgba.png", 3)
for name in ("pil_g", "pil_rgb", "pil_rgba"):
    cases.append("fast fp_%s %s.png fast" % (name, name))

# declined, and libpng decodes them (PIL as well)
fast_case("fp_trailing", png_raw(40, 30, 0, g_stream, trailing=b"junk after IEND"), "libpng", 1)
co = zlib.compressobj(6, zlib.DEFLATED, 9)  # a 512-byte window, smaller than the image
fast_case("fp_small_window", png_raw(40, 30, 0, co.compress(filtered(g_rows, 1, [0] * 30)) + co.flush()), "libpng", 1)
fast_case("fp_trns", png_raw(40, 30, 0, g_stream, before=chunk(b"tRNS", b"\x00\x07")), "libpng", 1)
rgb_rows = [bytes(r) for r in picture(6, 5, 3).reshape(6, 15)]
fast_case("fp_rgb_plte", png_raw(5, 6, 2, zlib.compress(filtered(rgb_rows, 3, [0] * 6)),
                                 before=chunk(b"PLTE", bytes(range(12)))), "libpng", 3)
fast_case("fp_g16", png_raw(3, 2, 0, zlib.compress(b"\x00" + bytes(6) + b"\x00" + bytes(6)), depth=16), "libpng", 1)
# declined; libpng's verdict stands, whatever it is (it warns about these and goes on)
bad_text = bytearray(text)
bad_text[-1] ^= 1
fast_case("fp_anc_crc", png_raw(40, 30, 0, g_stream, before=bytes(bad_text)), "libpng")
adler = bytearray(g_stream)
adler[-1] ^= 1
fast_case("fp_adler", png_raw(40, 30, 0, bytes(adler)), "libpng")
fast_case("fp_too_long", png_raw(40, 30, 0, zlib.compress(filtered(g_rows + g_rows[:1], 1, [0] * 31))), "libpng")
z = png_raw(40, 30, 0, g_stream, idat_parts=2)
at = z.rfind(b"IDAT") - 4
fast_case("fp_split_idat", z[:at] + text + z[at:], "libpng")
# declined, and refused by libpng
bad_filter = bytearray(filtered(g_rows, 1, [0] * 30))
bad_filter[29 * 41] = 5
for name, data in (("fp_bad_filter", png_raw(40, 30, 0, zlib.compress(bytes(bad_filter)))),
                   ("fp_short", png_raw(40, 30, 0, zlib.compress(filtered(g_rows[:29], 1, [0] * 29))))):
    fast_case(name, data, "libpng")
    cases.append("bad %s %s.png EINVAL" % (name, name))
wide = zlib.compress(b"\x00" + bytes(1000001))
for name, data in (("fp_no_idat", png_raw(40, 30, 0, b"")[:-12 - 12] + chunk(b"IEND", b"")),
                   ("fp_critical", png_raw(40, 30, 0, g_stream, before=chunk(b"ABCD", b"x"))),
                   ("fp_bad_name", png_raw(40, 30, 0, g_stream, before=chunk(b"ab1d", b"x"))),
                   ("fp_wide", png_raw(1000001, 1, 0, wide))):
    fast_case(name, data, "libpng")
    cases.append("bad %s %s.png EINVAL" % (name, name))

# --- bad input ---------------------------------------------------------------------------
good_png = open(path("pil_rgb.png"), "rb").read()
good_jpg = open(path("j_rgb.jpg"), "rb").read()
write("bad_png_trunc.png", good_png[: len(good_png) // 2])
cases.append("bad png_trunc bad_png_trunc.png EINVAL")
write("bad_png_noiend.png", good_png[:-12])
cases.append("bad png_noiend bad_png_noiend.png EINVAL")
write("bad_png_sig_only.png", good_png[:8])
cases.append("bad png_sig_only bad_png_sig_only.png EINVAL")
crc = bytearray(good_png)
crc[-13] ^= 0x55  # the last byte of the IDAT chunk's CRC (IEND is the last 12 bytes)
write("bad_png_crc.png", bytes(crc))
cases.append("bad png_crc bad_png_crc.png EINVAL")
huge = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) + \
    chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
write("bad_png_huge.png", huge)
cases.append("bad png_huge bad_png_huge.png ELIMIT")
cases.append("probe probe_huge bad_png_huge.png 100000 100000 3 png")
zero = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 10, 8, 0, 0, 0, 0)) + chunk(b"IEND", b"")
write("bad_png_zero.png", zero)
cases.append("bad png_zero bad_png_zero.png EINVAL")
write("bad_jpg_trunc.jpg", good_jpg[: len(good_jpg) * 2 // 3])
cases.append("bad jpg_trunc bad_jpg_trunc.jpg EINVAL")
write("bad_jpg_head.jpg", good_jpg[:300])
cases.append("bad jpg_head bad_jpg_head.jpg EINVAL")
sof = good_jpg.find(b"\xff\xc0")
hj = bytearray(good_jpg)
hj[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
write("bad_jpg_huge.jpg", bytes(hj))
cases.append("bad jpg_huge bad_jpg_huge.jpg ELIMIT")
cases.append("probe probe_jhuge bad_jpg_huge.jpg 65000 65000 3 jpeg")
zj = bytearray(good_jpg)
zj[sof + 5:sof + 7] = b"\x00\x00"
write("bad_jpg_zero.jpg", bytes(zj))
cases.append("bad jpg_zero bad_jpg_zero.jpg EINVAL")
sos = good_jpg.find(b"\xff\xda")
cj = bytearray(good_jpg)
for i in range(sos + 40, len(cj) - 10, 7):  # garble the entropy-coded data
    cj[i] = 0xFF if cj[i - 1] != 0xFF else 0x00
write("bad_jpg_corrupt.jpg", bytes(cj))
cases.append("bad jpg_corrupt bad_jpg_corrupt.jpg EINVAL")
write("bad_random.bin", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
cases.append("bad random bad_random.bin EINVAL")
write("bad_random_jpg.jpg", b"\xff\xd8\xff" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
cases.append("bad random_jpg bad_random_jpg.jpg EINVAL")
write("bad_random_png.png", b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
cases.append("bad random_png bad_random_png.png EINVAL")
write("bad_empty.bin", b"")
cases.append("bad empty bad_empty.bin EINVAL")

with open(path("cases.txt"), "w") as f:
    f.write("\n".join(cases) + "\n")
