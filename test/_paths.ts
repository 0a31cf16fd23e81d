/** Paths tests rely on: the repo root, bundled fixtures, and the shared real data beside the checkout. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FIXTURES = join(REPO_ROOT, 'fixtures');
/** ../shared/data next to the checkout (CI clones with shared/ beside it). */
export const SHARED_DATA = join(REPO_ROOT, '..', 'shared', 'data');
export const CLI = join(REPO_ROOT, 'bin', 'dprep.js');
