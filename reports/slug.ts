import { createHash } from 'node:crypto';

/** Longest readable part of a slug, characters (the hash suffix comes on top). */
const MAX_READABLE = 48;

/**
 * A file-name-safe slug for an untrusted name: lowercase ASCII letters,
 * digits and `-` only, at most 48 readable characters, then `-` and 10 hex
 * characters of the SHA-256 of the exact name, so two names that sanitize
 * alike (`a/b`, `a b`, `A-B`) still get different slugs and no name can reach
 * another folder, a dot file or a reserved device name. Pure and stable:
 * the same name always gets the same slug (pages keep their URL).
 */
export function reportSlug(name: string, hashChars = 10): string {
  const readable = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_READABLE)
    .replace(/-+$/g, '');
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, hashChars);
  return `${readable === '' ? 'x' : readable}-${hash}`;
}

/**
 * Slugs for a set of distinct names, unique within the set: on the (unlikely)
 * collision of two 10-hex-character hashes, the colliding names get longer
 * hashes. Returns name -> slug.
 */
export function assignSlugs(names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const unique = [...new Set(names)];
  for (let chars = 10; chars <= 64; chars += 6) {
    const taken = new Map<string, string[]>();
    for (const n of unique) {
      const s = reportSlug(n, chars);
      taken.set(s, [...(taken.get(s) ?? []), n]);
    }
    const clashes = [...taken.values()].filter((ns) => ns.length > 1).flat();
    for (const [slug, ns] of taken) if (ns.length === 1) out.set(ns[0] as string, slug);
    if (clashes.length === 0) return out;
    unique.splice(0, unique.length, ...clashes);
  }
  // Names with identical SHA-256 prefixes of 64 hex chars are identical names, which the Set removed.
  return out;
}
