/**
 * Percent-coding of location URIs, byte for byte as Python's urllib.parse
 * does it (Glance, Cinder and Nova all write and read locations with it).
 */

const HEX = '0123456789ABCDEF';

function isUnreserved(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || // 0-9
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e // - . _ ~
  );
}

/**
 * Percent-encodes like Python's `urllib.parse.quote(s, safe='')`: the UTF-8
 * bytes of everything but letters, digits and `_.-~` become %XX (upper case).
 */
export function quote(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const b of bytes) out += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Decodes like Python's `urllib.parse.unquote`: each valid %XX becomes a
 * byte, anything else (a lone or malformed %) stays as it is, and the bytes
 * are read as UTF-8 with invalid sequences replaced by U+FFFD (never
 * throws, unlike decodeURIComponent).
 */
export function unquote(value: string): string {
  if (!value.includes('%')) return value;
  const src = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    if (src[i] === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1]);
      const lo = hexValue(src[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = src[i];
  }
  return out.toString('utf8', 0, n);
}
