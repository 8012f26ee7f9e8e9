/** Small shared pieces of the Cinder layer: units and object orders. */

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** int(log2(bytes)), the object order for a chunk/stripe size in bytes. */
export function orderFor(bytes: number): number {
  return Math.floor(Math.log2(bytes));
}

/** Bytes → GiB rounded up (Cinder's int(math.ceil(float(size) / units.Gi))). */
export function ceilGiB(bytes: number): number {
  return Math.ceil(bytes / GiB);
}

/** Python's round(x, 2) on a float GiB value, for capacity reports. */
export function gib2(bytes: number): number {
  return Math.round((bytes / GiB) * 100) / 100;
}
