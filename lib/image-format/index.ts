/** Image formats: find a format in the bytes, check an image by Cinder's rules, and run qemu-img. */
export {
  ImageFormatError,
  ImageFormatMismatch,
  UnsafeImage,
  ImageFormatUnsupported,
  ImageTooLarge,
  QemuImgMissing,
  QemuImgFailed,
  type UnsafeReason,
} from './errors';
export { SUPPORTED_FORMATS, SAFE_VMDK_CREATE_TYPES, normalizeDiskFormat, qemuFormatOf, formatsAgree, type InspectedFormat } from './formats';
export { detectFormat, detectFileFormat, detectBufferFormat, type DetectedImage, type ReadAt } from './inspect';
export {
  qemuImgInfo,
  qemuImgConvert,
  parseQemuImgInfo,
  rbdTargetString,
  resolveQemuImg,
  QEMU_IMG_INFO_LIMITS,
  QEMU_SOURCE_FORMATS,
  type QemuImgInfo,
  type QemuImgInfoOptions,
  type QemuImgConvertOptions,
  type QemuImgBaseOptions,
  type RbdTarget,
} from './qemu-img';
export { checkImage, checkDetected, verifyImageFile, type CheckImageOptions, type VerifyImageOptions, type VerifiedImage } from './check';
export { withTempDir, type TempDirOptions } from './temp';
