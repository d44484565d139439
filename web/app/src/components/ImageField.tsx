// An image input: take a photo, pick one from the phone, or choose from the
// input folder or the gallery. The value is a path in ComfyUI's input folder.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { gallery, inputFiles, inputUrl, thumbUrl, toInput, upload, type GalleryItem, type InputFile, type Json } from "../api";
import { Icon } from "./Icons";
import { Spinner, message } from "./ui";
import { t } from "../i18n";

type Source = "input" | "gallery";

export function ImageField({ common, value, onChange, label }: {
  common: Record<string, unknown> & { id: string };
  value: string;
  onChange: (v: Json) => void;
  label: string;
}): JSX.Element {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [sheet, setSheet] = useState<Source | null>(null);

  const onFile = async (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    setBusy(true);
    setError("");
    try {
      onChange(await upload(file));
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="imgpick" role="group" aria-labelledby={`${common.id}-label`} aria-describedby={common["aria-describedby"] as string}>
      <div class="preview" style={value ? `background-image:url("${inputUrl(value, 256)}")` : undefined} role="img"
        aria-label={value ? t("image.chosen", { label, value }) : t("image.none", { label })}>
        {busy && <Spinner label={t("image.uploading")} />}
      </div>
      <div class="stack" style="min-width:0">
        <div class="btns">
          <label class="btn" style="margin:0;color:var(--fg)">
            <Icon name="camera" /> {t("image.camera")}
            <input type="file" accept="image/*" capture="environment" class="sr-only" onChange={onFile} />
          </label>
          <label class="btn" style="margin:0;color:var(--fg)">
            <Icon name="image" /> {t("image.photos")}
            <input id={common.id} type="file" accept="image/*" class="sr-only" onChange={onFile} />
          </label>
          <button type="button" onClick={() => setSheet("input")}><Icon name="folder" /> {t("image.input")}</button>
          <button type="button" onClick={() => setSheet("gallery")}><Icon name="grid" /> {t("image.gallery")}</button>
        </div>
        {value && <div class="small muted" style="overflow-wrap:anywhere">{value}</div>}
        {error && <div class="error" role="alert">{error}</div>}
      </div>
      {sheet && (
        <Picker source={sheet} onClose={() => setSheet(null)}
          onPick={async (pick) => {
            setSheet(null);
            setBusy(true);
            try {
              onChange(typeof pick === "string" ? pick : await toInput(pick));
            } catch (err) {
              setError(message(err));
            } finally {
              setBusy(false);
            }
          }} />
      )}
    </div>
  );
}

function Picker({ source, onPick, onClose }: { source: Source; onPick: (p: string | GalleryItem) => void; onClose: () => void }): JSX.Element {
  const [items, setItems] = useState<(InputFile | GalleryItem)[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const load = source === "input"
      ? inputFiles().then((files) => files.filter((f) => !f.isDir))
      : gallery({ recursive: true, perPage: 60 }).then((page) => page.items.filter((i) => !i.isDir));
    load.then(setItems, (e) => setError(message(e)));
    const esc = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", esc);
    return () => window.removeEventListener("keydown", esc);
  }, [source]);
  return (
    <div class="sheet-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="sheet" role="dialog" aria-modal="true" aria-label={source === "input" ? t("image.inputFolder") : t("image.gallery")}>
        <div class="row">
          <h2 class="grow">{source === "input" ? t("image.inputFolder") : t("image.fromGallery")}</h2>
          <button type="button" class="icon ghost" aria-label={t("common.close")} onClick={onClose}><Icon name="close" /></button>
        </div>
        {error && <p class="error">{error}</p>}
        {!items && !error && <Spinner />}
        {items?.length === 0 && <p class="muted">{t("common.nothingYet")}</p>}
        <div class="pickgrid">
          {items?.map((item) => {
            const isInput = "path" in item;
            const name = isInput ? item.path : item.filename;
            return (
              <button type="button" key={name} aria-label={name} onClick={() => onPick(isInput ? item.path : item)}>
                <img src={isInput ? inputUrl(item.path, 192) : thumbUrl(item, 192)} alt="" loading="lazy" />
              </button>
            );
          })}
        </div>
      </div>
    </div>
  );
}
