/**
 * Annotation templates of SLOs: text with `{{ name }}` placeholders, checked
 * when the config is loaded and filled in for every alert. Pure.
 */

/** Placeholders an SLO's annotation templates may use, and what they stand for. */
export const TEMPLATE_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  slo: 'SLO name',
  job: 'job selector of the SLO',
  sli: 'success, latency or freshness',
  severity: "the tier's severity",
  objective: 'objective as a percentage, e.g. 99.5%',
  window: 'SLO window, e.g. 30d',
  long_window: "the tier's long window",
  short_window: "the tier's short window",
  burn_rate_long: 'burn rate over the long window, rounded, e.g. 20x',
  burn_rate_short: 'burn rate over the short window, rounded',
  factor: "the tier's burn-rate threshold, rounded",
  error_budget_remaining: 'error budget left, as a percentage',
  runbook_url: 'the runbook URL, or empty',
});

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Checks a template: every `{{ ... }}` names a known variable and no stray
 * `{{` or `}}` is left. Returns the problem, or undefined when it is fine.
 */
export function checkTemplate(text: string): string | undefined {
  for (const m of text.matchAll(PLACEHOLDER)) {
    const name = m[1] as string;
    if (!(name in TEMPLATE_VARIABLES)) return `unknown placeholder {{ ${name} }}; use one of ${Object.keys(TEMPLATE_VARIABLES).join(', ')}`;
  }
  const rest = text.replace(PLACEHOLDER, '');
  if (rest.includes('{{') || rest.includes('}}')) return 'has an unmatched {{ or }}; placeholders look like {{ slo }}';
  return undefined;
}

/** Fills the placeholders of a checked template. */
export function renderTemplate(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(PLACEHOLDER, (_all, name: string) => vars[name] ?? '');
}
