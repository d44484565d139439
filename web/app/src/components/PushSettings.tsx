// The Settings screen's push switches: this device on or off, and which job endings are pushed.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { currentSubscription, pushPrefs, pushSupported, setPushPrefs, subscribePush, unsubscribePush, type PushPrefs } from "../push";
import { message, toast } from "./ui";
import { t } from "../i18n";

export function PushSettings(): JSX.Element {
  const supported = pushSupported();
  const [on, setOn] = useState(false);
  const [busy, setBusy] = useState(false);
  const [prefs, setPrefs] = useState<PushPrefs | null>(null);
  useEffect(() => {
    if (!supported) return;
    currentSubscription().then((s) => setOn(s !== null), () => setOn(false));
    pushPrefs().then(setPrefs, () => setPrefs(null));
  }, [supported]);
  const toggle = async (next: boolean) => {
    setBusy(true);
    try {
      await (next ? subscribePush() : unsubscribePush());
      setOn(next);
    } catch (e) {
      toast(next ? t("push.couldNotTurnOn", { error: message(e) }) : message(e));
    } finally {
      setBusy(false);
    }
  };
  const change = async (next: Partial<PushPrefs>) => {
    try {
      setPrefs(await setPushPrefs(next));
    } catch (e) {
      toast(message(e));
    }
  };
  return (
    <>
      <div class="toggle">
        <label for="push">{t("push.device")}</label>
        <input id="push" type="checkbox" role="switch" checked={on} disabled={!supported || busy} onChange={(e) => void toggle(e.currentTarget.checked)} />
      </div>
      {on && prefs && (
        <>
          <div class="toggle">
            <label for="push-done">{t("push.onDone")}</label>
            <input id="push-done" type="checkbox" role="switch" checked={prefs.onDone} onChange={(e) => void change({ onDone: e.currentTarget.checked })} />
          </div>
          <div class="toggle">
            <label for="push-failed">{t("push.onFailed")}</label>
            <input id="push-failed" type="checkbox" role="switch" checked={prefs.onFailed} onChange={(e) => void change({ onFailed: e.currentTarget.checked })} />
          </div>
        </>
      )}
      {!supported && <p class="hint small muted">{t("push.unsupported")}</p>}
    </>
  );
}
