// Grouping the grid by day: a header before the first image of each day, in the
// app's language (Intl: "Today", "Yesterday", then the weekday and date).

/** The local calendar day of a time (seconds since the epoch), as "YYYY-MM-DD". */
export function dayKey(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const noon = (key: string): Date => {
  const [y, m, d] = key.split("-").map(Number);
  return new Date(y, m - 1, d, 12);
};

/** A day's header: "Today" and "Yesterday" (Intl.RelativeTimeFormat), else its weekday and date (with the year when it is not this one's). */
export function dayLabel(key: string, tag: string, now: Date = new Date()): string {
  const day = noon(key);
  const today = noon(dayKey(now.getTime() / 1000));
  const ago = Math.round((today.getTime() - day.getTime()) / 86_400_000);
  if (ago === 0 || ago === 1) {
    const text = new Intl.RelativeTimeFormat(tag, { numeric: "auto" }).format(-ago, "day");
    return text.charAt(0).toLocaleUpperCase(tag) + text.slice(1);
  }
  const options: Intl.DateTimeFormatOptions = { weekday: "long", day: "numeric", month: "long" };
  if (day.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return day.toLocaleDateString(tag, options);
}

export type Row<T> = { kind: "day"; key: string } | { kind: "item"; item: T };

/** The items with a day row before each run of the same day (items `when` gives no time for get none, nor do they break a run). */
export function withDays<T>(items: readonly T[], when: (item: T) => number | null): Row<T>[] {
  const rows: Row<T>[] = [];
  let last: string | null = null;
  for (const item of items) {
    const time = when(item);
    if (time !== null) {
      const key = dayKey(time);
      if (key !== last) rows.push({ kind: "day", key });
      last = key;
    }
    rows.push({ kind: "item", item });
  }
  return rows;
}
