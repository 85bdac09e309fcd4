/** Escapes text for XML element content and attribute values. */
/** Escapes text for XML; characters XML 1.0 forbids become U+FFFD so the answer stays well-formed. */
export function escapeXml(s: string): string {
  // Linear: single character classes, no quantifier.
  return (
    s
      // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing the control characters XML forbids is the point.
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD')
      .replace(/[<>&"']/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '&apos;'))
  );
}
