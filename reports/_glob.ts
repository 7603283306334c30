/** True when `job` is selected by a store JobSelector: an exact name, or a glob where `*` is any run of characters and `?` one character. */
export function selects(selector: string, job: string): boolean {
  if (!/[*?]/.test(selector)) return selector === job;
  let re = '^';
  for (const ch of selector) {
    if (ch === '*') re += '[\\s\\S]*';
    else if (ch === '?') re += '[\\s\\S]';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 'u').test(job);
}
