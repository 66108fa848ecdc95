// What reaches a terminal. Text from files and packets (policy tokens, ACL names, pcapng interface
// names) is untrusted: an escape sequence in it could rewrite the screen, a newline could forge a
// line, a bidi override could reorder what is shown. And colour only where a person looks at it.

/** Longest untrusted token echoed in a message, in characters. */
export const TOKEN_MAX = 64;

// C0 controls, DEL, C1 controls (0x9b is a one-byte CSI on some terminals) and the bidi
// embeddings, overrides and isolates.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// The same but line feed and tab: for multi-line output.
const UNSAFE_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

// `\u001b`: readable, and inside a JSON string the same character (so JSON output stays valid).
const escapeOne = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `text` as one safe line: every control character escaped (`\n`, `\u001b`, `\u202e`). */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? escapeOne(c));
}

/** Multi-line `text` made safe: control characters escaped except line feed and tab. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_IN_TEXT, escapeOne);
}

/** `text` cut to `max` characters (never inside a surrogate pair), marked with an ellipsis. */
export function cut(text: string, max = TOKEN_MAX): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}...`;
}

/**
 * Whether to colour what goes to `stream`: only a terminal, and never when NO_COLOR is set to a
 * non-empty value (https://no-color.org).
 */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}
