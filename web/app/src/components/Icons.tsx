// Small inline icons (24×24 strokes), so the app needs no icon font.
import type { JSX } from "preact";

const paths: Record<string, string> = {
  spark: "M12 3v4M12 17v4M3 12h4M17 12h4M6 6l2.5 2.5M15.5 15.5L18 18M6 18l2.5-2.5M15.5 8.5L18 6",
  grid: "M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM13 13h7v7h-7z",
  queue: "M4 6h16M4 12h16M4 18h10",
  gear: "M12 15a3 3 0 100-6 3 3 0 000 6zM19.4 15a1.7 1.7 0 00.3 1.8l.1.1a2 2 0 11-2.8 2.8l-.1-.1a1.7 1.7 0 00-1.8-.3 1.7 1.7 0 00-1 1.5V21a2 2 0 01-4 0v-.1a1.7 1.7 0 00-1.1-1.5 1.7 1.7 0 00-1.8.3l-.1.1a2 2 0 11-2.8-2.8l.1-.1a1.7 1.7 0 00.3-1.8 1.7 1.7 0 00-1.5-1H3a2 2 0 010-4h.1a1.7 1.7 0 001.5-1.1 1.7 1.7 0 00-.3-1.8l-.1-.1a2 2 0 112.8-2.8l.1.1a1.7 1.7 0 001.8.3H9a1.7 1.7 0 001-1.5V3a2 2 0 014 0v.1a1.7 1.7 0 001 1.5 1.7 1.7 0 001.8-.3l.1-.1a2 2 0 112.8 2.8l-.1.1a1.7 1.7 0 00-.3 1.8V9a1.7 1.7 0 001.5 1H21a2 2 0 010 4h-.1a1.7 1.7 0 00-1.5 1z",
  back: "M15 18l-6-6 6-6",
  chev: "M9 18l6-6-6-6",
  close: "M18 6L6 18M6 6l12 12",
  search: "M11 18a7 7 0 100-14 7 7 0 000 14zM20 20l-4-4",
  dice: "M5 4h14a1 1 0 011 1v14a1 1 0 01-1 1H5a1 1 0 01-1-1V5a1 1 0 011-1zM8.5 8.5h.01M15.5 15.5h.01M12 12h.01M15.5 8.5h.01M8.5 15.5h.01",
  redo: "M4 12a8 8 0 0114-5.3L20 9M20 4v5h-5M20 12a8 8 0 01-14 5.3L4 15M4 20v-5h5",
  trash: "M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3",
  share: "M4 12v7a1 1 0 001 1h14a1 1 0 001-1v-7M16 6l-4-4-4 4M12 2v13",
  download: "M12 3v12M7 10l5 5 5-5M5 21h14",
  info: "M12 22a10 10 0 100-20 10 10 0 000 20zM12 16v-4M12 8h.01",
  image: "M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15 9h.01",
  camera: "M4 8h3l2-3h6l2 3h3v11H4zM12 17a4 4 0 100-8 4 4 0 000 8z",
  folder: "M3 6a1 1 0 011-1h5l2 2h9a1 1 0 011 1v10a1 1 0 01-1 1H4a1 1 0 01-1-1z",
  check: "M5 12l5 5 9-10",
  stop: "M6 6h12v12H6z",
  wand: "M15 4V2M15 10V8M11 6h2M17 6h2M4 20L14 10M18 13v-1M18 16v1",
  plus: "M12 5v14M5 12h14",
  history: "M3 12a9 9 0 109-9 9 9 0 00-6.4 2.6L3 8M3 3v5h5M12 7v5l3 3",
  sun: "M12 17a5 5 0 100-10 5 5 0 000 10zM12 1v2M12 21v2M4.2 4.2l1.4 1.4M18.4 18.4l1.4 1.4M1 12h2M21 12h2M4.2 19.8l1.4-1.4M18.4 5.6l1.4-1.4",
  moon: "M21 12.8A9 9 0 1111.2 3a7 7 0 009.8 9.8z",
  send: "M4 12h13M13 6l6 6-6 6",
  more: "M4 12a1.5 1.5 0 103 0 1.5 1.5 0 10-3 0zM10.5 12a1.5 1.5 0 103 0 1.5 1.5 0 10-3 0zM17 12a1.5 1.5 0 103 0 1.5 1.5 0 10-3 0z",
  star: "M12 3l2.8 5.7 6.2.9-4.5 4.4 1.1 6.2L12 17.3l-5.6 2.9 1.1-6.2L3 9.6l6.2-.9z",
  reject: "M12 21a9 9 0 100-18 9 9 0 000 18zM15 9l-6 6M9 9l6 6",
  move: "M3 6a1 1 0 011-1h5l2 2h9a1 1 0 011 1v10a1 1 0 01-1 1H4a1 1 0 01-1-1zM9 13h7M13 10l3 3-3 3",
  compare: "M4 5h16v14H4zM12 3v18M7 12h2M15 12h2",
  filter: "M4 5h16l-6 8v6l-4-2v-4z",
  input: "M4 14v5a1 1 0 001 1h14a1 1 0 001-1v-5M12 3v12M8 11l4 4 4-4",
  sort: "M7 4v16M3 16l4 4 4-4M17 20V4M13 8l4-4 4 4",
  all: "M4 4h16v16H4zM8 12l3 3 5-6",
  chat: "M21 12a8 8 0 01-11.7 7.1L4 20l1-4.4A8 8 0 1121 12zM8.5 12h.01M12 12h.01M15.5 12h.01",
};

export function Icon({ name, label, filled }: { name: keyof typeof paths | string; label?: string; filled?: boolean }): JSX.Element {
  return (
    <svg viewBox="0 0 24 24" fill={filled ? "currentColor" : "none"} stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"
      aria-hidden={label ? undefined : "true"} role={label ? "img" : undefined} aria-label={label}>
      <path d={paths[name] ?? paths.spark} />
    </svg>
  );
}
