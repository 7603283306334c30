/**
 * Escaping for text that came from telemetry (job names, error messages,
 * attribute values): everything such text touches in HTML or SVG goes through
 * here or through handlebars' `{{ }}`, which escapes the same characters.
 */

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#x27;',
  '`': '&#x60;',
  '=': '&#x3D;',
};

/** Escapes text for HTML/SVG element content and quoted attribute values, exactly as handlebars' `{{ }}` does. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'`=]/g, (c) => ENTITIES[c] ?? c);
}

/**
 * Removes characters that are not allowed in XML 1.0 documents (C0 controls
 * other than tab/newline/CR, lone surrogates, U+FFFE/U+FFFF), so that an
 * inline SVG stays well-formed whatever bytes a message carried.
 */
export function stripControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Shortens untrusted text to at most `maxChars` code points (an ellipsis
 * included), collapsing whitespace runs so a multi-line stack trace reads as
 * one line. Does not escape: escape at output.
 */
export function excerpt(text: string, maxChars: number): string {
  const flat = stripControl(text).replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat);
  if (chars.length <= maxChars) return flat;
  return `${chars.slice(0, Math.max(0, maxChars - 1)).join('')}…`;
}
