// The output manager's pure logic (issue 18): selection with ranges, grouping by
// day, the listing query, marks, moves in the grid, the word diff, and the API's
// new routes parsed at the boundary.
import { afterEach, describe, expect, it } from "vitest";
import {
  ApiError, compareImages, deleteMany, galleryCounts, listingQueryString, markMany, moveImages, parseGalleryItem, setFetcher, setMarks, zipSelection,
  type GalleryItem,
} from "../src/api";
import { dayKey, dayLabel, withDays } from "../src/gallery/days";
import { wordDiff } from "../src/gallery/diff";
import { DEFAULT_FILTERS, activeFilters, dayEnd, dayStart, inPlace, listingOf, takesNewFiles } from "../src/gallery/filters";
import { applyMove, itemKey, markItems } from "../src/gallery/items";
import { NO_MARKS, applyMarks, rateChange, stillListed, swipeOf, toggleFavourite } from "../src/gallery/marks";
import { NO_SELECTION, between, selectionReducer, type Selection } from "../src/gallery/selection";

const order = ["#1", "#2", "#3", "#4", "#5", "#6"];
const keys = (s: Selection) => [...s.keys].sort();

describe("selection", () => {
  it("starts with a long press, toggles with taps", () => {
    let s = selectionReducer(NO_SELECTION, { type: "press", key: "#2", order });
    expect(s).toMatchObject({ active: true, anchor: "#2", all: false });
    expect(keys(s)).toEqual(["#2"]);
    s = selectionReducer(s, { type: "tap", key: "#5", order });
    expect(keys(s)).toEqual(["#2", "#5"]);
    s = selectionReducer(s, { type: "tap", key: "#2", order });
    expect(keys(s)).toEqual(["#5"]);
    expect(selectionReducer(NO_SELECTION, { type: "tap", key: "#1", order })).toBe(NO_SELECTION); // a tap opens, not selects
  });

  it("selects the range from the last tapped tile to the long-pressed one, either way", () => {
    let s = selectionReducer(NO_SELECTION, { type: "start" });
    s = selectionReducer(s, { type: "tap", key: "#2", order });
    s = selectionReducer(s, { type: "press", key: "#5", order });
    expect(keys(s)).toEqual(["#2", "#3", "#4", "#5"]);
    s = selectionReducer(s, { type: "tap", key: "#6", order }); // a new anchor
    s = selectionReducer(s, { type: "range", key: "#1", order }); // backwards (shift+click)
    expect(keys(s)).toEqual(order);
    expect(between(order, null, "#3")).toEqual(["#3"]);
    expect(between(order, "#gone", "#3")).toEqual(["#3"]);
    expect(between(order, "#4", "#missing")).toEqual([]);
  });

  it("all matching: then a tap keeps every loaded tile but that one", () => {
    let s = selectionReducer(selectionReducer(NO_SELECTION, { type: "start" }), { type: "all" });
    expect(s).toMatchObject({ active: true, all: true });
    expect(selectionReducer(s, { type: "press", key: "#3", order })).toBe(s);
    s = selectionReducer(s, { type: "tap", key: "#3", order });
    expect(s.all).toBe(false);
    expect(keys(s)).toEqual(["#1", "#2", "#4", "#5", "#6"]);
    expect(selectionReducer(s, { type: "end" })).toBe(NO_SELECTION);
  });
});

describe("grouping by day", () => {
  const at = (y: number, m: number, d: number, h = 12) => new Date(y, m - 1, d, h).getTime() / 1000;
  it("keys a time by its local day", () => {
    expect(dayKey(at(2024, 3, 9, 0))).toBe("2024-03-09");
    expect(dayKey(at(2024, 3, 9, 23))).toBe("2024-03-09");
  });

  it("puts a header before each run of a day; folders get none", () => {
    const items = [{ t: null }, { t: at(2024, 5, 2, 20) }, { t: at(2024, 5, 2, 8) }, { t: at(2024, 5, 1) }, { t: at(2024, 4, 30) }];
    const rows = withDays(items, (i) => i.t);
    expect(rows.map((r) => (r.kind === "day" ? r.key : "item"))).toEqual(["item", "2024-05-02", "item", "item", "2024-05-01", "item", "2024-04-30", "item"]);
  });

  it("names today and yesterday, then the weekday and date, in the language", () => {
    const now = new Date(2024, 4, 10, 15);
    expect(dayLabel("2024-05-10", "en-US", now)).toBe("Today");
    expect(dayLabel("2024-05-09", "en-US", now)).toBe("Yesterday");
    expect(dayLabel("2024-05-09", "fr-FR", now)).toBe("Hier");
    expect(dayLabel("2024-05-09", "ja-JP", now)).toBe("昨日");
    expect(dayLabel("2024-05-06", "en-US", now)).toBe("Monday, May 6");
    expect(dayLabel("2023-12-31", "en-US", now)).toBe("Sunday, December 31, 2023");
  });
});

