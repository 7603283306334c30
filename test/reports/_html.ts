/** Small HTML/SVG helpers for the report tests: entity decoding, attribute reading and a tag-balance check. */

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the entities handlebars and the chart module emit. */
export function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return NAMED[e] ?? m;
  });
}

/** The attributes of one start tag, decoded. */
export function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)="([^"]*)"/g)) out[m[1] as string] = decode(m[2] as string);
  return out;
}

/** Every start tag that has `data-field`, with the context attribute (`data-job` etc.) of the row it is in. */
export function dataCells(html: string, contextAttr = 'data-job'): { context: string | null; field: string; value: string; tag: string }[] {
  const out: { context: string | null; field: string; value: string; tag: string }[] = [];
  let context: string | null = null;
  for (const m of html.matchAll(/<(tr|td|div|main)\b[^>]*>/g)) {
    const a = attrs(m[0]);
    if (m[1] === 'tr') context = a[contextAttr] ?? null;
    if (a['data-field'] !== undefined) out.push({ context, field: a['data-field'], value: a['data-value'] ?? '', tag: m[0] });
  }
  return out;
}

const VOID = new Set(['meta', 'link', 'br', 'hr', 'img', 'input', 'col', 'area', 'base', 'wbr', 'source']);

/**
 * Checks that elements nest properly (every end tag closes the innermost
 * open element; SVG self-closing tags allowed). Returns the first problem,
 * or null.
 */
export function tagBalanceProblem(markup: string): string | null {
  const stack: string[] = [];
  const withoutText = markup.replace(/<style>[\s\S]*?<\/style>/g, '').replace(/<!--[\s\S]*?-->/g, '').replace(/<!doctype[^>]*>/i, '');
  for (const m of withoutText.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*?(\/?)>/g)) {
    const [, close, rawName, selfClose] = m;
    const name = (rawName as string).toLowerCase();
    if (selfClose || (VOID.has(name) && !close)) continue;
    if (!close) stack.push(name);
    else {
      const top = stack.pop();
      if (top !== name) return `</${name}> closes <${top ?? 'nothing'}> at offset ${m.index}`;
    }
  }
  return stack.length === 0 ? null : `unclosed <${stack.join('>, <')}>`;
}
