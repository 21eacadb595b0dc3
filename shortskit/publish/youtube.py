"""The YouTube publisher: resumable uploads through Google's own client (``google-api-python-client``), the
poster frame as thumbnail, ``OUT.srt`` as a caption track, and the channel's scheduled videos.

The API's base URL is ``YOUTUBE_BASE_URL`` (default Google's), for uploads too: it replaces the ``rootUrl`` of
the discovery document shipped in the client's wheel (``client_options`` would keep https for uploads). Chunks
are retried with backoff on 5xx, 429 and dropped connections; after each failure the client asks the session
how far it got (``308`` with ``Range``: go on from the byte after it) rather than resending blindly, since
``next_chunk(num_retries=...)`` would resend a spent chunk as an empty body. Quota answers (``403
quotaExceeded``, ``400 uploadLimitExceeded``) stop at once as :class:`~shortskit.errors.QuotaExceededError`.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shortskit.endpoints import Secret, check_base_url, public_url
from shortskit.errors import ConfigError, LoginError, PublishError, QuotaExceededError
from shortskit.http import parse_retry_after, quote
from shortskit.publish.auth import credentials, refreshed
from shortskit.publish.base import Short, Uploaded, VideoMeta
from shortskit.publish.slots import parse_rfc3339, rfc3339

__all__ = ["DEFAULT_BASE_URL", "QUOTA_REASONS", "YouTubeOptions", "YouTubePublisher", "google_http", "youtube_base_url"]

log = logging.getLogger("shortskit.publish")

DEFAULT_BASE_URL = "https://youtube.googleapis.com"
QUOTA_REASONS = {"quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded", "rateLimitExceeded"}
_CHUNK_UNIT = 256 * 1024  # resumable chunks must be multiples of this (but the last)


def google_http(*, timeout: float) -> Any:
    """An ``httplib2.Http`` for Google's client libraries (``shortskit[publish]``), with two of their traps set right.

    A resumable upload's ``308 Resume Incomplete`` is no redirect: httplib2 would follow it. And httplib2 reaches a
    proxy (``https_proxy``) only through PySocks, else it refuses every request while a proxy variable is set:
    without PySocks the proxy variables are ignored, and a debug line says so.
    """
    try:
        import httplib2
    except ImportError:  # pragma: no cover - the publish extra is missing
        raise ConfigError("publishing needs its extra: pip install 'shortskit[publish]'") from None
    proxy: Any = httplib2.proxy_info_from_environment
    if getattr(httplib2, "socks", None) is None:
        log.debug("PySocks is not installed: proxy variables are ignored for Google's APIs")
        proxy = None
    http = httplib2.Http(timeout=timeout, proxy_info=proxy)
    http.redirect_codes = http.redirect_codes - {308}
    return http


def youtube_base_url(given: str | None = None) -> str:
    """Where API calls and uploads go: ``given``, else ``YOUTUBE_BASE_URL``, else Google's."""
    url = given or os.environ.get("YOUTUBE_BASE_URL", "").strip() or DEFAULT_BASE_URL
    return check_base_url(url, where="YOUTUBE_BASE_URL")


@dataclass(frozen=True)
class YouTubeOptions:
    """How the publisher talks to YouTube."""

    base_url: str | None = None  # None: YOUTUBE_BASE_URL, else Google's; never from a story
    chunk_size: int = 32 * _CHUNK_UNIT  # bytes a resumable chunk (8 MiB), a multiple of 256 KiB
    retries: int = 8  # tries for one request or chunk on 5xx, 429 and dropped connections
    backoff: float = 1.0  # seconds before the first retry; doubles each time, with jitter, at most 64 s
    timeout: float = 120.0  # seconds one HTTP request may take
    thumbnail: bool = True  # set the poster frame as thumbnail (where the channel may)
    captions: bool = True  # upload OUT.srt as a caption track (400 quota units each)

    def __post_init__(self) -> None:
        if self.chunk_size <= 0 or self.chunk_size % _CHUNK_UNIT:
            raise ConfigError(f"chunk size must be a multiple of 256 KiB (got {self.chunk_size} bytes)")
        if self.retries < 1:
            raise ConfigError("retries must be at least 1")


