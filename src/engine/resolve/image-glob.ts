/**
 * Globs over image references, for image profiles. The reference is matched as written in the pod,
 * case-sensitively, with no normalisation: `nginx`, `docker.io/nginx` and `docker.io/library/nginx`
 * are three different strings, and a profile lists each form it means.
 *
 * - `*` matches any run of characters, the empty one included, except `/`: it stays within one path
 *   component of the reference, so `registry.example.com/team/*` never matches
 *   `registry.example.com/team/other/app`. It does cross `:` and `.`, so `nginx:*` matches every tag
 *   and `registry.example.com:*` every port.
 * - `?` matches exactly one character other than `/`.
 * - Everything else is literal. There are no character classes, braces or `**`.
 * - A digest-pinned reference (`name[:tag]@sha256:...`) is matched without its digest, unless the glob
 *   itself contains `@`: then the whole reference is.
 *
 * Matching costs time linear in the reference for the globs admins write (and at most the product of
 * the two lengths), and a reference longer than MAX_IMAGE_REFERENCE_LENGTH matches nothing: the pod's
 * author writes the reference, and a profile only ever relaxes hardening.
 */

/** Longer than any real reference (a 255-character name, a 128-character tag and a digest). */
export const MAX_IMAGE_REFERENCE_LENGTH = 1024;
export const MAX_IMAGE_GLOB_LENGTH = 512;

const GLOB_CHARACTERS = /^[A-Za-z0-9._\-/:@*?]+$/;

/** Why a glob is not one, or undefined when it is valid. */
export function imageGlobProblem(glob: string): string | undefined {
  if (glob === '') return 'is empty';
  if (glob.length > MAX_IMAGE_GLOB_LENGTH) return `is longer than ${MAX_IMAGE_GLOB_LENGTH} characters`;
  if (!GLOB_CHARACTERS.test(glob))
    return (
      'may contain only the characters of an image reference (letters, digits, . _ - / : @) and the ' +
      'wildcards * and ? (no spaces, character classes or braces)'
    );
  if (glob.includes('**')) return 'uses **: * never crosses /, so write one * per path component';
  if (glob.startsWith('/') || glob.endsWith('/') || glob.includes('//'))
    return 'has an empty path component (a leading, trailing or double /)';
  if (glob.indexOf('@') !== glob.lastIndexOf('@')) return 'has more than one @';
  return undefined;
}

/** Whether `image` (as written in the pod) matches `glob` (valid by imageGlobProblem). */
export function matchesImageGlob(glob: string, image: string): boolean {
  if (image.length > MAX_IMAGE_REFERENCE_LENGTH) return false;
  const at = image.indexOf('@');
  const subject = glob.includes('@') || at < 0 ? image : image.slice(0, at);
  const globParts = glob.split('/');
  const parts = subject.split('/');
  if (globParts.length !== parts.length) return false;
  return globParts.every((part, i) => matchComponent(part, parts[i] ?? ''));
}

/** Wildcard match within one component (no `/` on either side): greedy, backtracking to the last `*`. */
function matchComponent(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = pattern[p];
    if (c !== undefined && c !== '*' && (c === '?' || c === text[t])) {
      p += 1;
      t += 1;
    } else if (c === '*') {
      star = p;
      p += 1;
      resume = t;
    } else if (star >= 0) {
      p = star + 1;
      resume += 1;
      t = resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p += 1;
  return p === pattern.length;
}
