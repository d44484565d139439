"""Web Push: the VAPID key file, the endpoint rules, the subscriptions and preferences in SQLite, the payload,
who is told when a job ends (a real tracker and job service over FakeHost), and the sent message's crypto."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from unit.fake_host import FakeHost
from unit.test_job_service import ANN, FORM, fill

from cozygen.core.comfyui.claims import Claims
from cozygen.core.errors import BadRequest
from cozygen.core.events import EventHub
from cozygen.core.jobs.ratelimit import RateLimiter
from cozygen.core.jobs.service import JobService
from cozygen.core.jobs.tracker import JobTracker
from cozygen.core.push import keys, subscriptions
from cozygen.core.push.endpoints import address_allowed, check_endpoint
from cozygen.core.push.notifier import PushNotifier
from cozygen.core.push.payload import DONE, FAILED, build
from cozygen.core.store.db import Database
from cozygen.core.store.migrations import MIGRATIONS


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys() -> tuple[Any, str, bytes]:
    """What a browser makes for a subscription: a P-256 key pair and a 16-byte auth secret."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return private, b64(point), os.urandom(16)


def subscription_json(endpoint: str = "https://push.example.net/send/abc") -> dict[str, Any]:
    _, p256dh, auth = browser_keys()
    return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": p256dh, "auth": b64(auth)}}


# -- the key -----------------------------------------------------------------------------------------
def test_the_vapid_key_is_made_once_private_and_read_back(tmp_path) -> None:
    first = keys.load_or_create(tmp_path)
    path = tmp_path / keys.KEY_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.urlsafe_b64decode(first.public_key + "==")) == 65 and first.public_key[0] == "B"  # 0x04
    assert keys.load_or_create(tmp_path) == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".push-vapid-")]  # no temporary file left


def test_a_cut_short_key_is_replaced(tmp_path) -> None:
    first = keys.load_or_create(tmp_path)
    (tmp_path / keys.KEY_NAME).write_bytes(first.private_pem[:40])
    second = keys.load_or_create(tmp_path)
    assert second.public_key != first.public_key
    assert stat.S_IMODE((tmp_path / keys.KEY_NAME).stat().st_mode) == 0o600


# -- the endpoint rules ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://push.example.net/x",  # not https
        "https://127.0.0.1/x",
        "https://[::1]:8443/x",
        "https://192.168.1.1/admin",
        "https://10.0.0.2/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:192.168.1.1]/x",
        "https://0.0.0.0/x",
        "https://localhost/x",
        "https://nas.local/x",
        "https://router/x",
        "https://user:pw@push.example.net/x",
        "ftp://push.example.net/x",
        "https://push.example.net:0/x",
        "https://push.example.net/" + "a" * 3000,
        "",
    ],
)
def test_endpoints_that_could_reach_the_lan_or_are_no_push_service_are_refused(url) -> None:
    with pytest.raises(BadRequest):
        check_endpoint(url, allow_private=False)


def test_public_push_services_are_accepted_and_the_setting_allows_loopback() -> None:
    for url in ("https://fcm.googleapis.com/fcm/send/x", "https://updates.push.services.mozilla.com/wpush/v2/x"):
        assert check_endpoint(url, allow_private=False) == url
    assert check_endpoint("http://127.0.0.1:9999/push/1", allow_private=True)
    with pytest.raises(BadRequest):
        check_endpoint("https://0.0.0.0/x", allow_private=True)  # never the unspecified address


def test_address_rules() -> None:
    assert address_allowed("142.250.1.1", allow_private=False)
    assert address_allowed("2a00:1450:4001::200e", allow_private=False)
    private_ones = ("127.0.0.1", "192.168.0.3", "172.16.4.4", "fd00::1", "fe80::1%lo", "::ffff:10.0.0.1", "100.64.0.9")
    for private in private_ones:
        assert not address_allowed(private, allow_private=False), private
    assert address_allowed("127.0.0.1", allow_private=True)
    assert not address_allowed("224.0.0.1", allow_private=True) and not address_allowed("nonsense", allow_private=True)


