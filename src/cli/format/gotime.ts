/**
 * Go's time.Time as far as Docker's output needs it: parsing the API's RFC 3339 timestamps
 * (nanoseconds kept, which JS Date would lose), `String()` ("2026-11-27 17:59:37.064260546 +0000
 * UTC", what `{{.Created}}` and `.CreatedAt` print) and `MarshalJSON` (RFC 3339 with nanoseconds).
 */
export interface GoTime {
  /** Whole seconds since the Unix epoch (UTC). */
  unixSeconds: number;
  /** 0..999999999 */
  nanos: number;
  /** Offset of the time's location from UTC. */
  offsetSeconds: number;
  /** Zone abbreviation ("UTC", "CET"); "" for a fabricated fixed zone, printed as "+0100". */
  zone: string;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** time.Parse(time.RFC3339Nano, s); undefined when s is not such a timestamp. */
export function parseRFC3339(s: string): GoTime | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m as unknown as string[];
  const wallSeconds = civilToUnix(Number(y), Number(mo), Number(d)) + Number(h) * 3600 + Number(mi) * 60 + Number(sec);
  const nanos = frac ? Number(frac.padEnd(9, '0')) : 0;
  if (zone === 'Z' || zone === 'z') return { unixSeconds: wallSeconds, nanos, offsetSeconds: 0, zone: 'UTC' };
  const sign = zone!.startsWith('-') ? -1 : 1;
  const offsetSeconds = sign * (Number(zone!.slice(1, 3)) * 3600 + Number(zone!.slice(4, 6)) * 60);
  const unixSeconds = wallSeconds - offsetSeconds;
  // Go reuses the local zone when the offset matches it; otherwise it fabricates a nameless zone.
  const local = localZone(unixSeconds);
  const zoneName = local.offsetSeconds === offsetSeconds ? local.zone : '';
  return { unixSeconds, nanos, offsetSeconds, zone: zoneName };
}

/** time.Unix(sec, 0) in the local time zone (TZ, else /etc/localtime, as Node resolves it). */
export function unixLocal(unixSeconds: number): GoTime {
  const { offsetSeconds, zone } = localZone(unixSeconds);
  return { unixSeconds, nanos: 0, offsetSeconds, zone };
}

/** t.String(): layout "2006-01-02 15:04:05.999999999 -0700 MST". */
export function timeString(t: GoTime): string {
  const c = civil(t);
  const frac = t.nanos === 0 ? '' : `.${String(t.nanos).padStart(9, '0').replace(/0+$/, '')}`;
  const off = numericOffset(t.offsetSeconds, '');
  return `${c.date} ${c.clock}${frac} ${off} ${t.zone === '' ? off : t.zone}`;
}

/** t.MarshalJSON() without the quotes: RFC 3339 with trimmed nanoseconds, "Z" for UTC. */
export function timeRFC3339Nano(t: GoTime): string {
  const c = civil(t);
  const frac = t.nanos === 0 ? '' : `.${String(t.nanos).padStart(9, '0').replace(/0+$/, '')}`;
  const zone = t.offsetSeconds === 0 ? 'Z' : numericOffset(t.offsetSeconds, ':');
  return `${c.date}T${c.clock}${frac}${zone}`;
}

function civil(t: GoTime): { date: string; clock: string } {
  const d = new Date((t.unixSeconds + t.offsetSeconds) * 1000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const year = d.getUTCFullYear();
  const y = year < 0 ? `-${String(-year).padStart(4, '0')}` : String(year).padStart(4, '0');
  return {
    date: `${y}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}`,
    clock: `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`,
  };
}

function numericOffset(offsetSeconds: number, sep: string): string {
  const minutes = Math.abs(Math.trunc(offsetSeconds / 60));
  const sign = offsetSeconds < 0 ? '-' : '+';
  return `${sign}${String(Math.trunc(minutes / 60)).padStart(2, '0')}${sep}${String(minutes % 60).padStart(2, '0')}`;
}

/** Seconds since the epoch of a proleptic Gregorian date at midnight UTC (years 1..9999 included). */
function civilToUnix(year: number, month: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(0, 0, 0, 0);
  return d.getTime() / 1000;
}

/**
 * The local zone's offset and abbreviation at an instant. Intl names zones without a common
 * abbreviation "GMT+1"; tzdata (and so Go) calls those "+01", which is what we print.
 */
function localZone(unixSeconds: number): { offsetSeconds: number; zone: string } {
  const date = new Date(unixSeconds * 1000);
  const offsetSeconds = -date.getTimezoneOffset() * 60;
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
    .formatToParts(date)
    .find((p) => p.type === 'timeZoneName')?.value;
  if (part === undefined) return { offsetSeconds, zone: offsetSeconds === 0 ? 'UTC' : '' };
  if (/^GMT[+-]/.test(part)) {
    const minutes = Math.abs(offsetSeconds / 60);
    const hh = String(Math.trunc(minutes / 60)).padStart(2, '0');
    const mm = minutes % 60 === 0 ? '' : String(minutes % 60).padStart(2, '0');
    return { offsetSeconds, zone: `${offsetSeconds < 0 ? '-' : '+'}${hh}${mm}` };
  }
  return { offsetSeconds, zone: part };
}
