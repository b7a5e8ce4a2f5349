/**
 * A small PNG decoder (8-bit, non-interlaced: gray, RGB, palette, gray+alpha,
 * RGBA — what browsers write for screenshots) and pixel statistics, to check
 * rendered reports without an image library: a PNG is a zlib stream of
 * filtered scanlines, inflated with `node:zlib`.
 *
 * @module
 */
import { inflateSync } from "node:zlib";

/**
 * A decoded image: RGBA, 4 bytes per pixel, rows top to bottom.
 *
 * ```ts
 * const img: Image = decodePng(Deno.readFileSync("report.png"));
 * const [r, g, b, a] = img.rgba.subarray(0, 4); // the top-left pixel
 * ```
 */
export interface Image {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGBA pixels. */
  rgba: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Width and height from a PNG's header (IHDR), without decoding it.
 *
 * ```ts
 * const { width, height } = pngSize(Deno.readFileSync("docs/report-screenshot.png"));
 * ```
 */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  if (png.length < 24 || SIGNATURE.some((b, i) => png[i] !== b)) {
    throw new Error("not a PNG file (bad signature)");
  }
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

/**
 * Decode a PNG into RGBA pixels. Supports bit depth 8 without interlacing,
 * colour types 0, 2, 3, 4 and 6; throws on anything else.
 *
 * ```ts
 * const img = decodePng(Deno.readFileSync("shot.png"));
 * console.log(img.width, img.height, img.rgba.length);
 * ```
 */
export function decodePng(png: Uint8Array): Image {
  const { width, height } = pngSize(png);
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let depth = 0, ctype = 0, interlace = 0;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= png.length;) {
    const len = dv.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === "IHDR") {
      depth = data[8];
      ctype = data[9];
      interlace = data[12];
    } else if (type === "PLTE") palette = data;
    else if (type === "tRNS") trns = data;
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    at += 12 + len;
  }
  if (depth !== 8 || interlace !== 0) {
    throw new Error(
      `unsupported PNG: bit depth ${depth}, interlace ${interlace} (8 and 0 only)`,
    );
  }
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[
    ctype
  ];
  if (!channels) throw new Error(`unsupported PNG colour type ${ctype}`);
  const joined = new Uint8Array(idat.reduce((s, d) => s + d.length, 0));
  let off = 0;
  for (const d of idat) {
    joined.set(d, off);
    off += d.length;
  }
  const raw = new Uint8Array(inflateSync(joined));
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) {
    throw new Error(
      `PNG data too short: ${raw.length} bytes for ${width}x${height}`,
    );
  }
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = px.subarray(y * stride, (y + 1) * stride);
    const up = y ? px.subarray((y - 1) * stride, y * stride) : undefined;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0;
      const b = up ? up[i] : 0;
      const c = up && i >= channels ? up[i - channels] : 0;
      let v = src[i];
      switch (filter) {
        case 0:
          break;
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a),
            pb = Math.abs(p - b),
            pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`bad PNG filter ${filter} in row ${y}`);
      }
      row[i] = v & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    const s = i * channels;
    switch (ctype) {
      case 0:
        rgba.set([px[s], px[s], px[s], 255], j);
        break;
      case 4:
        rgba.set([px[s], px[s], px[s], px[s + 1]], j);
        break;
      case 2:
        rgba.set([px[s], px[s + 1], px[s + 2], 255], j);
        break;
      case 6:
        rgba.set(px.subarray(s, s + 4), j);
        break;
      case 3: {
        const k = px[s];
        rgba.set([
          palette?.[3 * k] ?? 0,
          palette?.[3 * k + 1] ?? 0,
          palette?.[3 * k + 2] ?? 0,
          trns?.[k] ?? 255,
        ], j);
        break;
      }
    }
  }
  return { width, height, rgba };
}

/**
 * "#rrggbb" → [r, g, b].
 *
 * ```ts
 * parseHex("#2f6fdf"); // [47, 111, 223]
 * ```
 */
export function parseHex(color: string): [number, number, number] {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) throw new Error(`not a #rrggbb colour: ${color}`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

/**
 * Pixels within `tolerance` (per channel) of `color` ("#rrggbb").
 *
 * ```ts
 * declare const png: Uint8Array;
 * countColor(decodePng(png), "#2f6fdf"); // pixels of the report's blue
 * ```
 */
export function countColor(img: Image, color: string, tolerance = 8): number {
  const [r, g, b] = parseHex(color);
  let n = 0;
  const p = img.rgba;
  for (let i = 0; i < p.length; i += 4) {
    if (
      Math.abs(p[i] - r) <= tolerance && Math.abs(p[i + 1] - g) <= tolerance &&
      Math.abs(p[i + 2] - b) <= tolerance
    ) n++;
  }
  return n;
}

/**
 * Distinct colours after quantizing each channel to `levels` steps, with
 * their pixel counts, most frequent first.
 *
 * ```ts
 * declare const img: import("../report/png.ts").Image;
 * const top = colorHistogram(img).slice(0, 5); // [["#ffffff", 812345], ...]
 * ```
 */
export function colorHistogram(
  img: Image,
  levels = 32,
): [string, number][] {
  const q = 256 / levels;
  const counts = new Map<number, number>();
  const p = img.rgba;
  for (let i = 0; i < p.length; i += 4) {
    const key = (Math.floor(p[i] / q) << 16) | (Math.floor(p[i + 1] / q) << 8) |
      Math.floor(p[i + 2] / q);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const hex = (v: number) =>
    Math.min(255, Math.round(v * q + q / 2)).toString(16).padStart(2, "0");
  return [...counts].sort((a, b) => b[1] - a[1]).map((
    [k, n],
  ) => [`#${hex(k >> 16)}${hex((k >> 8) & 0xff)}${hex(k & 0xff)}`, n]);
}