# -- the subscription's JSON ---------------------------------------------------------------------------
def test_a_subscription_is_parsed_with_keys_of_the_right_lengths() -> None:
    data = subscription_json()
    endpoint, p256dh, auth = subscriptions.parse(data, allow_private=False)
    assert (endpoint, p256dh, auth) == (data["endpoint"], data["keys"]["p256dh"], data["keys"]["auth"])
    padded = {**data, "keys": {"p256dh": data["keys"]["p256dh"] + "=", "auth": data["keys"]["auth"] + "=="}}
    assert subscriptions.parse(padded, allow_private=False)[1:] == (p256dh, auth)


@pytest.mark.parametrize(
    "keys_value",
    [
        None,
        {"p256dh": b64(b"\x04" + b"\x01" * 64), "auth": b64(b"a" * 16)},  # not a point on the curve
        {"p256dh": b64(b"\x04" * 33), "auth": b64(b"a" * 16)},  # too short
        {"auth": b64(b"a" * 16)},
        {"p256dh": "not base64!", "auth": b64(b"a" * 16)},
        "keys",
    ],
)
def test_bad_keys_are_refused(keys_value) -> None:
    good = subscription_json()
    with pytest.raises(BadRequest):
        subscriptions.parse({**good, "keys": keys_value}, allow_private=False)
    bad_auth = {**good, "keys": {**good["keys"], "auth": b64(b"a" * 15)}}
    with pytest.raises(BadRequest):
        subscriptions.parse(bad_auth, allow_private=False)


# -- the store -----------------------------------------------------------------------------------------
@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = Database(tmp_path / "push.sqlite3")
    database.open(MIGRATIONS)
    yield database
    database.close()


def store(db: Database, username: str, endpoint: str, now: float = 1.0) -> subscriptions.Subscription:
    _, p256dh, auth = browser_keys()
    return db.submit_write(
        lambda c: subscriptions.save(c, username, endpoint, p256dh, b64(auth), "phone", now)
    ).result()


def test_subscriptions_are_each_users_own(db) -> None:
    ann = store(db, "ann", "https://push.example.net/1")
    store(db, "bob", "https://push.example.net/2")
    assert [s.endpoint for s in db.read(lambda c: subscriptions.of_user(c, "ann"))] == [ann.endpoint]
    assert not db.submit_write(lambda c: subscriptions.delete_own(c, "bob", ann.id)).result()  # not bob's
    assert db.submit_write(lambda c: subscriptions.delete_own(c, "ann", ann.id)).result()
    assert db.read(lambda c: subscriptions.of_user(c, "ann")) == []
    assert ann.public() == {"id": ann.id, "service": "push.example.net", "device": "phone", "created_at": 1.0}


def test_an_endpoint_moves_to_whoever_subscribed_last_and_the_oldest_go_past_the_limit(db) -> None:
    store(db, "ann", "https://push.example.net/shared")
    store(db, "bob", "https://push.example.net/shared", now=2.0)
    assert db.read(lambda c: subscriptions.of_user(c, "ann")) == []
    assert len(db.read(lambda c: subscriptions.of_user(c, "bob"))) == 1
    for n in range(subscriptions.MAX_PER_USER + 2):
        store(db, "cat", f"https://push.example.net/cat/{n}", now=10.0 + n)
    kept = db.read(lambda c: subscriptions.of_user(c, "cat"))
    assert len(kept) == subscriptions.MAX_PER_USER and kept[0].endpoint.endswith("/cat/2")


def test_prefs_default_on_and_are_kept_per_user(db) -> None:
    assert db.read(lambda c: subscriptions.prefs_of(c, "ann")) == subscriptions.Prefs(True, True)
    wanted = subscriptions.parse_prefs({"on_done": False}, subscriptions.Prefs())
    db.submit_write(lambda c: subscriptions.set_prefs(c, "ann", wanted, 1.0)).result()
    assert db.read(lambda c: subscriptions.prefs_of(c, "ann")) == subscriptions.Prefs(False, True)
    assert db.read(lambda c: subscriptions.prefs_of(c, "bob")) == subscriptions.Prefs(True, True)
    for bad in ({"on_done": 1}, {"other": True}, []):
        with pytest.raises(BadRequest):
            subscriptions.parse_prefs(bad, subscriptions.Prefs())