describe("the listing query", () => {
  const place = { root: "output" as const, subfolder: "cats", recursive: false, search: "" };
  it("hides rejected images by default and leaves defaults out", () => {
    expect(listingQueryString(listingOf(place, DEFAULT_FILTERS))).toBe("subfolder=cats&rejected=hide");
    expect(listingQueryString({})).toBe("");
  });

  it("sends every filter, sizes in bytes and days as local seconds", () => {
    const f = { ...DEFAULT_FILTERS, sort: "size" as const, order: "asc" as const, kind: "video" as const, model: "sdxl.safetensors", minMB: "1.5", maxMB: "10",
      since: "2024-05-01", until: "2024-05-02", favourite: true, rejected: "show" as const, minRating: 3 };
    const text = listingQueryString(listingOf({ root: "input", subfolder: "", recursive: true, search: "fox den" }, f));
    const p = new URLSearchParams(text);
    expect(Object.fromEntries(p)).toEqual({
      type: "input", recursive: "true", search: "fox den", model: "sdxl.safetensors", sort: "size", order: "asc", kind: "video", favourite: "1",
      min_rating: "3", min_size: String(1.5 * 1024 * 1024), max_size: String(10 * 1024 * 1024),
      since: String(new Date(2024, 4, 1).getTime() / 1000), until: String(new Date(2024, 4, 3).getTime() / 1000 - 1),
    });
    expect(activeFilters(f)).toBe(7);
    expect(activeFilters(DEFAULT_FILTERS)).toBe(0);
  });

  it("keeps a sort's natural order out, sends the other", () => {
    expect(listingQueryString({ sort: "name", order: "asc" })).toBe("sort=name");
    expect(listingQueryString({ sort: "name", order: "desc" })).toBe("sort=name&order=desc");
    expect(listingQueryString({ sort: "mtime", order: "asc" })).toBe("order=asc");
  });

  it("reads days and ignores what is not one", () => {
    expect(dayStart("2024-02-29")).toBe(new Date(2024, 1, 29).getTime() / 1000);
    expect(dayEnd("2024-02-29")).toBe(new Date(2024, 2, 1).getTime() / 1000 - 1);
    expect(dayStart("yesterday")).toBeNull();
    expect(listingQueryString(listingOf(place, { ...DEFAULT_FILTERS, minMB: "abc", since: "soon" }))).toBe("subfolder=cats&rejected=hide");
  });

  it("knows which files belong to a place and when new ones go on top", () => {
    expect(inPlace({ type: "output", subfolder: "cats" }, place)).toBe(true);
    expect(inPlace({ type: "output", subfolder: "cats/kittens" }, place)).toBe(false);
    expect(inPlace({ type: "output", subfolder: "cats/kittens" }, { ...place, recursive: true })).toBe(true);
    expect(inPlace({ type: "output", subfolder: "catsup" }, { ...place, recursive: true })).toBe(false);
    expect(inPlace({ type: "input", subfolder: "cats" }, place)).toBe(false);
    expect(takesNewFiles(DEFAULT_FILTERS, "")).toBe(true);
    expect(takesNewFiles({ ...DEFAULT_FILTERS, rejected: "show" }, "")).toBe(true);
    expect(takesNewFiles({ ...DEFAULT_FILTERS, favourite: true }, "")).toBe(false);
    expect(takesNewFiles({ ...DEFAULT_FILTERS, sort: "name", order: "asc" }, "")).toBe(false);
    expect(takesNewFiles(DEFAULT_FILTERS, "fox")).toBe(false);
  });
});

