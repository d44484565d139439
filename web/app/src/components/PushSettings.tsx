// The Settings screen's push switches: this device on or off, and which job endings are pushed.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { currentSubscription, pushPrefs, pushSupported, setPushPrefs, subscribePush, unsubscribePush, type PushPrefs } from "../push";
import { message, toast } from "./ui";

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
      toast(next ? `Push could not be turned on: ${message(e)}` : message(e));
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
        <label for="push">Notify this device when CozyGen is closed</label>
        <input id="push" type="checkbox" role="switch" checked={on} disabled={!supported || busy} onChange={(e) => void toggle(e.currentTarget.checked)} />
      </div>
      {on && prefs && (
        <>
          <div class="toggle">
            <label for="push-done">When a job is done</label>
            <input id="push-done" type="checkbox" role="switch" checked={prefs.onDone} onChange={(e) => void change({ onDone: e.currentTarget.checked })} />
          </div>
          <div class="toggle">
            <label for="push-failed">When a job fails</label>
            <input id="push-failed" type="checkbox" role="switch" checked={prefs.onFailed} onChange={(e) => void change({ onFailed: e.currentTarget.checked })} />
          </div>
        </>
      )}
      {!supported && <p class="hint small muted">Push notifications need HTTPS, in a browser that offers them (on iOS: the app added to the home screen).</p>}
    </>
  );
}