def test_a_deleted_user_takes_their_subscriptions_and_prefs_along(db) -> None:
    from cozygen.core.accounts import users

    db.submit_write(lambda c: users.create_user(c, "dan", "a long password 1", "user")).result()
    store(db, "dan", "https://push.example.net/dan")
    db.submit_write(lambda c: subscriptions.set_prefs(c, "dan", subscriptions.Prefs(False, False), 1.0)).result()
    db.submit_write(lambda c: c.execute("DELETE FROM users WHERE username = 'dan'")).result()
    assert db.read(lambda c: subscriptions.of_user(c, "dan")) == []
    assert db.read(lambda c: subscriptions.prefs_of(c, "dan")) == subscriptions.Prefs()


# -- the payload ---------------------------------------------------------------------------------------
def test_the_payload_of_a_finished_and_a_failed_job() -> None:
    job = {
        "id": "j1",
        "workflow": "portrait.json",
        "username": "ann",
        "params": {"positive": "a   cat\nin a hat, " + "very " * 40},
        "images": [{"filename": "a b.png", "subfolder": "x/y", "type": "output"}, {"filename": "c.png"}],
        "error": None,
    }
    done = build(DONE, job)
    assert done["title"] == "portrait: done (2 images)"
    assert done["body"].startswith("a cat in a hat, very") and done["body"].endswith("…") and len(done["body"]) == 120
    assert done["image"] == "/cozygen/thumb?filename=a+b.png&subfolder=x%2Fy&type=output&w=384"
    assert done["url"] == "/cozygen/history?job=j1" and done["tag"] == "cozygen-job-j1"
    assert done["icon"] == "/cozygen/icon-192.png" and done["status"] == "completed"
    failed = build(FAILED, {**job, "error": "CUDA out of memory"})
    assert failed["title"] == "portrait: failed" and failed["body"] == "CUDA out of memory"
    assert failed["image"] is None and failed["status"] == "failed"


# -- who is told ---------------------------------------------------------------------------------------
@dataclass
class Pushes:
    sent: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    status: int = 201
    raises: Exception | None = None

    async def __call__(self, info: dict[str, Any], payload: bytes) -> int:
        if self.raises is not None:
            raise self.raises
        self.sent.append((info, json.loads(payload)))
        return self.status


@dataclass
class World:
    host: FakeHost
    db: Database
    hub: EventHub
    service: JobService
    notifier: PushNotifier
    pushes: Pushes
    open_pages: set[int | None]
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def job(self, *, event: str = "execution_success", images: bool = True, **data: Any) -> str:
        """Submit a job for ann, run it to its end, and let the notifier act on it."""
        job, _ = self.run(self.service.submit(ANN, FORM, {"seed": 5, "positive": "a red fox"}))
        prompt_id = self.host.start()
        if images:
            output = {"images": [{"filename": "fox.png", "subfolder": "", "type": "output"}]}
            self.host.emit("executed", {"prompt_id": prompt_id, "node": "9", "output": output})
        self.host.finish(prompt_id, event, **data)
        self.run(self.db.settle())
        self.run(self.idle())
        return job.id

    async def idle(self) -> None:
        for _ in range(50):  # the hub hands events over with call_soon_threadsafe; the pushes are tasks
            await asyncio.sleep(0.01)
            if not self.notifier.busy:
                return


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    host = FakeHost(tmp_path / "comfyui")
    db = Database(tmp_path / "jobs.sqlite3")
    db.open(MIGRATIONS)
    hub = EventHub()
    tracker = JobTracker(db, hub)
    host.tap_messages(lambda event, data, _sid: tracker.on_message(event, data))
    service = JobService(
        db, tracker, host, claims=Claims(), limits=RateLimiter(0), fill=fill, client_id_for=lambda j: f"client-{j}"
    )
    pushes, open_pages = Pushes(), set()
    notifier = PushNotifier(db, pushes, lambda user_id: user_id in open_pages)

    async def start() -> None:
        notifier.start(hub)

    loop.run_until_complete(start())
    world = World(host, db, hub, service, notifier, pushes, open_pages, loop)
    yield world
    loop.run_until_complete(notifier.stop(hub))
    loop.close()
    db.close()


