import { readFileSync } from 'node:fs';

/**
 * dprep's version, from package.json (part of every pipeline cache key).
 * @example console.log(`dprep ${DPREP_VERSION}`);
 */
export const DPREP_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
