// The gallery's folder actions: a new folder here, renaming or deleting a folder
// (empty, or with its files to the trash after a confirm), and deleting every
// rejected image of the folder shown. From the header's menu or a folder tile's.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { ApiError, createFolder, deleteFolder, deleteRejected, renameFolder, restore, type GalleryRoot } from "../api";
import { Icon } from "./Icons";
import { Confirm, NameSheet, Sheet } from "./Sheet";
import { message, toast } from "./ui";
import { t } from "../i18n";

export interface MenuTarget {
  /** The folder acted on ("" is the root, which cannot be renamed or deleted). */
  folder: string;
  /** Whether it is the folder the grid shows (the header's menu), so "new folder" and "delete rejected" apply. */
  here: boolean;
}

type Step = "menu" | "new" | "rename" | "delete" | "delete-full" | "rejected";

export function GalleryMenu({ root, target, recursive, onClose, onChanged, onGoTo }: {
  root: GalleryRoot;
  target: MenuTarget;
  /** Whether the grid shows the folder's subfolders too (then "delete rejected" does). */
  recursive: boolean;
  onClose: () => void;
  onChanged: () => void;
  /** A folder shown was renamed or deleted: where to go. */
  onGoTo: (folder: string) => void;
}): JSX.Element | null {
  const [step, setStep] = useState<Step>("menu");
  const { folder, here } = target;
  const name = folder.split("/").pop() ?? folder;
  const parent = folder.includes("/") ? folder.slice(0, folder.lastIndexOf("/")) : "";
  const rootName = root === "input" ? t("gallery.input") : t("gallery.output");
  const undoable = (count: number, batch: string | null) =>
    toast(t("gallery.deleted", { count }), batch ? {
      label: t("common.undo"),
      run: () => restore(batch).then(() => { toast(t("gallery.restored")); onChanged(); }, (e) => toast(message(e))),
    } : undefined, 8000);

  const create = async (text: string): Promise<string | null> => {
    try {
      await createFolder(root, here ? folder : parent, text);
      toast(t("folder.created", { name: text }));
      onChanged();
      return null;
    } catch (e) {
      return message(e);
    }
  };
  const rename = async (text: string): Promise<string | null> => {
    try {
      const moved = await renameFolder(root, folder, text);
      toast(t("folder.renamed", { name: text }));
      if (here) onGoTo(moved);
      else onChanged();
      return null;
    } catch (e) {
      return message(e);
    }
  };
  const remove = async (trash: boolean) => {
    try {
      const { deleted, batch } = await deleteFolder(root, folder, trash);
      onClose();
      if (trash) undoable(deleted, batch);
      else toast(t("folder.deleted", { name }));
      if (here) onGoTo(parent);
      else onChanged();
    } catch (e) {
      if (e instanceof ApiError && e.code === "FOLDER_NOT_EMPTY" && !trash) return setStep("delete-full");
      onClose();
      toast(message(e));
    }
  };
  const dropRejected = async () => {
    onClose();
    try {
      const { deleted, batch } = await deleteRejected(root, folder, recursive);
      undoable(deleted, batch);
      onChanged();
    } catch (e) {
      toast(message(e));
    }
  };

  if (step === "new")
    return <NameSheet title={t("folder.new")} label={t("folder.name")} initial="" yes={t("folder.create")} onSubmit={create} onClose={onClose} />;
  if (step === "rename")
    return <NameSheet title={t("folder.renameTitle", { name })} label={t("folder.name")} initial={name} yes={t("common.rename")} onSubmit={rename} onClose={onClose} />;
  if (step === "delete")
    return <Confirm title={t("folder.deleteTitle", { name })} text={t("folder.deleteText")} yes={t("common.delete")} danger onYes={() => void remove(false)} onClose={onClose} />;
  if (step === "delete-full")
    return <Confirm title={t("folder.deleteTitle", { name })} text={t("folder.notEmpty", { name })} yes={t("folder.deleteAll")} danger onYes={() => void remove(true)} onClose={onClose} />;
  if (step === "rejected")
    return <Confirm title={t("folder.rejectedTitle")} text={t(recursive ? "folder.rejectedTextAll" : "folder.rejectedText", { name: folder ? name : rootName })} yes={t("common.delete")} danger onYes={() => void dropRejected()} onClose={onClose} />;
  return (
    <Sheet title={folder ? name : rootName} onClose={onClose} id="gallery-menu">
      <div class="menu-list">
        {here && <button type="button" class="wide" id="menu-new-folder" onClick={() => setStep("new")}><Icon name="plus" /><span class="grow">{t("folder.new")}</span></button>}
        {folder && <button type="button" class="wide" id="menu-rename-folder" onClick={() => setStep("rename")}><Icon name="folder" /><span class="grow">{t("folder.rename")}</span></button>}
        {folder && <button type="button" class="wide danger" id="menu-delete-folder" onClick={() => setStep("delete")}><Icon name="trash" /><span class="grow">{t("folder.delete")}</span></button>}
        {here && <button type="button" class="wide danger" id="menu-delete-rejected" onClick={() => setStep("rejected")}><Icon name="reject" /><span class="grow">{t("folder.deleteRejected")}</span></button>}
      </div>
    </Sheet>
  );
}
