// Web Push: this browser's subscription to the server's pushes, and the user's
// choice of which job endings are pushed. The service worker (public/sw.js)
// shows them; the server pushes only while no page of the user is open.
import { isObj, request, str } from "./api";
import { t } from "./i18n";

export interface PushPrefs {
  onDone: boolean;
  onFailed: boolean;
}

export function parsePushPrefs(data: unknown): PushPrefs {
  const o = isObj(data) ? data : {};
  return { onDone: o.on_done !== false, onFailed: o.on_failed !== false };
}

export const pushSupported = (): boolean =>
  typeof window !== "undefined" && "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

/** The server's VAPID public key (base64url) as the bytes pushManager.subscribe takes. */
export function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  const text = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(text.length));
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

export async function pushKey(): Promise<string> {
  const data = await request("GET", "/cozygen/api/push/key");
  const key = isObj(data) ? str(data.public_key) : "";
  if (!key) throw new Error(t("push.noKey"));
  return key;
}

export async function pushPrefs(): Promise<PushPrefs> {
  return parsePushPrefs(await request("GET", "/cozygen/api/push/settings"));
}

export async function setPushPrefs(change: Partial<PushPrefs>): Promise<PushPrefs> {
  const body: Record<string, boolean> = {};
  if (change.onDone !== undefined) body.on_done = change.onDone;
  if (change.onFailed !== undefined) body.on_failed = change.onFailed;
  return parsePushPrefs(await request("PUT", "/cozygen/api/push/settings", body));
}

// A browser that cannot reach its push service (offline, or blocked) may never answer a subscribe.
const SUBSCRIBE_DEADLINE_MS = 20000;
function withDeadline<T>(promise: Promise<T>, ms: number, text: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(text)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error) => (clearTimeout(timer), reject(error)),
    );
  });
}

const sameKey = (a: ArrayBuffer | null, b: Uint8Array): boolean => {
  if (!a || a.byteLength !== b.length) return false;
  const view = new Uint8Array(a);
  return b.every((byte, i) => view[i] === byte);
};

async function registration(): Promise<ServiceWorkerRegistration> {
  const found = await navigator.serviceWorker.getRegistration("/cozygen/");
  if (!found) await navigator.serviceWorker.register("/cozygen/sw.js", { scope: "/cozygen/" });
  return navigator.serviceWorker.ready;
}

/** This browser's subscription, if it has one. */
export async function currentSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const found = await navigator.serviceWorker.getRegistration("/cozygen/");
  return found ? found.pushManager.getSubscription() : null;
}

/** Ask for permission, subscribe with the server's key and tell the server (again: it is idempotent). */
export async function subscribePush(): Promise<void> {
  if (Notification.permission !== "granted" && (await Notification.requestPermission()) !== "granted") {
    throw new Error(t("push.blocked"));
  }
  const reg = await registration();
  const key = keyBytes(await pushKey());
  let subscription = await reg.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    await subscription.unsubscribe(); // made with another server key (a new data folder): of no use
    subscription = null;
  }
  subscription ??= await withDeadline(
    reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
    SUBSCRIBE_DEADLINE_MS,
    t("push.noAnswer"),
  );
  await request("POST", "/cozygen/api/push/subscriptions", subscription.toJSON());
}

export async function unsubscribePush(): Promise<void> {
  const subscription = await currentSubscription();
  if (!subscription) return;
  const endpoint = subscription.endpoint;
  await subscription.unsubscribe();
  await request("DELETE", "/cozygen/api/push/subscriptions", { endpoint });
}
