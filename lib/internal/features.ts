/**
 * Image feature strings, read and written by librbd's own parser
 * (rbd_features_from_string / rbd_features_to_string) so `rbd default
 * features` means here exactly what it means to librbd: a number, or names
 * such as `layering,exclusive-lock,object-map,fast-diff,deep-flatten`.
 */
import { RBD_FEATURE_LAYERING } from '../constants';
import { addon } from '../native';
import { checkString } from '../validate';

/** Feature bits of a librbd feature string; InvalidArgument (EINVAL) for an unknown name. */
export function featuresFromString(text: string): number {
  return addon.rbd.featuresFromString(checkString(text, 'text'));
}

/** librbd's names of `bits`, comma-separated ('' for none). */
export function featuresToString(bits: number): string {
  return addon.rbd.featuresToString(bits);
}

/**
 * The features new images get from a `rbd_default_features` value (as
 * confGet reads it), the way Cinder's RADOSClient.features and Glance read
 * it: layering when unset, empty or 0.
 */
export function defaultFeatures(value: string | null | undefined): number {
  if (value === null || value === undefined || value.trim() === '') return RBD_FEATURE_LAYERING;
  const bits = featuresFromString(value.trim());
  return bits === 0 ? RBD_FEATURE_LAYERING : bits;
}
