"""``make serve``: try the deployments on one machine: a Prefect server with its UI, the pool, the deployments and a
worker, all in this terminal; Ctrl-C stops them.

The server keeps its SQLite database under data/prefect (or PREFECT_HOME). When no inbox is configured
(CAKUPAN_SUBMISSIONS_DIR and the others, or their Prefect Variables), the worker reads the demo sample in
data/sample, written first if missing. For production, run the same steps as services (README, Operating it).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

PREFECT = str(Path(sys.executable).parent / "prefect")
ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make serve", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SERVE_PORT", "4200")))
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    args = parser.parse_args(argv)
    api = f"http://127.0.0.1:{args.port}/api"
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(args.data_dir / "prefect"))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env["PREFECT_API_URL"] = api
    env.setdefault("CAKUPAN_DATA_DIR", str(args.data_dir))
    if "CAKUPAN_SUBMISSIONS_DIR" not in env:
        sample = args.data_dir / "sample"
        if not (sample / "reference" / "villages.csv").is_file():
            from cakupan.sample import write_sample

            write_sample(sample, overwrite=True)
        env |= {
            "CAKUPAN_SUBMISSIONS_DIR": str(sample / "submissions"),
            "CAKUPAN_BPJS_PATH": str(sample / "bpjs"),
            "CAKUPAN_REFERENCE_DIR": str(sample / "reference"),
        }
    signal.signal(signal.SIGTERM, _stop)  # `kill` stops both children too, like Ctrl-C
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(args.port)], env=env)
    worker: subprocess.Popen[bytes] | None = None
    try:
        if not wait_healthy(api, server):
            raise SystemExit(f"the Prefect server did not answer at {api}")
        subprocess.run(
            [PREFECT, "work-pool", "create", "cakupan", "--type", "process", "--overwrite"], env=env, check=True
        )
        subprocess.run([PREFECT, "--no-prompt", "deploy", "--all"], cwd=ROOT, env=env, check=True)
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "cakupan"], env=env)
        print(
            f"\ncakupan is served: UI at http://127.0.0.1:{args.port} (Deployments > cakupan-nightly/rerun > Run > "
            f"Custom run), outputs under {env['CAKUPAN_DATA_DIR']}. Ctrl-C stops the server and the worker.\n",
            flush=True,
        )
        while server.poll() is None and worker.poll() is None:
            time.sleep(1)
        return 1  # one of them stopped on its own
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (worker, server):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def wait_healthy(api: str, server: subprocess.Popen[bytes], timeout_seconds: float = 180) -> bool:
    """Whether the Prefect server answers /health before it exits or the time is up (a fresh one migrates first)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


if __name__ == "__main__":
    sys.exit(main())