describe("marks", () => {
  it("favourite and rejected exclude each other; a rating stays in 0..5", () => {
    const fav = applyMarks(NO_MARKS, { favourite: true, rating: 4 });
    expect(fav).toEqual({ favourite: true, rejected: false, rating: 4 });
    expect(applyMarks(fav, { rejected: true })).toEqual({ favourite: false, rejected: true, rating: 4 });
    expect(applyMarks(fav, { rating: 7 }).rating).toBe(5);
    expect(applyMarks(fav, { rating: -1 }).rating).toBe(0);
    expect(toggleFavourite(fav)).toEqual({ favourite: false });
    expect(rateChange(fav, 4)).toEqual({ rating: 0 }); // the same star again clears
    expect(rateChange(fav, 2)).toEqual({ rating: 2 });
  });

  it("says whether an image still belongs in a filtered grid", () => {
    const f = { favourite: false, rejected: "hide" as const, minRating: 0 };
    expect(stillListed({ ...NO_MARKS, rejected: true }, f)).toBe(false);
    expect(stillListed({ ...NO_MARKS, rejected: true }, { ...f, rejected: "show" })).toBe(true);
    expect(stillListed(NO_MARKS, { ...f, rejected: "only" })).toBe(false);
    expect(stillListed(NO_MARKS, { ...f, favourite: true })).toBe(false);
    expect(stillListed({ ...NO_MARKS, rating: 2 }, { ...f, minRating: 3 })).toBe(false);
  });

  it("reads a swipe: sideways for next and previous, up to favourite, down to reject", () => {
    expect(swipeOf(-120, 10)).toBe("next");
    expect(swipeOf(120, -10)).toBe("previous");
    expect(swipeOf(5, -150)).toBe("favourite");
    expect(swipeOf(-10, 150)).toBe("reject");
    expect(swipeOf(70, 70)).toBeNull(); // diagonal
    expect(swipeOf(4, 6)).toBeNull(); // a tap
  });
});

describe("the grid's items", () => {
  const file = (id: number, subfolder = "a"): GalleryItem =>
    ({ id, filename: `${id}.png`, subfolder, type: "output", isDir: false, prompt: null, model: null, marks: NO_MARKS, size: null, kind: null, width: null, height: null, created: null });
  const items = [file(1), file(2), file(3)];
  it("a moved file keeps its place when it stays in the listing, and leaves otherwise", () => {
    const all = { root: "output" as const, subfolder: "", recursive: true };
    const moved = applyMove(items, { id: 2, filename: "2.png", subfolder: "b", type: "output" }, null, all);
    expect(moved.map((i) => `${i.id}:${i.subfolder}`)).toEqual(["1:a", "2:b", "3:a"]);
    const here = { root: "output" as const, subfolder: "a", recursive: false };
    expect(applyMove(items, { id: 2, filename: "2.png", subfolder: "b", type: "output" }, null, here).map(itemKey)).toEqual(["#1", "#3"]);
  });

  it("marks the chosen files, or all", () => {
    const some = markItems(items, new Set(["#1", "#3"]), { favourite: true });
    expect(some.map((i) => i.marks.favourite)).toEqual([true, false, true]);
    expect(markItems(items, null, { rating: 2 }).every((i) => i.marks.rating === 2)).toBe(true);
  });
});

describe("the word diff", () => {
  it("marks the words that changed, on both sides", () => {
    const [a, b] = wordDiff("a red fox in the snow", "a blue fox in deep snow");
    expect(a.filter((p) => p.changed).map((p) => p.text.trim())).toEqual(["red", "the"]);
    expect(b.filter((p) => p.changed).map((p) => p.text.trim())).toEqual(["blue", "deep"]);
    expect(a.map((p) => p.text).join("")).toBe("a red fox in the snow");
    expect(wordDiff("same words", "same words")[0].every((p) => !p.changed)).toBe(true);
  });
});

const reply = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
afterEach(() => setFetcher((input, init) => fetch(input, init)));

