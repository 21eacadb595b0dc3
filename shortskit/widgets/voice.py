"""The voice panel widget: pick a voice and hear a test sentence; record or upload a voice sample, check it, save
it by name, and hear the test sentence in that voice, cloned by Chatterbox."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import ipywidgets as w

from shortskit.errors import ConfigError, ShortskitError
from shortskit.providers import create_voice, voice_names
from shortskit.providers.chatterbox import availability
from shortskit.voicesample import MAX_SECONDS, MIN_SECONDS, VoiceSample, prepare_sample, save_voice, voice_library
from shortskit.widgets._common import Background, media, note
from shortskit.widgets.recorder import Recorder
from shortskit.workspace import default_workspace

__all__ = ["VoicePanel"]


class VoicePanel(Background, w.VBox):
    """Pick a voice and hear a test sentence; record or upload a sample, check it, save it by name, speak with it."""

    def __init__(
        self,
        *,
        workspace: str | Path | None = None,
        language: str = "en",
        text: str = "Meet the octopus. It has three hearts, and its blood is blue.",
    ) -> None:
        super().__init__()
        self._tasks, self.error = set(), None
        self.workspace = Path(workspace) if workspace is not None else default_workspace()
        self.sample: VoiceSample | None = None
        self.saved: str | None = None  # the voice saved last: "Speak with this voice" clones it
        self.speech_path: Path | None = None
        names = voice_names()
        self.provider = w.Dropdown(
            options=names, value="espeak" if "espeak" in names else names[0], description="Voice"
        )
        from shortskit.providers.espeak import list_voices

        self.espeak_voice = w.Dropdown(
            options=[("(from the language)", "")] + [(v, v) for v in list_voices()], value="", description="eSpeak"
        )
        self.rate = w.IntSlider(value=175, min=80, max=450, description="Rate (wpm)")
        self.pitch = w.IntSlider(value=50, min=0, max=99, description="Pitch")
        self.espeak_box = w.VBox([self.espeak_voice, self.rate, self.pitch])
        self.options = w.Text(value="{}", description="Options", placeholder='{"option": "value"} (JSON)')
        self.language = w.Text(value=language, description="Language")
        self.text = w.Text(value=text, description="Say", layout=w.Layout(width="98%"))
        self.speak_button = w.Button(description="Speak", icon="play")
        self.speech = w.Audio(autoplay=False, loop=False)
        self.upload = w.FileUpload(accept=".wav,.mp3,.m4a,audio/*", multiple=False, description="Upload sample")
        self.recorder = Recorder()  # or record one here, from the browser's microphone
        self.sample_info = w.HTML()
        self.sample_audio = w.Audio(autoplay=False, loop=False)
        self.name = w.Text(value="", placeholder="narrator", description="Name")
        self.save_button = w.Button(description="Save voice", icon="save", button_style="success")
        self.exaggeration = w.FloatSlider(value=0.5, min=0.25, max=2.0, step=0.05, description="Exaggeration")
        self.cfg_weight = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="CFG weight")
        self.clone_button = w.Button(description="Speak with this voice", icon="user", button_style="info")
        self.clone_speech = w.Audio(autoplay=True, loop=False)
        # whether Chatterbox can clone here, and the sentence that says so (or what to do)
        self.cloning, self.cloning_message = availability()
        self.clone_button.disabled = not self.cloning
        kept = "" if self.cloning else " Samples saved now are kept for it."
        self.cloning_note = w.HTML(note(self.cloning_message + kept))
        self.status = w.HTML()

        self.provider.observe(self._provider_changed, "value")
        self.speak_button.on_click(lambda _b: self._spawn(self.speak()))
        self.upload.observe(self._uploaded, "value")
        self.recorder.observe(self._recorded, "audio")
        self.recorder.observe(self._no_microphone, "error")
        self.save_button.on_click(lambda _b: self.save())
        self.clone_button.on_click(lambda _b: self._spawn(self.speak_cloned()))
        self._provider_changed()
        self.children = [
            w.HTML("<b>Voice</b>"),
            self.provider,
            self.espeak_box,
            self.options,
            self.language,
            self.text,
            w.HBox([self.speak_button, self.speech]),
            w.HTML(
                f"<b>Voice sample</b> (WAV, MP3 or M4A: {MIN_SECONDS:g} s or more of clear speech, "
                f"cut at {MAX_SECONDS:g} s)"
            ),
            self.cloning_note,
            w.HBox([self.upload, self.recorder]),
            self.sample_info,
            self.sample_audio,
            w.HBox([self.name, self.save_button]),
            w.HBox([self.exaggeration, self.cfg_weight]),
            w.HBox([self.clone_button, self.clone_speech]),
            self.status,
        ]

    def _provider_changed(self, _change: Any = None) -> None:
        espeak = self.provider.value == "espeak"
        self.espeak_box.layout.display = "flex" if espeak else "none"
        self.options.layout.display = "none" if espeak else "flex"

    def settings(self) -> dict[str, Any]:
        """The chosen provider's options, as ``create_voice`` takes them."""
        if self.provider.value == "espeak":
            chosen = {"rate": self.rate.value, "pitch": self.pitch.value}
            return {"voice": self.espeak_voice.value, **chosen} if self.espeak_voice.value else chosen
        try:
            options = json.loads(self.options.value or "{}")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"options must be a JSON object ({exc.msg})") from None
        if not isinstance(options, dict):
            raise ConfigError("options must be a JSON object")
        return options

    def _scratch(self) -> Path:
        folder = voice_library(self.workspace) / ".scratch"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    async def speak(self) -> Path | None:
        """Say the test sentence with the chosen voice and settings; play it."""
        self.status.value = note("speaking…")
        return await self._guard(self.status, self._speak())

    async def _speak(self) -> Path:
        voice = create_voice(self.provider.value, **self.settings())
        if hasattr(voice, "bind"):  # a sample named in the options is a voice of this panel's library
            voice.bind(None, self.workspace)
        speech = await voice.synthesize(
            self.text.value, self._scratch() / f"test-{self.provider.value}.wav", language=self.language.value
        )
        media(self.speech, speech.path)
        self.speech_path = speech.path
        self.status.value = note(f"{speech.duration:.1f} s of speech", "ok")
        return speech.path

    def _uploaded(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        item = change["new"][0]
        name = Path(item["name"]).name or "sample"
        raw = self._scratch() / f"upload-{name}"
        raw.write_bytes(bytes(item["content"]))
        self.upload.value = ()
        self._spawn(self.load_sample(raw, name=name))

    def _recorded(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        raw = self._scratch() / f"recording{self.recorder.suffix()}"
        raw.write_bytes(bytes(change["new"]))
        self._spawn(self.load_sample(raw))

    def _no_microphone(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.sample_info.value = note(f"{change['new']}; upload a recording instead", "error")

    async def load_sample(self, path: str | Path, *, name: str | None = None) -> VoiceSample | None:
        """Check a recording and convert it to 24 kHz mono; play it back. ``name`` is what to call it."""
        path = Path(path)
        self.sample_info.value = note("checking the sample…")
        stem = Path(name or path.name).stem
        return await self._guard(self.sample_info, self._load(path, stem))

    async def _load(self, path: Path, stem: str) -> VoiceSample:
        self.sample = None
        sample = await asyncio.to_thread(prepare_sample, path, self._scratch() / f"{stem}-24k.wav")
        self.sample = sample
        media(self.sample_audio, sample.path)
        if not self.name.value:
            self.name.value = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:64] or "voice"
        cut = f" (cut from {sample.trimmed_from:.1f} s)" if sample.trimmed_from else ""
        self.sample_info.value = note(
            f"{sample.source}: {sample.duration:.1f} s{cut}, level {sample.level_dbfs:.0f} dBFS, "
            f"converted to {sample.sample_rate // 1000} kHz mono",
            "ok",
        )
        return sample

    def save(self, name: str | None = None) -> Path | None:
        """Keep the checked sample as a named voice in the workspace's voice library."""
        if name is not None:
            self.name.value = name
        if self.sample is None:
            self.status.value = note("upload a voice sample first", "error")
            return None
        try:
            wav = save_voice(
                self.sample,
                self.name.value.strip(),
                workspace=self.workspace,
                provider="chatterbox",
                settings=self.clone_settings(),
            )
        except ShortskitError as exc:
            self.status.value = note(str(exc), "error")
            return None
        self.saved = wav.stem
        use = f"; a story speaks with it as voice: {{provider: chatterbox, sample: {wav.stem}}}"
        self.status.value = note(f"saved voice {wav.stem!r} in {wav.parent}{use}", "ok")
        return wav

    def clone_settings(self) -> dict[str, Any]:
        """The Chatterbox options chosen with the sliders."""
        return {"exaggeration": self.exaggeration.value, "cfg_weight": self.cfg_weight.value}

    async def speak_cloned(self) -> Path | None:
        """Say the test sentence in the saved voice, cloned by Chatterbox; play it."""
        self.status.value = note("cloning… (the model loads at its first use: a minute or more)")
        return await self._guard(self.status, self._speak_cloned())

    async def _speak_cloned(self) -> Path:
        if self.saved is None:
            raise ConfigError("save the voice first: it is cloned from the saved sample")
        voice = create_voice("chatterbox", sample=self.saved, **self.clone_settings())
        voice.bind(None, self.workspace)
        out = self._scratch() / f"clone-{self.saved}.wav"
        speech = await voice.synthesize(self.text.value, out, language=self.language.value)
        media(self.clone_speech, speech.path)
        self.status.value = note(
            f"{speech.duration:.1f} s in the voice {self.saved!r} (Chatterbox on {voice.device})", "ok"
        )
        return speech.path
