// Protocol and service names as charon prints them in traffic selectors (`[tcp/http]`): charon
// asks getprotobynumber/getservbyport, which read /etc/protocols and /etc/services, so names are
// read back from the same files. Missing files give empty tables (charon then prints numbers).
import { readFileSync } from 'node:fs';

export interface NetDb {
  protocol(name: string): number | undefined;
  port(name: string, protocolName: string | undefined): number | undefined;
}

const MAX_FILE = 1 << 20;

function readSmall(path: string): string {
  try {
    const b = readFileSync(path);
    return b.length > MAX_FILE ? '' : b.toString('latin1');
  } catch {
    return '';
  }
}

/** Parses the two files' text (lines `name number aliases...`, `name port/proto aliases...`). */
export function parseNetDb(protocolsText: string, servicesText: string): NetDb {
  const protocols = new Map<string, number>();
  for (const raw of protocolsText.split('\n')) {
    const words = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (words.length < 2 || !/^\d+$/.test(words[1]!)) continue;
    const n = Number(words[1]);
    for (const w of [words[0]!, ...words.slice(2)]) if (!protocols.has(w)) protocols.set(w, n);
  }
  const services = new Map<string, number>();
  for (const raw of servicesText.split('\n')) {
    const words = raw.replace(/#.*/, '').trim().split(/\s+/);
    const m = words.length >= 2 ? /^(\d+)\/(\w+)$/.exec(words[1]!) : null;
    if (!m) continue;
    for (const w of [words[0]!, ...words.slice(2)]) {
      const key = `${w}/${m[2]}`;
      if (!services.has(key)) services.set(key, Number(m[1]));
    }
  }
  return {
    protocol: (name) => protocols.get(name),
    port: (name, proto) => (proto === undefined ? undefined : services.get(`${name}/${proto}`)),
  };
}

let system: NetDb | undefined;

/** This host's tables (read once). */
export function systemNetDb(): NetDb {
  system ??= parseNetDb(readSmall('/etc/protocols'), readSmall('/etc/services'));
  return system;
}