def test_a_finished_job_is_pushed_to_each_device_of_its_owner_only(world) -> None:
    phone = store(world.db, "ann", "https://push.example.net/ann-phone")
    store(world.db, "ann", "https://push.example.net/ann-tablet")
    store(world.db, "bob", "https://push.example.net/bob")
    job_id = world.job()
    assert sorted(info["endpoint"] for info, _ in world.pushes.sent) == [
        "https://push.example.net/ann-phone",
        "https://push.example.net/ann-tablet",
    ]
    info, payload = world.pushes.sent[0]
    assert info["keys"]["p256dh"] in {
        phone.p256dh,
        store(world.db, "ann", "https://push.example.net/ann-tablet").p256dh,
    }
    assert payload == {
        "title": "form: done",
        "body": "a red fox",
        "icon": "/cozygen/icon-192.png",
        "image": "/cozygen/thumb?filename=fox.png&subfolder=&type=output&w=384",
        "url": f"/cozygen/history?job={job_id}",
        "tag": f"cozygen-job-{job_id}",
        "job_id": job_id,
        "status": "completed",
    }


def test_no_push_while_a_page_of_the_owner_is_open(world) -> None:
    store(world.db, "ann", "https://push.example.net/ann")
    world.open_pages.add(None)  # ann has no user row here: auth is off in this world
    world.job()
    assert world.pushes.sent == []


def test_the_owners_preferences_choose_done_and_failed(world) -> None:
    store(world.db, "ann", "https://push.example.net/ann")
    world.db.submit_write(lambda c: subscriptions.set_prefs(c, "ann", subscriptions.Prefs(False, True), 1.0)).result()
    world.job()
    assert world.pushes.sent == []
    world.job(event="execution_error", images=False, exception_message="out of memory", node_id="3")
    assert [p["status"] for _, p in world.pushes.sent] == ["failed"]
    assert world.pushes.sent[0][1]["title"] == "form: failed" and world.pushes.sent[0][1]["image"] is None


def test_a_cancelled_job_is_not_pushed(world) -> None:
    store(world.db, "ann", "https://push.example.net/ann")
    world.job(event="execution_interrupted")
    assert world.pushes.sent == []


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_forgot_is_removed(world, status) -> None:
    store(world.db, "ann", "https://push.example.net/ann")
    world.pushes.status = status
    world.job()
    assert len(world.pushes.sent) == 1
    assert world.db.read(lambda c: subscriptions.of_user(c, "ann")) == []


def test_other_failures_keep_the_subscription_and_never_raise(world, caplog) -> None:
    store(world.db, "ann", "https://push.example.net/ann")
    world.pushes.status = 500
    world.job()
    world.pushes.raises = OSError("connection refused")
    world.job()
    assert len(world.db.read(lambda c: subscriptions.of_user(c, "ann"))) == 1
    assert "answered 500" in caplog.text and "connection refused" in caplog.text


def test_a_send_past_its_deadline_is_given_up(world, caplog) -> None:
    store(world.db, "ann", "https://push.example.net/ann")

    async def slow(info: dict[str, Any], payload: bytes) -> int:
        await asyncio.sleep(5)
        return 201

    world.notifier.send, world.notifier.deadline = slow, 0.05
    world.job()
    assert "push to push.example.net failed" in caplog.text


# -- the message on the wire ---------------------------------------------------------------------------
def test_the_sender_signs_encrypts_and_posts_what_a_push_service_accepts(tmp_path) -> None:
    from push_service import PushService

    from cozygen.api.push_sender import PushSender

    key = keys.load_or_create(tmp_path)

    async def scenario() -> None:
        service = PushService(key.public_key)
        await service.start()
        try:
            phone, gone = service.device("phone"), service.device("gone")
            gone.answer = 410
            sender = PushSender(key, contact="mailto:admin@example.org", allow_private=True)
            assert await sender(service.subscription(phone), b'{"title": "hello"}') == 201
            assert await sender(service.subscription(gone), b"{}") == 410
            assert phone.received == [{"title": "hello"}] and service.refused == []
            (tmp_path / "other").mkdir()
            other = PushSender(keys.load_or_create(tmp_path / "other"), allow_private=True)
            assert await other(service.subscription(phone), b"{}") == 400  # signed by another key: refused
            with pytest.raises(BadRequest):  # loopback is refused unless the setting allows it
                await PushSender(key)(service.subscription(phone), b"{}")
        finally:
            await service.stop()

    asyncio.run(scenario())


def test_a_name_that_resolves_to_the_lan_reaches_nothing() -> None:
    from cozygen.api.push_sender import GuardedResolver

    async def scenario() -> None:
        resolver = GuardedResolver(allow_private=False)
        with pytest.raises(OSError, match="no public address"):
            await resolver.resolve("localhost", 443)
        await resolver.close()

    asyncio.run(scenario())
