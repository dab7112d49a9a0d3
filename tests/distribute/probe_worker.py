"""One worker of a MultiWorkerMirroredStrategy run (TF_CONFIG set by the test that starts it).

`python probe_worker.py fit|resume RUN_DIR EPOCHS OUT [PAUSE] [TAP_STORAGE]`: trains (or resumes)
the dense model on 101 fixed samples with `strategy="multi-worker"`; writes OUT/worker-<i>.json,
and OUT/counts.npy on the chief. PAUSE seconds of sleep per epoch let a test kill a worker.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zlens  # noqa: E402
from zlens.kinds import IN_FLIGHT  # noqa: E402

mode, run_dir, epochs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
tap_storage = sys.argv[6] if len(sys.argv) > 6 else "auto"
task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]


class Pause(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(pause)


x = np.random.default_rng(0).random((101, 12), dtype=np.float32)
if mode == "fit":
    run = zlens.fit("dense", x, epochs=epochs, batch_size=10, capture="both", encoding_dim=3, seed=0,
                    run_dir=run_dir, strategy="multi-worker", callbacks=[Pause()], tap_storage=tap_storage)
else:
    run = zlens.resume(run_dir, x, epochs=epochs, strategy="multi-worker")
result = {"task": task, "epochs": run.epochs, "loss": run.history["loss"], "path": str(run.path)}
if run.path is not None:
    counts = run.model._recorder.buffers[IN_FLIGHT]["z"].counts
    np.save(os.path.join(out, "counts.npy"), np.asarray(counts))
json.dump(result, open(os.path.join(out, f"worker-{task}.json"), "w"))
