// Tar streams written member by member, as a hostile testbed's `tar` could write them: any
// name, type, mode, owner and link, in ustar headers (and GNU's long names or pax records).
export interface Member {
  name: string;
  /** "0" file, "1" hard link, "2" symlink, "3" char device, "4" block device, "5" directory, "6" FIFO. */
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  data?: string;
  link?: string;
  major?: number;
  minor?: number;
}

const BLOCK = 512;

function octal(block: Uint8Array, start: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, "0");
  block.set(new TextEncoder().encode(digits), start);
}

function header(name: string, type: string, member: Omit<Member, "name">, size: number): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const encoder = new TextEncoder();
  block.set(encoder.encode(name).subarray(0, 100), 0);
  octal(block, 100, 8, member.mode ?? (type === "5" ? 0o755 : 0o644));
  octal(block, 108, 8, member.uid ?? 0);
  octal(block, 116, 8, member.gid ?? 0);
  octal(block, 124, 12, size);
  octal(block, 136, 12, 1700000000);
  block[156] = type.charCodeAt(0);
  block.set(encoder.encode(member.link ?? "").subarray(0, 100), 157);
  block.set(encoder.encode("ustar\u000000"), 257);
  block.set(encoder.encode("root"), 265);
  block.set(encoder.encode("root"), 297);
  octal(block, 329, 8, member.major ?? 0);
  octal(block, 337, 8, member.minor ?? 0);
  block.fill(0x20, 148, 156);
  const sum = block.reduce((total, byte) => total + byte, 0);
  octal(block, 148, 7, sum);
  block[155] = 0x20;
  return block;
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
  out.set(data);
  return out;
}

/** The stream, with its two end blocks. `long` writes names longer than 100 bytes as GNU
 *  "L" members, `pax` as pax "x" records. */
export function tarStream(members: Member[], style: "long" | "pax" = "long"): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const member of members) {
    const type = member.type ?? "0";
    const data = new TextEncoder().encode(member.data ?? "");
    const size = type === "0" ? data.length : 0;
    if (new TextEncoder().encode(member.name).length > 100) {
      if (style === "long") {
        const name = new TextEncoder().encode(`${member.name}\0`);
        parts.push(header("././@LongLink", "L", {}, name.length), padded(name));
      } else {
        const record = (length: number) => `${length} path=${member.name}\n`;
        let length = record(0).length;
        while (record(length).length !== length) length = record(length).length;
        const bytes = new TextEncoder().encode(record(length));
        parts.push(header("PaxHeader", "x", {}, bytes.length), padded(bytes));
      }
    }
    parts.push(header(member.name, type, member, size));
    if (size > 0) parts.push(padded(data));
  }
  parts.push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