def _reason(exc: Any) -> tuple[str | None, str]:
    """The first error reason and message of a googleapiclient ``HttpError``."""
    try:
        data = json.loads(exc.content.decode("utf-8", "replace") if isinstance(exc.content, bytes) else exc.content)
        err = data.get("error", {}) if isinstance(data, dict) else {}
        errors = err.get("errors") or []
        reason = errors[0].get("reason") if errors and isinstance(errors[0], dict) else None
        return reason, str(err.get("message") or "")
    except (ValueError, AttributeError, TypeError):
        return None, ""


class _SessionGone(Exception):
    """The server no longer knows the resumable session: start the upload again."""


class YouTubePublisher:
    """Uploads to one channel. Built from the channel's kept login; ``say`` gets one line per retry."""

    platform = "youtube"

    def __init__(
        self,
        channel: str = "default",
        *,
        options: YouTubeOptions | None = None,
        config_dir: str | Path | None = None,
        say: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        try:
            import google_auth_httplib2
            from googleapiclient import discovery, discovery_cache
        except ImportError:
            raise ConfigError("publishing needs its extra: pip install 'shortskit[publish]'") from None
        self.channel, self.options = channel, options or YouTubeOptions()
        self.say, self.sleep = say or (lambda line: log.info("%s", line)), sleep
        base = youtube_base_url(self.options.base_url)
        self.base_url = base
        http = google_http(timeout=self.options.timeout)
        creds = refreshed(credentials(channel, config_dir=config_dir), http, channel)
        self._secrets = [Secret(creds.refresh_token or ""), Secret(creds.token or "")]
        doc = json.loads(discovery_cache.get_static_doc("youtube", "v3"))
        doc["rootUrl"] = base + "/"
        doc["baseUrl"] = base + "/" + doc.get("servicePath", "")
        doc.pop("mtlsRootUrl", None)
        authed = google_auth_httplib2.AuthorizedHttp(creds, http=http)
        self.api = discovery.build_from_document(doc, http=authed)

    # -- errors and retries ------------------------------------------------------------------------------

    def _fail(self, exc: Any, what: str, short: str | None) -> Exception:
        status = getattr(getattr(exc, "resp", None), "status", None)
        reason, message = _reason(exc)
        if reason in QUOTA_REASONS and reason != "rateLimitExceeded":
            return QuotaExceededError(f"{what}: {reason}", left=0, resets_at=None)
        text = quote(message or reason or "", self._secrets)
        if status == 401:
            flag = "" if self.channel == "default" else f" --channel {self.channel}"
            return LoginError(f"{what}: the login was refused (HTTP 401): log in again: shortskit publish login{flag}")
        return PublishError(
            f"{what}: HTTP {status}{' ' + reason if reason else ''}: {text}", status=status, short=short
        )

    def _retryable(self, exc: BaseException) -> float | None:
        """Seconds the server asked to wait (0 when it did not) if ``exc`` is worth another try, else None."""
        from googleapiclient.errors import HttpError

        if isinstance(exc, HttpError):
            status = exc.resp.status
            reason, _ = _reason(exc)
            if status in (429, 500, 502, 503, 504) or reason == "rateLimitExceeded":
                return parse_retry_after(exc.resp.get("retry-after")) or 0.0
            return None
        return (
            0.0 if isinstance(exc, (OSError, http.client.HTTPException, socket.timeout)) or _is_httplib2(exc) else None
        )

    def _pause(self, attempt: int, asked: float, what: str, exc: BaseException) -> None:
        delay = max(asked, min(64.0, self.options.backoff * 2**attempt) * (0.5 + random.random() / 2))
        why = f"HTTP {exc.resp.status}" if hasattr(exc, "resp") else type(exc).__name__
        self.say(f"{what}: {why}, trying again in {delay:.1f} s")
        self.sleep(delay)

    def _execute(self, request: Any, what: str, short: str | None = None) -> Any:
        from googleapiclient.errors import HttpError

        for attempt in range(self.options.retries):
            try:
                return request.execute()
            except Exception as exc:
                asked = self._retryable(exc)
                if asked is None or attempt == self.options.retries - 1:
                    if isinstance(exc, HttpError):
                        raise self._fail(exc, what, short) from None
                    raise PublishError(f"{what}: {type(exc).__name__} after {attempt + 1} tries", short=short) from None
                self._pause(attempt, asked, what, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the channel -------------------------------------------------------------------------------------

    def scheduled(self) -> list[datetime]:
        """When the channel's scheduled videos go public: its videos (search.list, forMine), then their status."""
        try:
            ids = self._pages(
                lambda token: self.api.search().list(
                    part="id", forMine=True, type="video", maxResults=50, pageToken=token
                ),
                lambda item: item["id"]["videoId"] if isinstance(item.get("id"), dict) else None,
            )
        except (QuotaExceededError, LoginError):
            raise
        except PublishError as exc:
            if exc.status not in (400, 403, 404):
                raise
            # search refused (or not offered by a proxy): the uploads playlist lists the same videos, at 1 unit a page
            page = self._execute(self.api.channels().list(part="contentDetails", mine=True), "reading the channel")
            items = page.get("items") or [{}]
            uploads = ((items[0].get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads")
            if not uploads:
                return []
            ids = self._pages(
                lambda token: self.api.playlistItems().list(
                    part="contentDetails", playlistId=uploads, maxResults=50, pageToken=token
                ),
                lambda item: (item.get("contentDetails") or {}).get("videoId"),
            )
        times: list[datetime] = []
        for start in range(0, len(ids), 50):
            page = self._execute(
                self.api.videos().list(part="status", id=",".join(ids[start : start + 50]), maxResults=50),
                "reading the channel's scheduled videos",
            )
            for item in page.get("items", []):
                when = parse_rfc3339(str((item.get("status") or {}).get("publishAt") or ""))
                if when is not None:
                    times.append(when)
        return times

    def _pages(self, request: Callable[[str | None], Any], pick: Callable[[dict[str, Any]], str | None]) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        for _ in range(20):  # 1000 videos at most
            page = self._execute(request(token), "reading the channel's videos")
            ids += [i for item in page.get("items", []) if isinstance(item, dict) and (i := pick(item))]
            token = page.get("nextPageToken")
            if not token:
                break
        return ids

    # -- uploads -----------------------------------------------------------------------------------------

    def _body(self, meta: VideoMeta, publish_at: datetime | None) -> dict[str, Any]:
        snippet: dict[str, Any] = {"title": meta.title, "description": meta.description, "categoryId": meta.category}
        if meta.tags:
            snippet["tags"] = list(meta.tags)
        if meta.language:
            snippet["defaultLanguage"] = snippet["defaultAudioLanguage"] = meta.language
        status: dict[str, Any] = {
            "privacyStatus": "private" if publish_at else meta.privacy,
            "selfDeclaredMadeForKids": meta.made_for_kids,
            "containsSyntheticMedia": meta.synthetic,
        }
        if publish_at:
            status["publishAt"] = rfc3339(publish_at)
        return {"snippet": snippet, "status": status}

    def upload(
        self,
        short: Short,
        meta: VideoMeta,
        publish_at: datetime | None,
        *,
        session: str | None,
        on_session: Callable[[str | None], None],
    ) -> Uploaded:
        """Upload ``short`` (going on with ``session`` where the server still has it)."""
        for _ in range(3):
            try:
                return self._upload(short, meta, publish_at, session, on_session)
            except _SessionGone:
                self.say(f"{short.name}: the upload session has expired; starting the upload again")
                session = None
                on_session(None)
        raise PublishError("the server keeps losing the upload session", short=short.name)

    def _upload(self, short: Short, meta: VideoMeta, publish_at: datetime | None, session: str | None,
                on_session: Callable[[str | None], None]) -> Uploaded:  # fmt: skip
        from googleapiclient.errors import HttpError

        media = _chunked(short.video, self.options.chunk_size)
        request = self.api.videos().insert(part="snippet,status", body=self._body(meta, publish_at), media_body=media)
        if session:
            request.resumable_uri = session
            request._in_error_state = True  # the library's own resume: ask the session how far it got
        what, failures, response = f"uploading {short.name}", 0, None
        while response is None:
            before = (request.resumable_uri, request.resumable_progress)
            try:
                _, response = request.next_chunk()
            except Exception as exc:
                if isinstance(exc, HttpError) and exc.resp.status in (404, 410) and request.resumable_uri:
                    raise _SessionGone from None
                asked = self._retryable(exc)
                if asked is None or failures >= self.options.retries - 1:
                    if isinstance(exc, HttpError):
                        raise self._fail(exc, what, short.name) from None
                    raise PublishError(
                        f"{what}: {type(exc).__name__} after {failures + 1} tries", short=short.name
                    ) from None
                failures += 1
                if request.resumable_uri:  # whatever failed, the next call asks where the session stands
                    request._in_error_state = True
                self._pause(failures - 1, asked, what, exc)
                continue
            if request.resumable_uri != before[0]:
                on_session(request.resumable_uri)
            if request.resumable_progress != before[1]:
                failures = 0  # a chunk went through: the next failure starts the backoff again
        video_id = response.get("id") if isinstance(response, dict) else None
        if not video_id:
            raise PublishError(f"{what}: the answer holds no video id", short=short.name)
        when = parse_rfc3339(str((response.get("status") or {}).get("publishAt") or "")) or publish_at
        return Uploaded(video_id, when)

    def finish(self, short: Short, uploaded: Uploaded) -> list[str]:
        """The poster frame as thumbnail and ``OUT.srt`` as captions; what could not be done, as notes."""
        from googleapiclient.http import MediaFileUpload

        notes: list[str] = []
        if self.options.thumbnail:
            with tempfile.TemporaryDirectory(prefix="shortskit-thumb-") as tmp:
                jpg = _poster(short, Path(tmp) / "poster.jpg")
                if jpg is None:
                    notes.append("no thumbnail: the poster frame could not be read")
                else:
                    try:
                        self._execute(
                            self.api.thumbnails().set(videoId=uploaded.video_id, media_body=MediaFileUpload(str(jpg), mimetype="image/jpeg")),
                            f"thumbnail of {short.name}", short.name,
                        )  # fmt: skip
                    except (QuotaExceededError, LoginError):
                        raise
                    except PublishError as exc:
                        # 403 forbidden: custom thumbnails need a verified channel; the video stays without
                        notes.append(f"no thumbnail ({exc.message})")
        if self.options.captions and short.srt is not None:
            language = short.meta.get("language") if isinstance(short.meta.get("language"), str) else "en"
            body = {"snippet": {"videoId": uploaded.video_id, "language": language, "name": "", "isDraft": False}}
            media = MediaFileUpload(str(short.srt), mimetype="application/octet-stream")
            try:
                self._execute(
                    self.api.captions().insert(part="snippet", body=body, media_body=media),
                    f"captions of {short.name}",
                    short.name,
                )
            except (QuotaExceededError, LoginError):
                raise  # the run stops; the next one adds them (the ledger says they are still to do)
            except PublishError as exc:  # the video is up all the same
                notes.append(f"no captions ({exc.message})")
        return notes

    def schedule(self, video_id: str, publish_at: datetime, meta: VideoMeta) -> None:
        """Give an uploaded video its publish time (videos.update, 50 quota units)."""
        status = self._body(meta, publish_at)["status"]
        self._execute(
            self.api.videos().update(part="status", body={"id": video_id, "status": status}), f"scheduling {video_id}"
        )

    def describe(self) -> str:
        return f"YouTube at {public_url(self.base_url)}, channel {self.channel}"


def _chunked(path: Path, chunk_size: int) -> Any:
    """``path`` as a resumable upload sent one chunk of bytes at a time, never as a stream: a stream's chunk is
    read once, so when httplib2 sends a request again after a dropped connection (it does, once, by itself), or
    ``next_chunk(num_retries=...)`` after a 5xx, the spent chunk goes out as an empty body and the request hangs
    until its timeout."""
    from googleapiclient.http import MediaFileUpload

    class Chunks(MediaFileUpload):  # type: ignore[misc]
        def has_stream(self) -> bool:
            return False

    return Chunks(str(path), mimetype="video/mp4", chunksize=chunk_size, resumable=True)


def _is_httplib2(exc: BaseException) -> bool:
    import httplib2

    return isinstance(exc, httplib2.HttpLib2Error)


def _poster(short: Short, out: Path) -> Path | None:
    """The poster frame (a third of the way in, as in the batch's gallery) as a JPEG under 2 MB."""
    from shortskit.errors import ShortskitError
    from shortskit.ffmpeg import frame_at

    duration = short.meta.get("duration") if isinstance(short.meta.get("duration"), (int, float)) else 0.0
    try:
        frame = frame_at(short.video, float(duration) / 3)
    except (ShortskitError, OSError, ValueError):
        return None
    frame = frame.convert("RGB")
    for quality in (90, 80, 65, 50):
        frame.save(out, "JPEG", quality=quality)
        if out.stat().st_size < 2_000_000:
            return out
    return None


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
