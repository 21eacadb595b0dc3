"""YouTube logins: Google's OAuth flow for an installed app, and the refresh tokens it gives, kept as secrets.

A channel's token lives in the user's config folder (``$XDG_CONFIG_HOME/shortskit/youtube/<channel>.json``, or
the platform's equivalent), mode 0600 in a 0700 folder, and nowhere else: never in a workspace, notebook,
story, ledger, report or log. Its ``token_uri`` is the one the client-secrets file named at login (the
library would put Google's in its place), so a test can point the token endpoint at a local server.

Flows: with a browser on this machine, the loopback flow (a local server on 127.0.0.1 catches the redirect).
Without one (Colab, SSH, a container), the same loopback redirect with the URL printed: open it on any device,
approve, and paste the address the browser was sent to (its page fails to load; the code is in the address).
The out-of-band flow (copy a code from Google's page) was retired in 2022-2023; Google's device flow (a code on
a TV) does not allow the YouTube upload scope, so neither is offered.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shortskit.errors import ConfigError, LoginError

__all__ = ["SCOPES", "credentials", "login", "save_token", "token_path"]

# upload (videos.insert, thumbnails.set) and force-ssl (videos.list/update of one's own videos, captions.insert)
SCOPES = ("https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.force-ssl")
_CHANNEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PASTE_REDIRECT = "http://127.0.0.1:8085/"  # nothing listens: the browser shows the code in its address bar


def _extra() -> None:
    try:
        import google.oauth2.credentials  # noqa: F401
        import google_auth_oauthlib  # noqa: F401
    except ImportError:
        raise ConfigError("publishing needs its extra: pip install 'shortskit[publish]'") from None


def token_path(channel: str, *, config_dir: str | Path | None = None) -> Path:
    """Where ``channel``'s YouTube token is kept."""
    if not _CHANNEL.match(channel):
        raise ConfigError(f"channel name must be letters, digits, '.', '_' or '-' (got {channel!r})")
    if config_dir is None:
        import platformdirs

        config_dir = platformdirs.user_config_dir("shortskit", appauthor=False)
    return Path(config_dir) / "youtube" / f"{channel}.json"


def save_token(path: Path, info: dict[str, Any]) -> Path:
    """Write ``info`` (an authorized-user JSON) at ``path``, readable by this user only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f, indent=2)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _again(channel: str) -> str:
    flag = "" if channel == "default" else f" --channel {channel}"
    return f"log in again: shortskit publish login{flag}"


def credentials(channel: str, *, config_dir: str | Path | None = None) -> Any:
    """The channel's ``google.oauth2.credentials.Credentials`` (not yet refreshed); :class:`LoginError` if none."""
    _extra()
    from google.oauth2.credentials import Credentials

    path = token_path(channel, config_dir=config_dir)
    if not path.is_file():
        raise LoginError(f"no login for channel {channel!r}: {_again(channel)}")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        creds = Credentials.from_authorized_user_info(info, scopes=info.get("scopes") or list(SCOPES))
    except (OSError, ValueError, KeyError) as exc:
        # the message names missing fields, never their values
        raise LoginError(
            f"the login of channel {channel!r} ({path}) is unreadable ({exc}): {_again(channel)}"
        ) from None
    if info.get("token_uri"):  # from_authorized_user_info puts Google's endpoint in place of the file's
        creds = creds.with_token_uri(info["token_uri"])
    return creds


def refreshed(creds: Any, http: Any, channel: str) -> Any:
    """``creds`` with a fresh access token from its token endpoint; :class:`LoginError` if it was refused."""
    import google.auth.exceptions
    import google_auth_httplib2

    try:
        creds.refresh(google_auth_httplib2.Request(http))
    except google.auth.exceptions.RefreshError:
        # invalid_grant: revoked, expired (a test app's tokens last 7 days) or the password changed
        raise LoginError(f"the login of channel {channel!r} has expired or was revoked: {_again(channel)}") from None
    except google.auth.exceptions.TransportError as exc:
        raise LoginError(f"cannot reach the token endpoint ({type(exc).__name__}); check the network") from None
    return creds


def _has_browser() -> bool:
    if "google.colab" in sys.modules:
        return False
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import webbrowser

    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _code_from(pasted: str, state: str) -> str:
    pasted = pasted.strip()
    if "://" not in pasted and "code=" not in pasted:
        return pasted  # the bare code
    query = parse_qs(urlsplit(pasted).query if "://" in pasted else pasted.lstrip("?"))
    if "error" in query:
        raise LoginError(f"Google refused the login: {query['error'][0]}")
    if query.get("state", [state])[0] != state:
        raise LoginError("the pasted address is from another login attempt: start again")
    if not query.get("code"):
        raise LoginError("the pasted address holds no code: paste the whole address the browser was sent to")
    return query["code"][0]


def login(
    client_secrets: str | Path,
    *,
    channel: str = "default",
    browser: bool | None = None,
    config_dir: str | Path | None = None,
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> Path:
    """Log ``channel`` in with the OAuth client in ``client_secrets`` (a Desktop app's JSON from Google Cloud);
    the path of the kept token. ``browser``: None chooses (a local browser where there is one)."""
    _extra()
    from google_auth_oauthlib.flow import InstalledAppFlow

    path = token_path(channel, config_dir=config_dir)
    try:
        config = json.loads(Path(client_secrets).read_text(encoding="utf-8"))
        flow = InstalledAppFlow.from_client_config(config, scopes=list(SCOPES))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{client_secrets}: not an OAuth client-secrets file ({exc})") from None
    client = config.get("installed") or config.get("web") or {}
    if browser is None:
        browser = _has_browser()
    if browser:
        creds = flow.run_local_server(
            host="127.0.0.1", port=0, open_browser=True, access_type="offline", prompt="consent",
            authorization_prompt_message="Approve shortskit in the browser window that opened (or open: {url})",
        )  # fmt: skip
    else:
        flow.redirect_uri = _PASTE_REDIRECT
        url, state = flow.authorization_url(access_type="offline", prompt="consent")
        say(f"1. Open this address on any device and approve:\n{url}")
        say("2. The browser then fails to load a 127.0.0.1 page; copy that page's whole address and paste it here.")
        code = _code_from(ask("address: "), state)
        try:
            flow.fetch_token(code=code)
        except Warning:  # oauthlib: "Scope has changed": some boxes on Google's consent page were left unticked
            raise LoginError("Google granted fewer permissions than asked: start again and tick every box") from None
        except Exception as exc:  # oauthlib's and requests' errors: say which, never the code or the secret
            raise LoginError(f"the token endpoint refused the code ({type(exc).__name__}): start again") from None
        creds = flow.credentials
    if not creds.refresh_token:
        raise LoginError(
            "Google gave no refresh token: remove shortskit's access in your Google account and start again"
        )
    info = {
        "type": "authorized_user", "client_id": creds.client_id, "client_secret": creds.client_secret,
        "refresh_token": creds.refresh_token, "token_uri": client.get("token_uri") or creds.token_uri,
        "scopes": list(SCOPES),
    }  # fmt: skip
    return save_token(path, info)
