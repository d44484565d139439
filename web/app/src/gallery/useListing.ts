// One gallery listing as the grid shows it: its pages (loaded as the end comes
// into view), its counts, and the live changes of the gallery stream.
import { useEffect, useRef, useState } from "preact/hooks";
import { gallery, galleryCounts, type GalleryCounts, type GalleryItem, type GalleryQuery } from "../api";
import { message } from "../components/ui";
import { ResumableStream } from "../events";
import { GALLERY_STREAM_EVENTS, GALLERY_STREAM_URL, parseGalleryEvent } from "../live";
import { inPlace, type Place } from "./filters";
import { applyMove, itemKey, sameItem } from "./items";

export interface Listing {
  items: GalleryItem[];
  setItems: (change: (items: GalleryItem[]) => GalleryItem[]) => void;
  loading: boolean;
  error: string;
  /** Files the whole listing holds (loaded or not). */
  total: number;
  counts: GalleryCounts | null;
  hasMore: boolean;
  loadMore: () => void;
  reload: () => void;
  refreshCounts: () => void;
}

const PER_PAGE = 48;

export function useListing(place: Place, query: GalleryQuery, takesNew: boolean): Listing {
  const [items, setItems] = useState<GalleryItem[]>([]);
  const [next, setNext] = useState<{ cursor: string | null; page: number } | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [total, setTotal] = useState(0);
  const [counts, setCounts] = useState<GalleryCounts | null>(null);
  const generation = useRef(0);
  const signature = JSON.stringify(query);
  const latest = useRef({ query, place, takesNew });
  latest.current = { query, place, takesNew };

  const refreshCounts = () => {
    const asked = JSON.stringify(latest.current.query);
    galleryCounts(latest.current.query).then((c) => asked === JSON.stringify(latest.current.query) && setCounts(c), () => setCounts(null));
  };

  const load = async (reset: boolean, from: { cursor: string | null; page: number } | null) => {
    const gen = reset ? ++generation.current : generation.current;
    if (!from) return;
    setLoading(true);
    setError("");
    try {
      const page = await gallery({ ...latest.current.query, cursor: from.cursor, page: from.page, perPage: PER_PAGE });
      if (gen !== generation.current) return;
      setItems((cur) => {
        const base = reset ? [] : cur;
        const seen = new Set(base.map(itemKey));
        return [...base, ...page.items.filter((i) => !seen.has(itemKey(i)))];
      });
      setTotal(page.total);
      setNext(page.next ? { cursor: page.next, page: page.page + 1 } : page.page < page.totalPages ? { cursor: null, page: page.page + 1 } : null);
    } catch (e) {
      if (gen === generation.current) setError(message(e));
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };
  const reload = () => {
    void load(true, { cursor: null, page: 1 });
    refreshCounts();
  };

  useEffect(() => {
    setItems([]);
    setNext(null);
    setCounts(null);
    reload();
  }, [signature]);

  // live: new files appear, deleted ones vanish, moved ones follow
  const { root, subfolder, recursive } = place;
  useEffect(() => {
    const url = `${GALLERY_STREAM_URL}?recursive=${recursive ? "true" : "false"}${subfolder ? `&subfolder=${encodeURIComponent(subfolder)}` : ""}${root === "input" ? "&type=input" : ""}`;
    let counting: ReturnType<typeof setTimeout> | undefined;
    const recount = () => {
      clearTimeout(counting);
      counting = setTimeout(refreshCounts, 400);
    };
    const stream = new ResumableStream({
      url,
      events: [...GALLERY_STREAM_EVENTS],
      onEvent: (_name, data) => {
        const ev = parseGalleryEvent(data);
        if (!ev) return void console.warn("CozyGen: ignored a malformed gallery event", data);
        if (ev.event === "reset") return void reload();
        if (ev.event === "reindexed" || ev.event === "modified") return;
        const ref = ev.item;
        const here = latest.current.place;
        if (ev.event === "deleted") setItems((cur) => cur.filter((i) => i.isDir || !sameItem(i, ref)));
        else if (ev.event === "moved") setItems((cur) => applyMove(cur, ref, ev.from, here));
        const adds = ev.event === "created" || ev.event === "moved";
        if (adds && latest.current.takesNew && inPlace(ref, here))
          setItems((cur) => (cur.some((i) => !i.isDir && sameItem(i, ref)) ? cur : [...cur.filter((i) => i.isDir), ref, ...cur.filter((i) => !i.isDir)]));
        recount();
      },
    });
    stream.start();
    return () => {
      clearTimeout(counting);
      stream.stop();
    };
  }, [root, subfolder, recursive]);

  return {
    items,
    setItems,
    loading,
    error,
    total: Math.max(0, total - items.filter((i) => i.isDir).length),
    counts,
    hasMore: next !== null,
    loadMore: () => void load(false, next),
    reload,
    refreshCounts,
  };
}
