// Optional server features (tag autocomplete, prompt tools, aliases, wildcards): probed
// once; a route that answers 404 hides its feature.
import { aliases, promptStyles, routeExists, wildcardNames } from "./api";

export interface Features {
  tags: boolean;
  random: boolean;
  styles: { name: string; description: string }[];
  defaultStyle: string;
  aliases: string[];
  wildcards: string[];
}

let probe: Promise<Features> | null = null;

export function features(): Promise<Features> {
  probe ??= Promise.all([
    routeExists("/cozygen/api/tags/search?q=a&limit=1"),
    routeExists("/cozygen/api/prompts/random?llm=false"), // the probe never asks a language model
    promptStyles().catch(() => ({ styles: [], default: "" })),
    aliases().catch(() => [] as string[]),
    wildcardNames().catch(() => [] as string[]),
  ]).then(([tags, random, styles, names, wildcards]) => ({
    tags, random, styles: styles.styles, defaultStyle: styles.default, aliases: names, wildcards,
  }));
  return probe;
}
