/**
 * Client-side encryption (LUKS1/LUKS2 inside the image). After
 * encryptionFormat or encryptionLoad, reads and writes through that Image
 * handle are decrypted/encrypted by librbd; other clients see ciphertext
 * unless they load the key too. The usable size is the image size minus the
 * LUKS header.
 */
import { addon } from './native';
import { Image } from './rbd';
import './setup';
import { checkObject, invalidType, invalidValue } from './validate';

export const RBD_ENCRYPTION_FORMAT_LUKS1 = 0;
export const RBD_ENCRYPTION_FORMAT_LUKS2 = 1;
export const RBD_ENCRYPTION_ALGORITHM_AES128 = 0;
export const RBD_ENCRYPTION_ALGORITHM_AES256 = 1;

export type EncryptionFormat = 'luks1' | 'luks2';
export type EncryptionAlgorithm = 'aes-128' | 'aes-256';

function format(value: unknown): number {
  if (value === 'luks1') return RBD_ENCRYPTION_FORMAT_LUKS1;
  if (value === 'luks2') return RBD_ENCRYPTION_FORMAT_LUKS2;
  throw invalidValue('format', "'luks1' or 'luks2'", value);
}

function passphrase(value: unknown): string | Buffer {
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    if (value.length === 0) throw invalidValue('passphrase', 'a non-empty string or Buffer', value);
    return value;
  }
  throw invalidType('passphrase', 'a string or Buffer', value);
}

declare module './rbd' {
  interface Image {
    /**
     * Formats the image as LUKS1/LUKS2 with `passphrase` (writes the LUKS
     * header; existing data becomes unreadable). Algorithm default 'aes-256'.
     * librbd reports no progress for this call.
     */
    encryptionFormat(format: EncryptionFormat, passphrase: string | Buffer, options?: { algorithm?: EncryptionAlgorithm }): Promise<void>;
    /** Loads the key of a LUKS-formatted image: PermissionDenied for a wrong passphrase, InvalidArgument when not formatted. */
    encryptionLoad(format: EncryptionFormat, passphrase: string | Buffer): Promise<void>;
  }
}

Image.prototype.encryptionFormat = async function encryptionFormat(this: Image, fmt, secret, options = {}) {
  const o = checkObject<{ algorithm: EncryptionAlgorithm }>(options, 'options');
  let alg = RBD_ENCRYPTION_ALGORITHM_AES256;
  if (o.algorithm === 'aes-128') alg = RBD_ENCRYPTION_ALGORITHM_AES128;
  else if (o.algorithm !== undefined && o.algorithm !== 'aes-256') throw invalidValue('options.algorithm', "'aes-128' or 'aes-256'", o.algorithm);
  return addon.rbdx.encryptionFormat(this.native, format(fmt), passphrase(secret), alg);
};

Image.prototype.encryptionLoad = async function encryptionLoad(this: Image, fmt, secret) {
  return addon.rbdx.encryptionLoad(this.native, format(fmt), passphrase(secret));
};
