/**
 * Cron expressions as every config file reads them: 5 fields (minute hour
 * day-of-month month day-of-week) or 6 with seconds first, in an IANA time
 * zone, and firing at least once.
 */
import { Cron } from 'croner';

/** The fields of a cron expression, for messages. */
export const CRON_FIELDS_HELP = '5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first';

/**
 * What is wrong with a cron expression, or null when it is valid and fires.
 * Checks the field count itself (7-field patterns with a year are refused
 * with that reason) before croner parses the fields.
 */
export function cronProblem(pattern: string, timezone: string): string | null {
  const fields = pattern.trim().split(/\s+/).filter((f) => f !== '');
  if (!pattern.trim().startsWith('@') && fields.length !== 5 && fields.length !== 6) {
    return `has ${fields.length} field${fields.length === 1 ? '' : 's'}; use ${CRON_FIELDS_HELP}${fields.length === 7 ? ' (a seventh, year field is not supported)' : ''}`;
  }
  let next: Date | null;
  try {
    const c = new Cron(pattern, { timezone, paused: true, mode: '5-or-6-parts' });
    next = c.nextRun();
    c.stop();
  } catch (err) {
    return `is not a cron expression (${CRON_FIELDS_HELP}): ${(err instanceof Error ? err.message : String(err)).replace(/^CronPattern: /, '')}`;
  }
  if (next === null) return 'never fires (no date matches it, e.g. February 31st)';
  return null;
}

/** An IANA time zone the runtime knows (`UTC`, `Europe/Berlin`). */
export function isTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}
