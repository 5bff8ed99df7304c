// Formatting of times, sizes and durations for people.

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

export function ago(iso: string | null | undefined): string {
  if (!iso) return "–";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((Date.now() - t) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  let v: string;
  if (a < 45) v = `${a}s`;
  else if (a < 3600) v = `${Math.round(a / 60)}m`;
  else if (a < 86400 * 2) v = `${Math.round(a / 3600)}h`;
  else v = `${Math.round(a / 86400)}d`;
  return future ? `in ${v}` : `${v} ago`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function minutes(m: number, off: string): string {
  if (m < 0) return "never";
  if (m === 0) return off;
  return m % 60 === 0 ? `${m / 60} h` : `${m} min`;
}

export function seconds(s: number | null): string {
  if (s === null || s === undefined) return "none";
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

// parsePairs reads "key=value" lines (or, with commas, comma-separated
// pairs) into an object; it throws naming the first one that is not a pair.
export function parsePairs(text: string, what: string, commas = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(commas ? /[\n,]/ : /\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf("=");
    if (i <= 0) throw new Error(`${what}: "${line}" is not KEY=VALUE`);
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

// optNumber reads an optional number input: blank is undefined.
export function optNumber(input: HTMLInputElement, what: string): number | undefined {
  const v = input.value.trim();
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${what}: "${v}" is not a number`);
  return n;
}
