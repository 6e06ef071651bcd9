/**
 * xs:duration as WS-BaseNotification uses it for termination times and pull timeouts
 * (`PT60S`, `PT1M`, `P1DT2H`), in ms; null when it is not one. Years and months are
 * refused: no subscription lives that long.
 */
export function parseDuration(text: string): number | null {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text.trim());
  if (!match || text.trim() === 'P' || text.trim().endsWith('T')) return null;
  const [, days, hours, minutes, seconds] = match;
  return (
    (Number(days ?? 0) * 86_400 + Number(hours ?? 0) * 3600 + Number(minutes ?? 0) * 60) * 1000 +
    Math.round(Number(seconds ?? 0) * 1000)
  );
}

/**
 * A termination time as WS-BaseNotification allows it: a duration from now or an
 * absolute xs:dateTime; null when it is neither.
 */
export function parseTerminationTime(text: string, now: number): number | null {
  const duration = parseDuration(text);
  if (duration !== null) return now + duration;
  const absolute = Date.parse(text.trim());
  return Number.isFinite(absolute) && /^\d{4}-/.test(text.trim()) ? absolute : null;
}
