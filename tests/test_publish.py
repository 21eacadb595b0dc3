"""``shortskit publish`` against a real local server that speaks YouTube's resumable uploads, its lists and
Google's token endpoint (tests/fake_youtube.py), with the real google-api-python-client and google-auth."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("googleapiclient", reason="the publish extra is not installed")

import shortskit
from shortskit import ffmpeg
from shortskit.errors import LoginError, QuotaExceededError
from shortskit.publish import MetaOptions, SlotPlan
from shortskit.publish.auth import login, save_token, token_path
from shortskit.publish.metadata import TAGS_CHARS, synthetic_default
from shortskit.publish.slots import free_slots
from tests.fake_youtube import REFRESH_TOKEN, FakeYouTube

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 256 * 1024
NOW = datetime(2030, 1, 1, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    server = FakeYouTube()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("YOUTUBE_BASE_URL", server.url)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    save_token(
        token_path("default"),
        {"type": "authorized_user", "client_id": "cid.apps", "client_secret": "GOCSPX-client-secret",
         "refresh_token": REFRESH_TOKEN, "token_uri": server.url + "/token"},
    )  # fmt: skip
    yield server
    server.close()


def make_short(folder: Path, name: str, seed: int, **meta: Any) -> Path:
    """A real small MP4 (noise, so it is over 1 MB and several 256 KiB chunks) with its OUT.json and OUT.srt."""
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / f"{name}.mp4"
    ffmpeg.run(["-f", "lavfi", "-i", f"testsrc2=s=270x480:r=15:d=0.5,noise=alls=40:allf=t+u:all_seed={seed}",
                "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", "-y", str(video)])  # fmt: skip
    data = {"title": f"Short {name}", "description": "About the sea.", "hashtags": ["#sea", "#shorts"],
            "language": "en", "duration": 0.5,
            "made_with": {"voice": "espeak", "cloned_voice": False, "pictures": "procedural", "generated_pictures": False},
            **meta}  # fmt: skip
    video.with_suffix(".json").write_text(json.dumps(data), encoding="utf-8")
    video.with_suffix(".srt").write_text("1\n00:00:00,000 --> 00:00:00,500\nThe sea.\n", encoding="utf-8")
    return video


def batch(tmp_path: Path, n: int = 3) -> Path:
    out = tmp_path / "shorts"
    for i in range(n):
        make_short(out / f"s{i + 1}", f"s{i + 1}", seed=i + 1)
    return out


def cli(*args: str, fake: FakeYouTube, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "YOUTUBE_BASE_URL": fake.url,
    }
    return subprocess.run([sys.executable, "-m", "shortskit", "publish", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=tmp_path)  # fmt: skip


def digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def puts(fake: FakeYouTube) -> list[str]:
    return [
        r.headers.get("content-range", "") for r in fake.requests if r.method == "PUT" and r.path.startswith("/upload")
    ]


# -- uploads ---------------------------------------------------------------------------------------------


def test_a_connection_dropped_mid_upload_resumes_from_what_the_server_kept(fake: FakeYouTube, tmp_path: Path) -> None:
    video = make_short(tmp_path / "one", "one", seed=7)
    size = video.stat().st_size
    # the second chunk (512 KiB) is cut after half of it has arrived (the server keeps those 256 KiB), and cut
    # again when httplib2 sends it once more by itself, so the client has to ask where the session stands
    fake.faults = [None, "drop", "drop"]
    result = shortskit.publish(video, chunk_size=2 * CHUNK, backoff=0.01, captions=False, thumbnail=False)
    assert result.exit_code == 0
    (only,) = fake.uploaded()
    assert only["sha256"] == digest(video)  # every byte, once, in order
    ranges = puts(fake)
    asked = ranges.index(f"bytes */{size}")  # after the drops the client asks where it stands
    second = f"bytes {2 * CHUNK}-{4 * CHUNK - 1}/{size}"
    assert ranges[:asked] == [f"bytes 0-{2 * CHUNK - 1}/{size}", second, second]
    # the server had kept 768 KiB: the client goes on from the byte after them, not from 0 nor the chunk's start
    assert ranges[asked + 1].startswith(f"bytes {3 * CHUNK}-")
    assert sum(r.path == "/upload/youtube/v3/videos" and r.method == "POST" for r in fake.requests) == 1


def test_5xx_and_429_are_retried(fake: FakeYouTube, tmp_path: Path) -> None:
    video = make_short(tmp_path / "one", "one", seed=8)
    fake.faults = [503, None, 429, 500]
    said: list[str] = []
    result = shortskit.publish(video, chunk_size=CHUNK, backoff=0.01, captions=False, thumbnail=False, say=said.append)
    assert result.exit_code == 0 and fake.uploaded()[0]["sha256"] == digest(video)
    assert [s.split(": ")[1].split(",")[0] for s in said if "trying again" in s] == ["HTTP 503", "HTTP 429", "HTTP 500"]


def test_a_killed_upload_resumes_from_the_ledgers_session(fake: FakeYouTube, tmp_path: Path) -> None:
    video = make_short(tmp_path / "one", "one", seed=9)
    fake.faults = [None, None, "stall"]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "YOUTUBE_BASE_URL": fake.url,
    }
    argv = [
        sys.executable,
        "-m",
        "shortskit",
        "publish",
        str(video),
        "--chunk-kib",
        "256",
        "--no-captions",
        "--no-thumbnail",
    ]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert fake.stalled.wait(60), proc.communicate(timeout=5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    fake.release.set()
    with sqlite3.connect(tmp_path / "one" / "publish.sqlite") as db:
        state, session = db.execute("SELECT state, session_uri FROM videos").fetchone()
    assert state == "uploading" and "upload_id=" in session
    again = cli(str(video), "--chunk-kib", "256", "--no-captions", "--no-thumbnail", fake=fake, tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "resuming one" in again.stdout
    (only,) = fake.uploaded()
    assert only["sha256"] == digest(video) and len(fake.sessions) == 1  # the same session, no second video


def test_quota_exceeded_after_two_stops_with_one_line_and_the_next_run_publishes_only_the_third(
    fake: FakeYouTube, tmp_path: Path
) -> None:
    folder = batch(tmp_path)
    fake.uploads_allowed = 2
    first = cli(str(folder), "--chunk-kib", "256", fake=fake, tmp_path=tmp_path)
    assert first.returncode == 1
    error = first.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: youtube: the daily quota is spent")
    assert "1 of 3 shorts left" in error[0] and "resets at" in error[0] and "PST" in error[0]
    assert len(fake.uploaded()) == 2
    fake.uploads_allowed = None
    opened = sum(r.method == "POST" and r.path == "/upload/youtube/v3/videos" for r in fake.requests)
    second = cli(str(folder), "--chunk-kib", "256", fake=fake, tmp_path=tmp_path)
    assert second.returncode == 0, second.stderr
    assert sum(r.method == "POST" and r.path == "/upload/youtube/v3/videos" for r in fake.requests) == opened + 1
    got = sorted(v["sha256"] for v in fake.uploaded())
    assert got == sorted(digest(p) for p in sorted(folder.glob("*/*.mp4")))  # three shorts, each once


def test_upload_limit_exceeded_is_a_400_and_stops_too(fake: FakeYouTube, tmp_path: Path) -> None:
    folder = batch(tmp_path, 2)
    fake.uploads_allowed, fake.quota_status, fake.quota_reason = 1, 400, "uploadLimitExceeded"
    with pytest.raises(QuotaExceededError) as caught:
        shortskit.publish(folder, chunk_size=CHUNK, now=NOW)
    assert caught.value.left == 1 and caught.value.resets_at == datetime(2030, 1, 1, 8, 0, tzinfo=timezone.utc)


def test_wait_sleeps_until_the_pacific_midnight_reset_and_goes_on(fake: FakeYouTube, tmp_path: Path) -> None:
    folder = batch(tmp_path)
    fake.uploads_allowed = 2
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        fake.uploads_allowed = None  # the quota has reset

    result = shortskit.publish(folder, wait=True, chunk_size=CHUNK, sleep=sleep, captions=False)
    assert result.exit_code == 0 and len(fake.uploaded()) == 3
    now = datetime.now(ZoneInfo("America/Los_Angeles"))
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
    assert len(slept) == 1 and abs(slept[0] - ((midnight - now).total_seconds() + 60)) < 30


def test_reruns_send_nothing(fake: FakeYouTube, tmp_path: Path) -> None:
    folder = batch(tmp_path, 2)
    assert shortskit.publish(folder, chunk_size=CHUNK).exit_code == 0
    before = len(fake.writes())
    again = shortskit.publish(folder, chunk_size=CHUNK)
    assert len(fake.writes()) == before and [r.action for r in again.rows] == ["skip", "skip"]
    assert len(fake.uploaded()) == 2


# -- scheduling ----------------------------------------------------------------------------------------


def test_the_schedule_fills_gaps_around_scheduled_videos_across_a_dst_change(fake: FakeYouTube, tmp_path: Path) -> None:
    ny = ZoneInfo("America/New_York")  # clocks go forward on 14 March 2027 at 02:00
    fake.schedule_existing("2027-03-13T11:00:00Z")  # 06:00 EST on the 13th
    fake.schedule_existing("2027-03-14T10:05:00Z")  # 06:05 EDT on the 14th: it holds the 06:00 slot
    folder = batch(tmp_path)
    plan = SlotPlan(zone="America/New_York", per_day=2)  # 06:00 and 08:00
    now = datetime(2027, 3, 13, 0, 0, tzinfo=ny)
    result = shortskit.publish(folder, schedule=plan, now=now, chunk_size=CHUNK, captions=False)
    assert result.exit_code == 0
    sent = [v["status"]["publishAt"] for v in fake.uploaded()]
    assert sent == ["2027-03-13T13:00:00Z", "2027-03-14T12:00:00Z", "2027-03-15T10:00:00Z"]
    walls = [datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(ny).strftime("%d %H:%M %Z") for s in sent]
    assert walls == ["13 08:00 EST", "14 08:00 EDT", "15 06:00 EDT"]
    assert all(v["status"]["privacyStatus"] == "private" for v in fake.uploaded())


def test_without_search_the_uploads_playlist_gives_the_scheduled_videos(fake: FakeYouTube, tmp_path: Path) -> None:
    fake.search_refused = True
    fake.schedule_existing("2030-01-01T06:00:00Z")
    video = make_short(tmp_path / "p", "p", seed=15)
    shortskit.publish(video, schedule=True, now=NOW, chunk_size=CHUNK, captions=False, thumbnail=False)
    assert fake.uploaded()[0]["status"]["publishAt"] == "2030-01-01T08:00:00Z"
    assert any(r.path == "/youtube/v3/playlistItems" for r in fake.requests)


def test_slots_in_a_spring_forward_gap_and_a_fall_back_hour() -> None:
    plan = SlotPlan(
        zone="America/New_York", first=datetime.strptime("01:30", "%H:%M").time(), every=timedelta(hours=1), per_day=2
    )
    spring = plan.day(datetime(2027, 3, 14).date())  # 01:30 EST, then 02:30 does not exist: 03:00 EDT
    assert [s.astimezone(ZoneInfo(plan.zone)).strftime("%H:%M %Z") for s in spring] == ["01:30 EST", "03:00 EDT"]
    fall = plan.day(datetime(2027, 11, 7).date())  # 01:30 happens twice: the first (EDT) is the slot
    assert fall[0] == datetime(2027, 11, 7, 5, 30, tzinfo=timezone.utc)
    held = [datetime(2030, 1, 1, 6, 0, tzinfo=timezone.utc)]
    assert free_slots(SlotPlan(), held, 2, now=NOW) == [
        datetime(2030, 1, 1, h, 0, tzinfo=timezone.utc) for h in (8, 10)
    ]


def test_dry_run_prints_the_plan_and_sends_no_write_request(fake: FakeYouTube, tmp_path: Path) -> None:
    folder = batch(tmp_path, 2)
    fake.schedule_existing("2099-01-01T06:00:00Z")
    out = cli(str(folder), "--schedule", "--dry-run", "--zone", "Europe/Berlin", fake=fake, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    assert fake.writes() == []
    assert any(r.path == "/youtube/v3/search" for r in fake.requests)  # it did read the channel's schedule
    rows = [line for line in out.stdout.splitlines() if ".mp4 " in line]
    assert len(rows) == 2 and all(" upload " in r and ("CET" in r or "CEST" in r) for r in rows)
    with sqlite3.connect(folder / "publish.sqlite") as db:
        assert db.execute("SELECT count(*) FROM videos").fetchone() == (0,)


# -- metadata, thumbnail, captions, labels -----------------------------------------------------------------


def test_metadata_is_cut_and_escaped_to_youtubes_limits(fake: FakeYouTube, tmp_path: Path) -> None:
    tags = [f"#tag{i:02d} xx" for i in range(60)]  # each 8 characters, 2 quotes (it has a space) and a comma
    video = make_short(tmp_path / "m", "m", seed=3, title="A <b>bold</b> title " + "word " * 40,
                       description="Ünïcode <script> " * 400, hashtags=tags)  # fmt: skip
    shortskit.publish(video, chunk_size=CHUNK, captions=False, thumbnail=False)
    snippet = fake.uploaded()[0]["snippet"]
    assert len(snippet["title"]) <= 100 and snippet["title"].startswith("A ‹b›bold‹/b› title")
    assert len(snippet["description"].encode("utf-8")) <= 5000 and "<" not in snippet["description"] + snippet["title"]
    sent = snippet["tags"]
    cost = sum(len(t) + (2 if " " in t else 0) for t in sent) + len(sent) - 1
    assert cost <= TAGS_CHARS and len(sent) == (TAGS_CHARS + 1) // 11  # 45: not counting the quotes would send 55
    assert snippet["defaultLanguage"] == "en" and snippet["categoryId"] == "22"


def test_thumbnail_is_the_poster_frame_and_the_srt_is_a_caption_track(fake: FakeYouTube, tmp_path: Path) -> None:
    import io

    from PIL import Image

    video = make_short(tmp_path / "t", "t", seed=4)
    shortskit.publish(video, chunk_size=CHUNK)
    vid = fake.uploaded()[0]["id"]
    picture = Image.open(io.BytesIO(fake.thumbnails[vid]))
    assert picture.format == "JPEG" and picture.size == (270, 480)
    ((cap_video, snippet, media),) = fake.captions
    assert cap_video == vid and snippet["language"] == "en" and media == video.with_suffix(".srt").read_bytes()


def test_a_channel_that_may_not_set_thumbnails_still_gets_its_video(fake: FakeYouTube, tmp_path: Path) -> None:
    fake.thumbnail_forbidden = True
    result = shortskit.publish(make_short(tmp_path / "t", "t", seed=5), chunk_size=CHUNK, captions=False)
    assert result.exit_code == 0 and result.rows[0].state == "uploaded"
    assert any("no thumbnail" in n for n in result.rows[0].notes)
    fake.faults = []
    fake.captions_refused = True  # a caption track refused: a note, the video stays up and is not sent again
    again = shortskit.publish(make_short(tmp_path / "u", "u", seed=16), chunk_size=CHUNK)
    assert again.exit_code == 0 and any("no captions" in n for n in again.rows[0].notes)
    assert shortskit.publish(tmp_path / "u", chunk_size=CHUNK).rows[0].action == "skip"


def test_synthetic_media_is_declared_from_the_facts_and_always_sent(fake: FakeYouTube, tmp_path: Path) -> None:
    assert synthetic_default({"made_with": {"voice": "chatterbox", "cloned_voice": True, "pictures": "procedural"}})[0]
    assert synthetic_default({"made_with": {"voice": "espeak", "pictures": "together", "generated_pictures": True}})[0]
    assert not synthetic_default({"made_with": {"voice": "espeak", "pictures": "procedural"}})[0]
    assert synthetic_default({})[0]  # no facts: declared
    clean = make_short(tmp_path / "a", "a", seed=11)
    cloned = make_short(tmp_path / "b", "b", seed=12, made_with={"voice": "chatterbox", "cloned_voice": True})
    shortskit.publish([clean, cloned], chunk_size=CHUNK, captions=False, thumbnail=False)
    assert [v["status"]["containsSyntheticMedia"] for v in fake.uploaded()] == [False, True]
    assert all(v["status"]["selfDeclaredMadeForKids"] is False for v in fake.uploaded())
    shortskit.publish(make_short(tmp_path / "c", "c", seed=13), meta=MetaOptions(synthetic="yes", made_for_kids=True),
                      chunk_size=CHUNK, captions=False, thumbnail=False)  # fmt: skip
    assert fake.uploaded()[-1]["status"]["containsSyntheticMedia"] is True
    assert fake.uploaded()[-1]["status"]["selfDeclaredMadeForKids"] is True


@pytest.mark.slow
def test_a_rendered_short_records_how_it_was_made_and_publishes(fake: FakeYouTube, tmp_path: Path) -> None:
    from tests.conftest import small_story, write_story

    story = shortskit.load_story(write_story(tmp_path, small_story()))
    out = tmp_path / "made" / "short.mp4"
    out.parent.mkdir()
    shortskit.render_sync(story, out, workspace=tmp_path / "ws")
    facts = json.loads(out.with_suffix(".json").read_text())["made_with"]
    assert facts["voice"] == "espeak" and facts["cloned_voice"] is False and facts["pictures"] == "procedural"
    assert shortskit.publish(out, chunk_size=CHUNK).exit_code == 0
    assert fake.uploaded()[0]["status"]["containsSyntheticMedia"] is False and fake.captions


# -- logins and secrets ----------------------------------------------------------------------------------


def test_no_token_in_any_file_the_run_wrote_nor_on_stderr(fake: FakeYouTube, tmp_path: Path) -> None:
    folder = batch(tmp_path, 2)
    fake.faults = [503]
    out = cli(str(folder), "--schedule", "--chunk-kib", "256", fake=fake, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    debug = cli(str(folder), "--schedule", fake=fake, tmp_path=tmp_path)  # a re-run, too
    store = token_path("default")
    secrets = [REFRESH_TOKEN, REFRESH_TOKEN[8:24], "GOCSPX-client-secret", *fake.access_tokens]
    assert debug.returncode == 0 and fake.access_tokens  # the runs did get tokens to leak
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != store:
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path
    for text in (out.stdout, out.stderr, debug.stdout, debug.stderr):
        assert not any(s in text for s in secrets)
    assert stat.S_IMODE(store.stat().st_mode) == 0o600 and stat.S_IMODE(store.parent.stat().st_mode) == 0o700


def test_a_revoked_token_is_one_line_saying_to_log_in_again(fake: FakeYouTube, tmp_path: Path) -> None:
    fake.refresh_tokens.clear()
    out = cli(str(make_short(tmp_path / "r", "r", seed=6)), "--channel", "default", fake=fake, tmp_path=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "log in again: shortskit publish login" in out.stderr
    assert fake.writes() == []
    missing = cli(str(tmp_path / "r"), "--channel", "other", fake=fake, tmp_path=tmp_path)
    assert missing.returncode == 2 and "--channel other" in missing.stderr and "Traceback" not in missing.stderr


def _client_secrets(tmp_path: Path, fake: FakeYouTube) -> Path:
    """An installed app's client-secrets file whose OAuth endpoints are the fake's."""
    secrets = tmp_path / "client_secret.json"
    secrets.write_text(json.dumps({"installed": {
        "client_id": "cid.apps", "client_secret": "GOCSPX-x", "auth_uri": fake.url + "/auth",
        "token_uri": fake.url + "/token", "redirect_uris": ["http://localhost"]}}))  # fmt: skip
    return secrets


def test_login_without_a_browser_keeps_the_token_0600_with_the_files_token_uri(
    fake: FakeYouTube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import parse_qs, urlsplit

    secrets = _client_secrets(tmp_path, fake)
    shown: list[str] = []
    # oauthlib refuses a plain-http token endpoint unless told this is a test (the real one is https)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")

    def paste(prompt: str) -> str:  # what a person copies from the browser's address bar after approving
        url = next(line for line in "\n".join(shown).splitlines() if line.startswith(fake.url + "/auth"))
        state = parse_qs(urlsplit(url).query)["state"][0]
        return f"http://127.0.0.1:8085/?state={state}&code=good-code&scope=x"

    path = login(secrets, channel="second", browser=False, ask=paste, say=shown.append)
    assert path == tmp_path / "config" / "shortskit" / "youtube" / "second.json"
    kept = json.loads(path.read_text())
    assert kept["refresh_token"] == REFRESH_TOKEN and kept["token_uri"] == fake.url + "/token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "token" not in kept  # no access token kept
    with pytest.raises(LoginError, match="another login attempt"):
        login(secrets, channel="third", browser=False, ask=lambda p: "http://127.0.0.1:8085/?state=x&code=good-code",
              say=lambda s: None)  # fmt: skip
    assert shortskit.publish(make_short(tmp_path / "l", "l", seed=2), channel="second", chunk_size=CHUNK).exit_code == 0


def test_login_with_a_browser_catches_the_redirect_on_loopback(
    fake: FakeYouTube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = _client_secrets(tmp_path, fake)
    # a "browser" that opens the address in the background, as a real one does, and follows the redirect
    browse = tmp_path / "browse.sh"
    browse.write_text(
        f'{sys.executable} -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1]).read()" "$1" &\n'
    )
    monkeypatch.setenv("BROWSER", f"sh {browse} %s")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake's token endpoint is plain http
    path = login(secrets, channel="browser", browser=True, say=lambda s: None)
    kept = json.loads(path.read_text())
    assert kept["refresh_token"] == REFRESH_TOKEN and kept["token_uri"] == fake.url + "/token"
    auth = next(r for r in fake.requests if r.path == "/auth")
    assert auth.query["redirect_uri"].startswith("http://127.0.0.1:") and auth.query["access_type"] == "offline"


def test_a_story_folder_cannot_choose_the_endpoint(fake: FakeYouTube, tmp_path: Path) -> None:
    # OUT.json is written from a story: any endpoint or channel in it is ignored
    video = make_short(
        tmp_path / "s", "s", seed=14, base_url="http://127.0.0.2:9/", channel="evil", token_uri="http://127.0.0.2:9/"
    )
    assert shortskit.publish(video, chunk_size=CHUNK, captions=False).exit_code == 0
    assert len(fake.uploaded()) == 1


# -- the notebook panel -------------------------------------------------------------------------------------


def test_the_publish_panel_plans_and_publishes(fake: FakeYouTube, tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    from shortskit.widgets import PublishPanel

    folder = batch(tmp_path, 2)
    panel = PublishPanel(folder, chunk_size=CHUNK)
    panel.dry_run.value = True
    panel.publish_button.click()
    assert fake.writes() == [] and panel.table.value.count("<tr>") == 3 and "upload" in panel.table.value
    panel.dry_run.value = False
    panel.schedule.value = True
    panel.publish_button.click()
    assert panel.error is None and len(fake.uploaded()) == 2 and "scheduled" in panel.table.value
    assert all("publishAt" in v["status"] for v in fake.uploaded())
