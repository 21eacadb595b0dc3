"""A microphone button for notebooks: records in the browser (MediaRecorder) and hands the bytes to Python.

The browser records WebM/Opus (Chrome, Firefox) or MP4/AAC (Safari); ffmpeg reads either. Nothing is sent
anywhere: the recording travels over the notebook's own widget channel into :attr:`Recorder.audio`.
"""

from __future__ import annotations

import anywidget
import traitlets
from ipywidgets.widgets.trait_types import bytes_serialization

__all__ = ["Recorder"]

_ESM = """
function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "jupyter-button widget-button shortskit-record";
  const idle = "\u25cf Record";
  button.textContent = idle;
  let recorder = null;
  button.addEventListener("click", async () => {
    if (recorder && recorder.state === "recording") {
      recorder.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      model.set("error", `the browser gave no microphone: ${err.message || err}`);
      model.save_changes();
      return;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (event) => chunks.push(event.data));
    recorder.addEventListener("stop", async () => {
      stream.getTracks().forEach((track) => track.stop());
      const blob = new Blob(chunks, { type: recorder.mimeType });
      const bytes = new Uint8Array(await blob.arrayBuffer());
      model.set("error", "");
      model.set("mime", recorder.mimeType || "audio/webm");
      model.set("audio", new DataView(bytes.buffer));
      model.save_changes();
      button.textContent = idle;
    });
    recorder.start();
    button.textContent = "\u25a0 Stop";
  });
  el.appendChild(button);
}
export default { render };
"""


class Recorder(anywidget.AnyWidget):
    """Click to record from the microphone, click again to stop; the recording lands in :attr:`audio`."""

    _esm = _ESM
    # the last recording, as the browser encoded it (it arrives as a memoryview: made bytes on the way in)
    audio = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    mime = traitlets.Unicode("").tag(sync=True)  # its type, e.g. "audio/webm;codecs=opus"
    error = traitlets.Unicode("").tag(sync=True)  # why the browser could not record (no microphone, refused)

    def suffix(self) -> str:
        """A file suffix for the recording's type, so ffmpeg and a person can tell what it is."""
        kind = self.mime.split(";")[0].strip().lower()
        return {"audio/mp4": ".m4a", "audio/ogg": ".ogg", "audio/wav": ".wav", "audio/mpeg": ".mp3"}.get(kind, ".webm")
