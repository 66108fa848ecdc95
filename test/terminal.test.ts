// Untrusted text made safe for a terminal, and the colour decision.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { colourWanted, cut, printable, terminalSafe } from '../src/terminal.js';

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('printable / terminalSafe', () => {
  it('leave no control character (terminalSafe keeps only line feed and tab), and change nothing else', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        expect(printable(s)).not.toMatch(UNSAFE);
        expect(terminalSafe(s).replace(/[\n\t]/g, '')).not.toMatch(UNSAFE);
        if (!UNSAFE.test(s)) {
          expect(printable(s)).toBe(s);
          expect(terminalSafe(s)).toBe(s);
        }
      }),
    );
  });

  it('escape as JSON does, so that JSON output keeps its meaning', () => {
    const json = JSON.stringify({ name: 'a\u001b[31m\u009b\u202eb' });
    expect(JSON.parse(terminalSafe(json))).toEqual({ name: 'a\u001b[31m\u009b\u202eb' });
    expect(printable('a\nb\u001bc')).toBe('a\\nb\\u001bc');
  });
});

describe('cut', () => {
  it('keeps at most max characters and a marker, never half a surrogate pair', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 120 }), fc.integer({ min: 1, max: 80 }), (s, max) => {
        const c = cut(s, max);
        if (s.length <= max) {
          expect(c).toBe(s);
          return;
        }
        expect(c.endsWith('...')).toBe(true);
        const kept = c.slice(0, -3);
        expect(kept.length).toBeLessThanOrEqual(max);
        expect(s.startsWith(kept)).toBe(true);
        const last = kept.charCodeAt(kept.length - 1);
        expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
      }),
    );
  });
});

describe('colourWanted', () => {
  it('only a terminal, and never with NO_COLOR set to something', () => {
    expect(colourWanted({ isTTY: true }, {})).toBe(true);
    expect(colourWanted({ isTTY: false }, {})).toBe(false);
    expect(colourWanted({}, {})).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
  });
});
