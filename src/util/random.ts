/**
 * Seeded randomness. Every random choice in dprep comes from a generator derived from
 * (seed, name, index), so results do not depend on thread count or processing order.
 */

/** 32-bit FNV-1a of a string, for deriving seeds from names. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mixes a seed with any number of keys into a new 32-bit seed. */
export function deriveSeed(seed: number, ...keys: (string | number)[]): number {
  let h = seed >>> 0;
  for (const k of keys) h = splitmix32(h ^ hash32(String(k)));
  return h;
}

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A fast seeded generator (mulberry32) returning floats in [0, 1).
 * @example const rng = seededRandom(deriveSeed(13, 'bm25', queryIndex)); rng();
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle in place with the given generator. */
export function shuffleInPlace<T>(items: T[], rng: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
