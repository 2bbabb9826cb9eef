"""Peak bytes of one evaluation's work folder on /dev/shm, with and without the large-trial path.

    PYTHONPATH=. python bench/devshm_peak.py before   # every trial's inputs and outputs as files
    PYTHONPATH=. python bench/devshm_peak.py after    # large trials: inputs made in the child (device_trials.py)

KernelBench-format Swish (tests/kernelbench_problems/level1/1_Swish.py) at 4096 x 12800 float32 (210 MB of
inputs per trial), smoke suite under the Triton interpreter (4 correctness trials in one batch, then the
timing blocks). Prints the folder's peak during correctness and overall (the timing blocks' verified
outputs still come back as files).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from warpsmith.evaluator import device_trials
from warpsmith.evaluator import evaluate as evaluate_module
from warpsmith.records.evaluation import Candidate
from warpsmith.records.tasks import TaskSpec
from warpsmith.tasklib.kernelbench_task import kernelbench_task_from_spec

ROOT = Path(__file__).resolve().parents[1]


def main(mode: str) -> None:
    source = (ROOT / "tests/kernelbench_problems/level1/1_Swish.py").read_text().replace("dim = 16384", "dim = 12800")
    task = kernelbench_task_from_spec(TaskSpec(kind="kernelbench", name="kernelbench_swish_210mb", source=source,
                                               smoke_elements=1 << 26, check_elements=1 << 26))
    kernel = (ROOT / "tests/kernelbench_problems/solutions/swish_kernel.py").read_text().replace("1024", "1048576")
    if mode == "before":
        device_trials.DEVICE_TRIAL_BYTES = 1 << 62
    roots: list[Path] = []
    make_root = evaluate_module.work_root

    def recording_root() -> Path:
        roots.append(make_root())
        return roots[-1]

    evaluate_module.work_root = recording_root  # measure only this evaluation's folder
    peak = {"all": 0, "trials": 0}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            total = trials = 0
            for root in list(roots):
                for folder, _, files in os.walk(root):
                    for name in files:
                        try:
                            size = os.lstat(os.path.join(folder, name)).st_size
                        except OSError:
                            continue
                        total += size
                        trials += 0 if name.startswith("timed_outputs_") else size
            peak["all"], peak["trials"] = max(peak["all"], total), max(peak["trials"], trials)
            time.sleep(0.01)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    started = time.time()
    result = evaluate_module.evaluate(Candidate(task=task.name, language="triton", source=kernel, origin="user"), task,
                                      suite="smoke", device="cpu", timeout_s=900)
    stop.set()
    watcher.join()
    print(f"{mode}: {result.status} ({result.message[:80]}) in {time.time() - started:.0f} s; work root {roots}")
    print(f"{mode}: peak bytes in the work folder during correctness (4 trials) {peak['trials']:,}; "
          f"with the timed outputs {peak['all']:,}; inputs per trial {task.cost(task.shapes('smoke')[0]).bytes // 2:,}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "after")