describe("the API's new routes", () => {
  it("parses an item's marks and details, and defaults what is missing", () => {
    const item = parseGalleryItem({ filename: "a.png", subfolder: "", type: "output", id: 3, mtime: 5, marks: { favourite: true, rejected: "yes", rating: 9 }, size: 1000, kind: "image", width: 64, height: 32, created: 4 });
    expect(item).toMatchObject({ marks: { favourite: true, rejected: false, rating: 5 }, size: 1000, kind: "image", width: 64, height: 32, created: 4 });
    expect(parseGalleryItem({ filename: "b.png" })?.marks).toEqual(NO_MARKS);
  });

  it("sends marks and bulk selections as the contract says", async () => {
    const sent: { method: string; url: string; body: unknown }[] = [];
    setFetcher(async (url, init) => {
      sent.push({ method: init?.method ?? "GET", url, body: init?.body ? JSON.parse(String(init.body)) : null });
      if (url.includes("/marks") && init?.method === "PUT") return reply(200, { id: 3, marks: { favourite: true, rejected: false, rating: 2 } });
      if (url.endsWith("/gallery/marks")) return reply(200, { ok: true, updated: 4 });
      if (url.endsWith("/delete_many")) return reply(200, { ok: true, deleted: 2, batch: "b1", trash_ids: ["x", "y"] });
      if (url.includes("/counts")) return reply(200, { total: 50, favourite: 12, rejected: 40, rated: 7, ratings: { "1": 2, "5": 5 } });
      return reply(404, {});
    });
    expect(await setMarks(3, { favourite: true })).toEqual({ favourite: true, rejected: false, rating: 2 });
    expect(await markMany({ query: "subfolder=a&rejected=hide" }, { rejected: true })).toBe(4);
    expect(await deleteMany({ ids: [1, 2] })).toEqual({ deleted: 2, batch: "b1" });
    expect(await galleryCounts({ subfolder: "a", rejected: "hide" })).toEqual({ total: 50, favourite: 12, rejected: 40, rated: 7, ratings: { "1": 2, "2": 0, "3": 0, "4": 0, "5": 5 } });
    expect(sent.map((s) => `${s.method} ${s.url}`)).toEqual([
      "PUT /cozygen/api/images/3/marks", "POST /cozygen/api/gallery/marks", "POST /cozygen/api/gallery/delete_many", "GET /cozygen/api/gallery/counts?subfolder=a&rejected=hide",
    ]);
    expect(sent[0].body).toEqual({ favourite: true });
    expect(sent[1].body).toEqual({ query: "subfolder=a&rejected=hide", set: { rejected: true } });
    expect(sent[2].body).toEqual({ ids: [1, 2] });
  });

  it("a taken name on a move is an ApiError the app can offer 'keep both' for; a zip answers its url", async () => {
    setFetcher(async (url) => (url.endsWith("/move") ? reply(409, { error: "a.png is already in Keepers", code: "NAME_TAKEN" }) : reply(200, { url: "/cozygen/api/gallery/zip/t1", files: 3, bytes: 99, expires_in: 600 })));
    const error = (await moveImages({ ids: [1] }, "Keepers").catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("NAME_TAKEN");
    expect(await zipSelection({ ids: [1, 2, 3] })).toEqual({ url: "/cozygen/api/gallery/zip/t1", files: 3, bytes: 99 });
    setFetcher(async () => reply(200, { url: "https://elsewhere.example/x" }));
    expect(await zipSelection({ ids: [1] }).catch((e: ApiError) => e.code)).toBe("BAD_ANSWER");
    setFetcher(async () => reply(413, { error: "the zip would hold 20,000 files; the limit is 10,000", code: "TOO_MANY_FILES" }));
    expect(await zipSelection({ query: "recursive=true" }).catch((e: ApiError) => `${e.status} ${e.message}`)).toBe("413 the zip would hold 20,000 files; the limit is 10,000");
  });

  it("parses a comparison", async () => {
    setFetcher(async () => reply(200, { a: { fields: { seed: 1 }, width: 64, height: 64 }, b: { fields: { seed: 2 } }, differences: [{ name: "seed", a: 1, b: 2 }, { a: 1 }], same: [{ name: "steps", value: 20 }] }));
    const c = await compareImages(1, 2);
    expect(c.differences).toEqual([{ name: "seed", a: 1, b: 2 }]);
    expect(c.same).toEqual([{ name: "steps", value: 20 }]);
    expect(c.a.width).toBe(64);
    expect(c.b.width).toBeNull();
  });
});
