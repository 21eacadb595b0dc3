"""Warm kernels for papermill: one started kernel runs notebook after notebook, so a model loads once per slot.

papermill starts a fresh kernel per notebook, which would load an in-process voice model (several GB, tens
of seconds) for every story. :class:`WarmKernel` is one started ipykernel and its client, reset between
notebooks (globals, ``Out`` and the execution count go; imported modules, and the models they keep, stay).
The papermill engine ``shortskit-warm`` runs a notebook in it, so the executed notebook is papermill's own
record (injected parameters, per-cell timings, the failing cell marked). Use a kernel from one thread only:
its client's sockets belong to that thread's event loop.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

__all__ = ["ENGINE", "KERNEL_LOST", "KernelSetupError", "WarmEngine", "WarmKernel"]

ENGINE = "shortskit-warm"  # the name this module registers with papermill
KERNEL_LOST = frozenset({"DeadKernelError", "CellTimeoutError"})  # errors after which the kernel is restarted

# What the runner reads from the kernel around each story: CPU seconds of the kernel and its children
# (ffmpeg), and how many models it has loaded (shortskit.models).
_STATS = (
    "__import__('json').dumps({'cpu': sum(__import__('os').times()[:4]), "
    "'loads': __import__('shortskit.models', fromlist=['models']).model_loads()})"
)


class KernelSetupError(RuntimeError):
    """Code the runner sends to a kernel (not a notebook cell) failed: the kernel is restarted."""


@run_sync
async def _wait(awaitable: Any) -> Any:
    """Run ``awaitable`` on this thread's event loop, the one nbclient's own sync wrappers use."""
    return await awaitable


class WarmKernel:
    """One started kernel and its client, reused for one notebook after another (from one thread)."""

    def __init__(
        self,
        *,
        kernel_name: str = "python3",
        cwd: str | Path,
        env: dict[str, str] | None = None,
        warmup: str = "import shortskit",
        startup_timeout: float = 120,
    ) -> None:
        self.cwd = str(cwd)  # the notebook's folder: relative paths in it work as under plain papermill
        self.env = dict(os.environ if env is None else env)  # the kernel's whole environment
        self.warmup = warmup  # run once after each (re)start, outside any notebook
        self.startups = 0  # kernel processes started, restarts included
        boot = NotebookClient(nbformat.v4.new_notebook(), kernel_name=kernel_name, startup_timeout=startup_timeout)
        self.km = boot.create_kernel_manager()
        # Unix sockets, not TCP ports: nothing to collide with other jobs, and no "unencrypted TCP" warning.
        # Their path must be absolute, or the kernel (cwd: the notebook's folder) and we disagree on it.
        self._sockets = tempfile.mkdtemp(prefix="shortskit-kernel-")
        self.km.transport = "ipc"
        self.km.ip = os.path.join(self._sockets, "k")
        boot.start_new_kernel(cwd=self.cwd, env=self.env)
        self.kc = boot.start_new_kernel_client()
        self.startups = 1
        self.run_silent(self.warmup, timeout=600)

    def run_silent(self, code: str, *, timeout: float = 120, expressions: dict[str, str] | None = None) -> dict:
        """Run ``code`` outside any notebook (no history, no outputs kept); the values of ``expressions``."""
        errors: list[str] = []

        def hook(msg: dict) -> None:
            if msg["header"]["msg_type"] == "error":
                errors.append(f"{msg['content'].get('ename')}: {msg['content'].get('evalue')}")

        run = self.kc.execute_interactive(
            code, silent=True, store_history=False, user_expressions=expressions or {},
            timeout=timeout, output_hook=hook, allow_stdin=False,
        )  # fmt: skip
        reply = _wait(run)
        content = reply["content"]
        if content["status"] != "ok":
            raise KernelSetupError("; ".join(errors) or f"{content.get('ename')}: {content.get('evalue')}")
        values = {}
        for name, value in content.get("user_expressions", {}).items():
            if value.get("status") != "ok":
                raise KernelSetupError(f"{value.get('ename')}: {value.get('evalue')}")
            values[name] = value["data"]["text/plain"]
        return values

    def reset(self) -> None:
        """Forget the last notebook: its globals, ``Out`` and execution count (modules and models stay)."""
        self.run_silent(f"get_ipython().reset(new_session=True)\nimport os as _os\n_os.chdir({self.cwd!r})\ndel _os")

    def stats(self) -> dict[str, Any]:
        """CPU seconds used so far by the kernel and its children, and its model loads per kind."""
        text = self.run_silent("", expressions={"stats": _STATS})["stats"]
        return json.loads(ast.literal_eval(text))

    def is_alive(self) -> bool:
        return bool(_wait(self.km.is_alive()))

    def restart(self) -> None:
        """A new kernel process on the same sockets and client (after it died, hung, or failed to reset)."""
        _wait(self.km.restart_kernel(now=True))
        _wait(self.kc.wait_for_ready(timeout=120))
        self.startups += 1
        self.run_silent(self.warmup, timeout=600)

    def kill(self) -> None:
        """End the kernel and everything it runs (ffmpeg) at once, from any thread: the batch is stopping."""
        pgid = getattr(getattr(self.km, "provisioner", None), "pgid", None)  # kernels lead their own group
        if pgid:
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
            _wait(self.km.shutdown_kernel(now=True))
            _wait(self.km.cleanup_resources())
        finally:
            shutil.rmtree(self._sockets, ignore_errors=True)


class WarmNotebookClient(PapermillNotebookClient):
    """papermill's client that also records a lost kernel (it died, or a cell ran past its time).

    papermill's own client catches only CellExecutionError: after a DeadKernelError the notebook would be
    saved with every cell "completed" and no error marked. Here the cell gets an error output, so papermill
    marks it and raises PapermillExecutionError like for any failed cell.
    """

    kernel_lost: BaseException | None = None

    def papermill_execute_cells(self) -> None:
        for index, cell in enumerate(self.nb.cells):
            try:
                self.nb_man.cell_start(cell, index)
                self.execute_cell(cell, index)
            except CellExecutionError as ex:
                self.nb_man.cell_exception(self.nb.cells[index], cell_index=index, exception=ex)
                break
            except (DeadKernelError, CellTimeoutError) as ex:
                self.kernel_lost = ex
                failed = self.nb.cells[index]
                why = str(ex).strip().splitlines()[0] if str(ex).strip() else "the kernel was lost"
                note = f"{type(ex).__name__}: {why} (the kernel is restarted for the next story)"
                output = nbformat.v4.new_output("error", ename=type(ex).__name__, evalue=why, traceback=[note])
                failed.outputs.append(output)
                self.nb_man.cell_exception(failed, cell_index=index, exception=ex)
                break
            finally:
                self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)

    def execute(self, **kwargs: Any) -> Any:
        self.reset_execution_trackers()
        with self.setup_kernel(**kwargs):  # starts nothing and stops nothing: the kernel is ours
            self.papermill_execute_cells()
            if self.kernel_lost is None:  # asking a dead kernel for its info would only fail again
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
            self.set_widgets_metadata()
        return self.nb


class WarmEngine(NBClientEngine):
    """papermill's nbclient engine, run in the :class:`WarmKernel` passed as ``warm_kernel=``."""

    @classmethod
    def execute_managed_notebook(  # type: ignore[override]
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: float | None = None,
        warm_kernel: WarmKernel | None = None,
        **kwargs: Any,
    ) -> Any:
        if warm_kernel is None:
            raise ValueError(f"the {ENGINE} engine needs warm_kernel=WarmKernel(...)")
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        final = merge_kwargs(
            kwargs, timeout=execution_timeout, startup_timeout=start_timeout, kernel_name=kernel_name,
            log=logger, log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
        )  # fmt: skip
        client = WarmNotebookClient(nb_man, km=warm_kernel.km, **final)  # not its kernel: it will not stop it
        client.kc = warm_kernel.kc  # a plain attribute: with it set, setup_kernel() starts no client
        return client.execute()


papermill_engines.register(ENGINE, WarmEngine)
