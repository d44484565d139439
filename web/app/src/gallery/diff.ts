// Which words of two texts differ (a longest common subsequence of their words),
// so that the compare screen highlights what changed in a long prompt.

export interface Piece {
  text: string;
  changed: boolean;
}

const MAX_WORDS = 600; // beyond this a text is shown whole, marked changed

/** Splits into words and the spaces between them (kept, so that the pieces join back into the text). */
const words = (text: string): string[] => text.split(/(\s+)/).filter((w) => w !== "");

/** The pieces of `a` and of `b`, each word marked when it is not part of their longest common subsequence. */
export function wordDiff(a: string, b: string): [Piece[], Piece[]] {
  const wa = words(a);
  const wb = words(b);
  if (wa.length > MAX_WORDS || wb.length > MAX_WORDS) return [[{ text: a, changed: true }], [{ text: b, changed: true }]];
  const n = wa.length;
  const m = wb.length;
  const table: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) table[i][j] = wa[i] === wb[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
  const keptA = new Array<boolean>(n).fill(false);
  const keptB = new Array<boolean>(m).fill(false);
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (wa[i] === wb[j]) {
      keptA[i++] = true;
      keptB[j++] = true;
    } else if (table[i + 1][j] >= table[i][j + 1]) i++;
    else j++;
  }
  return [merge(wa, keptA), merge(wb, keptB)];
}

/** Adjacent words of the same kind as one piece; a space between two changed words joins them, any other is kept. */
function merge(list: string[], kept: boolean[]): Piece[] {
  const out: Piece[] = [];
  list.forEach((text, i) => {
    const space = text.trim() === "";
    const changed = space ? out.length > 0 && out[out.length - 1].changed && i + 1 < list.length && !kept[i + 1] : !kept[i];
    const last = out[out.length - 1];
    if (last && last.changed === changed) last.text += text;
    else out.push({ text, changed });
  });
  return out;
}
