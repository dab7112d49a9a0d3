"""Train under MirroredStrategy over N logical CPU devices, in its own process (run by the tests).

Logical devices must be configured before TensorFlow starts, so this never runs inside pytest:
`python probe_mirrored.py DEVICES MODE OUT` (MODE: fit, zarr or keras) writes OUT/result.json, OUT/counts.npy and a run
(OUT/run: a run directory; OUT/model.keras for MODE=keras) for the test to check.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

devices, mode, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
batch_size = int(sys.argv[4]) if len(sys.argv) > 4 else 10
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zlens  # noqa: E402
from zlens.kinds import IN_FLIGHT  # noqa: E402

x = np.random.default_rng(0).random((101, 12), dtype=np.float32)  # 101: partial and empty replica batches
strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(devices)])
if mode in ("fit", "zarr"):  # the one-call path: zlens builds the model under the scope
    if mode == "zarr":  # the same samples from a chunked store on disk, read a group of chunks at a time
        import zarr

        x = zarr.create_array(os.path.join(out, "x.zarr"), shape=x.shape, chunks=(8, 12), dtype="float32")
        x[...] = np.random.default_rng(0).random((101, 12), dtype=np.float32)
    run = zlens.fit("dense", x, epochs=3, batch_size=batch_size, capture="both", encoding_dim=3, seed=0,
                    strategy=strategy, run_dir=os.path.join(out, "run"), latent=None)
    model = run.model
else:  # the Keras path: the user builds under the scope and calls model.fit (taps kept on the host)
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = zlens.TappedAutoencoder(zlens.models.dense(12, 3), taps=("z", "recon_error"))
        model.compile(optimizer="adam")
    model.fit(x, epochs=3, batch_size=batch_size, capture="both", seed=0, verbose=0, tap_storage="host")
    run = model.run
    model.save(os.path.join(out, "model.keras"))
    np.save(os.path.join(out, "z_consistent.npy"), run.z(kind="consistent"))
    np.save(os.path.join(out, "z_in_flight.npy"), run.z(kind="in-flight"))
np.save(os.path.join(out, "counts.npy"), np.asarray(model._recorder.buffers[IN_FLIGHT]["z"].counts))
json.dump({"replicas": strategy.num_replicas_in_sync, "epochs": run.epochs, "loss": run.history["loss"]},
          open(os.path.join(out, "result.json"), "w"))
