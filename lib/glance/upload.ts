/**
 * GlanceStore.add's write phase: the shared chunk writer with Glance's
 * policy for data longer than announced ("Size exceeds", Invalid).
 */
import type { Image } from '../rbd';
import { ChunkWriter, type ChunkWriterSettings } from '../internal/chunk-writer';
import { Invalid } from './errors';

/** Glance's error for more bytes than the announced size. */
export function sizeExceeds(expected: number, got: number): Invalid {
  return new Invalid(`Size exceeds: expected ${expected} bytes, got ${got} bytes`);
}

export class Upload extends ChunkWriter {
  constructor(image: Image, settings: ChunkWriterSettings) {
    super(image, { tooLong: sizeExceeds, ...settings });
  }
}
