/**
 * The report as JSON inside a <script type="application/json">: what the page
 * renders from, identical to `report --json` once parsed. Characters that
 * could end the element or start markup (`<`, `>`, `&`) and the two line
 * separators JavaScript once treated as newlines are written as \u escapes,
 * which JSON.parse turns back into themselves, so a process named
 * `</script>` stays data; bidi controls too, so that the file itself shows
 * none to an editor or a terminal.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
