// The catalogue's types, derived from en.ts: a language's catalogue must have every
// plain key of en and, for each plural, exactly the forms that language uses.
import type en from "./en";

export type PluralForm = "zero" | "one" | "two" | "few" | "many" | "other";
type EnKey = keyof typeof en;
/** A plural's base: "job.images" for en's "job.images_one" and "job.images_other". */
type BaseOf<K> = K extends `${infer B}_other` ? B : never; // distributes over the union of keys
export type PluralBase = BaseOf<EnKey>;
/** A key that is not a plural form. */
export type PlainKey = Exclude<EnKey, `${PluralBase}_${PluralForm}`>;
/** What t() takes: a plain key, or a plural's base (with a `count`). */
export type Key = PlainKey | PluralBase;
/** A language's catalogue with the plural forms F (its Intl.PluralRules categories). */
export type Catalogue<F extends PluralForm> = Record<PlainKey, string> & Record<`${PluralBase}_${F}`, string>;
export type Params = Record<string, string | number>;
