/**
 * A writer of "newc" cpio archives, the format of a Linux initramfs: enough
 * for directories, regular files and symlinks (no hard links, no device
 * nodes: the guest mounts devtmpfs).
 *
 * @module
 */

/** One archive member. */
export type CpioEntry =
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "file"; mode?: number; data: Uint8Array }
  | { path: string; type: "symlink"; target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const enc = new TextEncoder();

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** The header and name of one member (without its data). */
export function cpioHeader(
  ino: number,
  mode: number,
  size: number,
  name: string,
  nlink = 1,
): Uint8Array {
  const nameBytes = enc.encode(name);
  const fields = [
    ino,
    mode,
    0, // uid
    0, // gid
    nlink,
    0, // mtime: reproducible archives
    size,
    0, // devmajor
    0, // devminor
    0, // rdevmajor
    0, // rdevminor
    nameBytes.length + 1,
    0, // check
  ];
  const head = enc.encode("070701" + fields.map(hex8).join(""));
  const out = new Uint8Array(
    head.length + nameBytes.length + 1 +
      pad4(head.length + nameBytes.length + 1),
  );
  out.set(head);
  out.set(nameBytes, head.length);
  return out;
}

/**
 * Stream an archive of `entries` to `sink` (chunks in order), ending with the
 * TRAILER!!! member. Paths are relative ("bin/busybox"), parents first.
 */
export function writeCpio(
  entries: Iterable<CpioEntry>,
  sink: (chunk: Uint8Array) => void,
): void {
  let ino = 1;
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, "");
    if (!name) continue;
    if (e.type === "dir") {
      sink(cpioHeader(ino++, S_IFDIR | (e.mode ?? 0o755), 0, name, 2));
    } else if (e.type === "symlink") {
      const t = enc.encode(e.target);
      sink(cpioHeader(ino++, S_IFLNK | 0o777, t.length, name));
      sink(t);
      sink(new Uint8Array(pad4(t.length)));
    } else {
      sink(
        cpioHeader(ino++, S_IFREG | (e.mode ?? 0o644), e.data.length, name),
      );
      sink(e.data);
      sink(new Uint8Array(pad4(e.data.length)));
    }
  }
  sink(cpioHeader(0, 0, 0, "TRAILER!!!"));
}

/** Parse a newc archive back into (path, mode, data) records: for tests. */
export function readCpio(
  buf: Uint8Array,
): { path: string; mode: number; data: Uint8Array }[] {
  const dec = new TextDecoder();
  const out: { path: string; mode: number; data: Uint8Array }[] = [];
  let off = 0;
  for (;;) {
    const head = dec.decode(buf.subarray(off, off + 110));
    if (!head.startsWith("070701")) throw new Error(`bad cpio magic at ${off}`);
    const field = (i: number) =>
      parseInt(head.slice(6 + 8 * i, 14 + 8 * i), 16);
    const mode = field(1), size = field(6), nameLen = field(11);
    const name = dec.decode(buf.subarray(off + 110, off + 110 + nameLen - 1));
    off += 110 + nameLen;
    off += pad4(110 + nameLen);
    if (name === "TRAILER!!!") return out;
    out.push({ path: name, mode, data: buf.slice(off, off + size) });
    off += size + pad4(size);
  }
}
