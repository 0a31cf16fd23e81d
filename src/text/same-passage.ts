/**
 * When two passages are "the same passage" by text: mining drops a hit equal to a positive under
 * it, and training masks such a passage out of the question's in-batch negatives.
 */

/** Whitespace-collapsed, NFC, lowercased text: two passages equal under it are the same passage. */
export function normalizeForDedup(text: string): string {
  return text.normalize('NFC').toLowerCase().replace(/\s+/g, ' ').trim();
}
