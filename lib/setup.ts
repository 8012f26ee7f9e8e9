/**
 * Wires the addon to this layer once: its errors become the typed classes,
 * and a process that exits with handles still open releases them (rbd_close
 * drops the image's watch, so other clients do not see it busy for 30 s).
 * Node runs no addon cleanup hook on process.exit(), hence the 'exit' event.
 * Handles with calls in flight are released too: releaseAll() refuses new
 * calls, cancels progress-reporting ones and waits up to 3 s for running
 * ones first (native/common/handle.h ReleaseAllHandles).
 */
import { toTypedError } from './errors';
import { addon } from './native';

addon.setErrorFactory(toTypedError);
process.once('exit', () => addon.releaseAll());
