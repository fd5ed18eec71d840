/** How counts and amounts of money read wherever mastodon-cfn prints them. */

/** `1 resource`, `2 resources`; `plural` for nouns that do not just take an s. */
export const plural = (count: number, noun: string, pluralNoun = `${noun}s`) => `${count} ${count === 1 ? noun : pluralNoun}`;

/** `$12.34`, or `unknown` for an amount without a price. */
export const money = (value: number | undefined) => (value === undefined ? 'unknown' : `$${value.toFixed(2)}`);

/** A unit price: cents always shown, and as many further digits as the price has (`$0.40`, `$0.011175`). */
export const unitPrice = (value: number) => `$${value.toFixed(8).replace(/(\.\d\d\d*?)0+$/, '$1')}`;

/**
 * A quantity and its unit, given in the plural (`730 hours`, `1 hour`, `1 secret-month`); a unit
 * counted in millions or thousands stays plural (`1 million requests`).
 */
export const quantity = (count: number, unit: string) => (count === 1 && !/^(million|thousand) /.test(unit) ? `${count} ${unit.replace(/s$/, '')}` : `${count} ${unit}`);

/** `2026-12-03 04:05`: a moment in UTC to the minute, as status and drift print when something happened. */
export const utcMinute = (moment: Date | string | number) => new Date(moment).toISOString().slice(0, 16).replace('T', ' ');

/** How many letters (case aside) must change, be added or be removed to make one word the other. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/** The known word nearest to another, however far (ties: the first known). */
export function nearest(word: string, known: readonly string[]): { word: string; distance: number } | undefined {
  let best: { word: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(word, candidate);
    if (best === undefined || distance < best.distance) best = { word: candidate, distance };
  }
  return best;
}

/** The known word nearest to a mistyped one, when it is near enough to be what was meant. */
export function closest(unknown: string, known: readonly string[]): string | undefined {
  const found = nearest(unknown, known);
  return found && found.distance <= Math.max(2, unknown.length / 3) ? found.word : undefined;
}
